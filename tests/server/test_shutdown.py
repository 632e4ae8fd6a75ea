"""How streams and the server end, real etcd 3.5.1 vs etcd-py.

A client's half-close (it sends its requests, then closes its side) does not end a Watch: events keep coming until
the client cancels; LeaseKeepAlive answers what it got and ends with OK. SIGTERM / SIGINT with a watch open, a put
in flight and idle connections: the same exit (death by that signal), the same last log lines, no traceback, and
every acknowledged write is there after a restart.
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
import threading

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc
from tests.cli.verbdiff import Proc
from tests.server.servertools import Ctl

# etcd's Etcd.Close also stops its peer listener; etcd-py has none (it never runs raft with peers)
PEER_ONLY = {"stopping serving peer traffic", "stopped serving peer traffic"}


@pytest.fixture(scope="module")
def pair(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="stream-ends")
    try:
        yield real, ours
    finally:
        real.stop()
        ours.stop()


class Collector:
    """Reads a response stream on a thread: responses, then ('OK',) or (code, details)."""

    def __init__(self, call) -> None:
        self.call, self.items = call, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for resp in self.call:
                self.items.append(resp)
            self.items.append(("OK",))
        except grpc.RpcError as e:
            self.items.append((e.code().name, e.details()))

    def responses(self) -> list:
        return [r for r in self.items if not isinstance(r, tuple)]

    def end(self):
        self.thread.join(10)
        return self.items[-1] if self.items and isinstance(self.items[-1], tuple) else None


def _watch_after_half_close(endpoint: str) -> tuple[list, object]:
    with grpc.insecure_channel(endpoint) as ch:
        call = pbg.WatchStub(ch).Watch(
            iter([pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"hc", prev_kv=True))])
        )  # one request, then the client's side is closed
        c = Collector(call)
        etcdproc.wait_until(lambda: len(c.responses()) == 1, what="the watch's created response")
        kv = pbg.KVStub(ch)
        for i in range(3):
            kv.Put(pb.PutRequest(key=b"hc", value=b"v%d" % i), timeout=10)
        # (the old bug: ended at once)
        etcdproc.wait_until(lambda: len(c.responses()) >= 4 or not c.thread.is_alive(), what="three events or the end")
        still_open = c.thread.is_alive()
        call.cancel()
        return [
            (r.created, [(e.type, e.kv.key, e.kv.value, e.prev_kv.value) for e in r.events]) for r in c.responses()
        ], (still_open, c.end())


def test_watch_keeps_delivering_after_half_close(pair):
    real, ours = (_watch_after_half_close(s.endpoint) for s in pair)
    assert ours == real
    events, (still_open, end) = ours
    assert len(events) == 4 and still_open and end == ("CANCELLED", "Locally cancelled by application!")


def _keepalive_after_half_close(endpoint: str) -> list:
    with grpc.insecure_channel(endpoint) as ch:
        lease = pbg.LeaseStub(ch)
        lid = lease.LeaseGrant(pb.LeaseGrantRequest(TTL=60), timeout=10).ID
        reqs = [pb.LeaseKeepAliveRequest(ID=lid), pb.LeaseKeepAliveRequest(ID=lid + 1)]
        c = Collector(lease.LeaseKeepAlive(iter(reqs), timeout=10))
        end = c.end()
        lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=lid), timeout=10)
        return [(r.ID - lid, r.TTL) for r in c.responses()] + [end]


def test_lease_keepalive_half_close(pair):
    """etcd answers every keep-alive it received, then ends the stream with OK at the client's half-close."""
    real, ours = (_keepalive_after_half_close(s.endpoint) for s in pair)
    assert ours == real == [(0, 60), (1, 0), ("OK",)]


# ---- signals ------------------------------------------------------------------------------------------------
class Writer:
    """Puts keys one after another until the server goes away; remembers what was acknowledged."""

    def __init__(self, endpoint: str, prefix: str) -> None:
        self.endpoint, self.prefix = endpoint, prefix
        self.acked: dict[bytes, bytes] = {}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with grpc.insecure_channel(self.endpoint) as ch:
            kv = pbg.KVStub(ch)
            i = 0
            while not self.stop_ev.is_set():
                key, value = f"{self.prefix}/{i:06d}".encode(), b"v%d" % i
                try:
                    kv.Put(pb.PutRequest(key=key, value=value), timeout=5)
                except grpc.RpcError:
                    return
                self.acked[key] = value
                i += 1

    def stop(self) -> None:
        self.stop_ev.set()
        self.thread.join(10)


def _stored(endpoint: str, prefix: str) -> dict[bytes, bytes]:
    with grpc.insecure_channel(endpoint) as ch:
        resp = pbg.KVStub(ch).Range(
            pb.RangeRequest(key=prefix.encode() + b"/", range_end=prefix.encode() + b"0"), timeout=10
        )
    return {kv.key: kv.value for kv in resp.kvs}


def _records(log_tail: str, ours: bool) -> list[dict]:
    """The JSON log lines. Real etcd's embedded grpc client also prints plain WARNING lines; etcd-py must print
    nothing but JSON lines (no traceback, no asyncio report)."""
    lines = log_tail.splitlines()
    if ours:
        assert all(line.startswith("{") for line in lines), log_tail
    return [json.loads(line) for line in lines if line.startswith("{")]


def _signal_both(real, ours, sig: int) -> list[list[dict]]:
    """Send `sig` to both servers, wait for them to exit, check the exit; the log records written since."""
    marks = [len(s.log()) for s in (real, ours)]
    for s in (real, ours):
        s.proc.send_signal(sig)
    rcs = [s.proc.wait(30) for s in (real, ours)]
    recs = [_records(s.log()[m:], ours=s is ours) for s, m in zip((real, ours), marks, strict=True)]
    assert rcs == [-sig, -sig], "etcd ends by the signal it got (the shell sees 128 + signal)"
    return recs


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_watch_and_put_in_flight(server_tmp, etcd_py_bin, sig):
    base = tempfile.mkdtemp(prefix="stop-", dir=server_tmp)
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"), etcd_py_bin, base, token=f"stop-{int(sig)}", extra=["--log-level", "info"]
    )
    watches: list[Proc] = []
    writers: list[Writer] = []
    idle: list[socket.socket] = []
    try:
        for s in (real, ours):
            assert Ctl(s.endpoint)("put", "k", "before")[0] == 0
        watches = [
            Proc([etcdproc.distro_bin("etcdctl"), f"--endpoints={s.endpoint}", "watch", "k", "--rev", "1"])
            for s in (real, ours)
        ]
        etcdproc.wait_until(
            lambda: all(b"before" in w.out for w in watches), timeout=20, what="both watches to be established"
        )
        writers = [Writer(s.endpoint, "inflight") for s in (real, ours)]
        etcdproc.wait_until(lambda: all(len(w.acked) >= 20 for w in writers), timeout=20, what="20 acked puts each")
        for s in (real, ours):
            http = socket.create_connection(("127.0.0.1", s.client_port))  # an HTTP keep-alive connection
            http.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert http.recv(4096).startswith(b"HTTP/1.1 200")
            idle.append(http)

        recs = _signal_both(real, ours, sig)
        for w in writers:
            w.stop()
        msgs = [[r["msg"] for r in rs if r["msg"] not in PEER_ONLY] for rs in recs]
        assert msgs[1] == msgs[0] and msgs[0][0] == "received signal; shutting down"
        assert msgs[0][-1] == "closed etcd server"
        got_signal = [rs[0]["signal"] for rs in recs]
        assert got_signal[1] == got_signal[0] == {signal.SIGTERM: "terminated", signal.SIGINT: "interrupt"}[sig]
        closing = [next(r for r in rs if r["msg"] == "closing etcd server") for rs in recs]
        assert sorted(closing[1]) == sorted(closing[0])
        for c, s in zip(closing, (real, ours), strict=True):
            assert (c["name"], c["data-dir"]) == ("twin", s.data_dir)
            assert c["advertise-client-urls"] == [s.client_url]

        assert all(w.p.poll() is None for w in watches), "etcdctl watch outlives the server (it retries)"
        outs = [w.finish().stdout for w in watches]
        assert outs[1] == outs[0] == b"PUT\nk\nbefore\n"

        ours.start()
        stored = _stored(ours.endpoint, "inflight")
        acked = writers[1].acked
        assert len(acked) >= 20 and all(stored.get(k) == v for k, v in acked.items()), "acknowledged put lost"
    finally:
        for w in writers:
            w.stop()
        for w in watches:
            w.finish()
        for sock in idle:
            sock.close()
        real.stop()
        ours.stop()
        etcdproc.cleanup_dir(base)


def test_repeated_stops_are_clean_and_durable(server_tmp, etcd_py_bin):
    """etcd-py alone, five stops in a row on the same data dir, each with a half-closed watch, a keep-alive
    stream, a writer and a connection that never sent a byte: no line but JSON log lines, death by the signal,
    every acknowledged put kept.

    (Real etcd, while a connection has not yet said which protocol it speaks, holds its shutdown for its request
    timeout, 7 s, then cancels the open watches; etcd-py ends everything at once, as real etcd does otherwise.)"""
    base = tempfile.mkdtemp(prefix="stops-", dir=server_tmp)
    srv = etcdproc.make_server(etcd_py_bin, base, name="stops", extra=["--log-level", "info"])
    acked: dict[bytes, bytes] = {}
    try:
        for rnd, sig in enumerate([signal.SIGTERM, signal.SIGINT] * 2 + [signal.SIGTERM]):
            srv.start()
            quiet = threading.Event()
            with grpc.insecure_channel(srv.endpoint) as ch:
                watch = Collector(
                    pbg.WatchStub(ch).Watch(
                        iter([pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"r", range_end=b"s"))])
                    )
                )
                lid = pbg.LeaseStub(ch).LeaseGrant(pb.LeaseGrantRequest(TTL=60), timeout=10).ID
                keep = Collector(pbg.LeaseStub(ch).LeaseKeepAlive(_one_then_quiet(lid, quiet)))
                writer = Writer(srv.endpoint, f"r{rnd}")
                idle = socket.create_connection(("127.0.0.1", srv.client_port))
                try:
                    etcdproc.wait_until(
                        lambda w=writer, c=watch, k=keep: (
                            len(w.acked) >= 10 and len(c.responses()) >= 1 and len(k.responses()) == 1
                        ),
                        timeout=20,
                        what="puts, a watch and a keep-alive in flight",
                    )
                    mark = len(srv.log())
                    srv.proc.send_signal(sig)
                    rc = srv.proc.wait(30)
                    recs = _records(srv.log()[mark:], ours=True)
                    assert rc == -sig
                finally:
                    writer.stop()
                    quiet.set()
                    idle.close()
                acked.update(writer.acked)
                assert watch.end()[0] == "UNAVAILABLE" and keep.end()[0] == "UNAVAILABLE"
            assert recs[-1]["msg"] == "closed etcd server"
        srv.start()
        stored = {}
        for rnd in range(5):
            stored.update(_stored(srv.endpoint, f"r{rnd}"))
        assert all(stored.get(k) == v for k, v in acked.items()), "acknowledged put lost"
        assert len(acked) >= 50
    finally:
        srv.stop()
        etcdproc.cleanup_dir(base)


def _one_then_quiet(lease_id: int, done: threading.Event):
    """A keep-alive request stream that sends one request, then stays open and silent until `done`."""
    yield pb.LeaseKeepAliveRequest(ID=lease_id)
    done.wait(60)
