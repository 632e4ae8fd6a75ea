#!/bin/sh
# Start or stop the docker daemon that tests/cluster uses (three etcd members in docker-compose).
#
#   tests/cluster/dockerd.sh start   # starts dockerd in the background, waits for `docker info`, records its pid
#   tests/cluster/dockerd.sh stop    # stops exactly that dockerd (by the recorded pid)
#
# The daemon runs without iptables, IP forwarding or a bridge: the etcd members use the host network and listen on
# distinct 127.0.0.1 ports, so nothing is routed and no host name is ever resolved.
set -eu

STATE_DIR="${ETCDCTL_PY_DOCKERD_DIR:-/tmp/etcdctl-py-dockerd}"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="$STATE_DIR/dockerd.log"

start() {
    mkdir -p "$STATE_DIR"
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "dockerd already running (pid $(cat "$PIDFILE"))"
        return 0
    fi
    if docker info >/dev/null 2>&1; then
        echo "a docker daemon is already answering; using it (not ours to stop)"
        return 0
    fi
    nohup dockerd --iptables=false --ip-forward=false --bridge=none >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    i=0
    while ! docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 120 ] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            echo "dockerd did not come up; last log lines:" >&2
            tail -20 "$LOG" >&2 || true
            return 1
        fi
        sleep 0.5
    done
    echo "dockerd running (pid $(cat "$PIDFILE"))"
}

stop() {
    [ -f "$PIDFILE" ] || { echo "no dockerd pid recorded"; return 0; }
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 60 ]; do
            i=$((i + 1))
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$PIDFILE"
    echo "dockerd stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
