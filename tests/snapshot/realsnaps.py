"""Snapshots saved from a real etcd 3.5.1, built once per test session and shared.

One real server goes through stages; after each, real `etcdctl snapshot save` writes a file:
  small.db      a few keys, an overwrite, a delete (tombstone), a 2-op txn (sub revision 1), a lease key
  compacted.db  + 300 keys and a compaction
  big.db        + ~20k keys in txns, values of 5 KB / 40 KB / 600 KB (overflow pages), deletes
  auth.db       + a user, a role and auth enabled (saved with --user root:…)
  live.db       the server's own member/snap/db after it stopped (no sha256 trailer, bigger file)
  datadir/      that server's whole stopped data dir (name "snapsrc"; copy it before use)
Keys are written over gRPC with our proto stubs to the real server (fast); everything else uses
the real etcdctl.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests import etcdproc

NAMES = ("small", "compacted", "big", "auth", "live")
ROOT_PW = "rootpw"


def _ctl(srv: etcdproc.EtcdServer, *args: str, user: bool = False) -> str:
    argv = [etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, *args]
    if user:
        argv[1:1] = ["--user", f"root:{ROOT_PW}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"etcdctl {args}: {r.stderr}")
    return r.stdout


def build(base: Path) -> dict[str, Path]:
    """Create (once) and return the snapshot files under base (plus "datadir")."""
    base.mkdir(parents=True, exist_ok=True)
    out = {n: base / f"{n}.db" for n in NAMES}
    out["datadir"] = base / "datadir"
    if (base / "done").exists():
        return out
    import grpc

    from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
    from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as stubs

    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), str(base), name="snapsrc")
    srv.start()
    try:
        ch = grpc.insecure_channel(srv.endpoint)
        kv = stubs.KVStub(ch)
        lease = stubs.LeaseStub(ch)

        def put(k: bytes, v: bytes, lease_id: int = 0):
            return kv.Put(pb.PutRequest(key=k, value=v, lease=lease_id), timeout=10)

        def txn_puts(items):
            ops = [pb.RequestOp(request_put=pb.PutRequest(key=k, value=v)) for k, v in items]
            return kv.Txn(pb.TxnRequest(success=ops), timeout=30)

        # small
        put(b"foo", b"bar")
        put(b"foo", b"bar2")
        put(b"gone", b"x")
        kv.DeleteRange(pb.DeleteRangeRequest(key=b"gone"), timeout=10)
        txn_puts([(b"t1", b"a"), (b"t2", b"b")])
        lid = lease.LeaseGrant(pb.LeaseGrantRequest(TTL=3600), timeout=10).ID
        put(b"leased", b"v", lid)
        put("ключ/é".encode(), b"\xff\xfe\x00bin")
        _ctl(srv, "snapshot", "save", str(out["small"]))
        # compacted
        for i in range(3):
            txn_puts([(b"c/%04d" % (j + 100 * i), b"value-%d" % j) for j in range(100)])
        rev = put(b"c/last", b"1").header.revision
        kv.Compact(pb.CompactionRequest(revision=rev - 2, physical=True), timeout=30)
        _ctl(srv, "snapshot", "save", str(out["compacted"]))
        # big
        filler = b"0123456789abcdef" * 6
        for i in range(200):
            txn_puts([(b"big/%06d" % (i * 100 + j), filler + b"%d" % j) for j in range(100)])
        put(b"huge/5k", os.urandom(5000))
        put(b"huge/40k", os.urandom(40_000))
        put(b"huge/600k", os.urandom(600_000))
        for i in range(0, 500, 7):
            kv.DeleteRange(pb.DeleteRangeRequest(key=b"big/%06d" % i), timeout=10)
        _ctl(srv, "snapshot", "save", str(out["big"]))
        # auth
        _ctl(srv, "user", "add", f"root:{ROOT_PW}")
        _ctl(srv, "role", "add", "reader")
        _ctl(srv, "role", "grant-permission", "reader", "read", "big/", "--prefix=true")
        _ctl(srv, "user", "add", "alice:alicepw")
        _ctl(srv, "user", "grant-role", "alice", "reader")
        _ctl(srv, "auth", "enable")
        _ctl(srv, "snapshot", "save", str(out["auth"]), user=True)
        ch.close()
    finally:
        srv.stop()
    shutil.copyfile(os.path.join(srv.data_dir, "member", "snap", "db"), out["live"])
    shutil.copytree(srv.data_dir, base / "datadir")
    shutil.rmtree(srv.data_dir, ignore_errors=True)
    (base / "done").write_text("ok\n")
    return out
