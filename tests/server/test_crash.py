"""Crash safety: acknowledged writes survive SIGKILL; revisions are never reused after restart."""

from __future__ import annotations

import grpc

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc


def _write_until_error(endpoint: str, round_no: int, acked: dict[bytes, tuple[bytes, int]], n: int) -> None:
    ch = grpc.insecure_channel(endpoint)
    kv = pbg.KVStub(ch)
    try:
        for i in range(n):
            k = f"crash/{round_no}/{i}".encode()
            v = f"v{round_no}-{i}".encode()
            resp = kv.Put(pb.PutRequest(key=k, value=v), timeout=5)
            acked[k] = (v, resp.header.revision)
    finally:
        ch.close()


def test_sigkill_rounds(tmp_path, etcd_py_bin):
    srv = etcdproc.make_server(etcd_py_bin, str(tmp_path), name="crash")
    acked: dict[bytes, tuple[bytes, int]] = {}
    revs_seen: set[int] = set()
    import threading
    import time

    try:
        for rnd in range(20):
            srv.start()
            t = threading.Thread(target=lambda rnd=rnd: _safe(_write_until_error, srv.endpoint, rnd, acked, 10_000))
            t.start()
            time.sleep(0.25)  # deliberate: the writer runs a while before the crash
            srv.kill()  # SIGKILL while the writer is mid-stream
            t.join()
        srv.start()
        ch = grpc.insecure_channel(srv.endpoint)
        kv = pbg.KVStub(ch)
        resp = kv.Range(pb.RangeRequest(key=b"crash/", range_end=b"crash0"), timeout=10)
        got = {x.key: (x.value, x.mod_revision) for x in resp.kvs}
        ch.close()
        missing = [k for k in acked if k not in got]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
        for k, (v, rev) in acked.items():
            assert got[k] == (v, rev), (k, got[k], (v, rev))
        for _, rev in got.values():
            assert rev not in revs_seen, f"revision {rev} reused"
            revs_seen.add(rev)
        assert len(acked) > 20
    finally:
        srv.stop()


def _safe(fn, *args) -> None:
    try:
        fn(*args)
    except grpc.RpcError:
        pass
