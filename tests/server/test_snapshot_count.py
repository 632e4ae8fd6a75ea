"""--snapshot-count: etcd-py writes etcd .snap files (v2 store with the membership) plus WAL snapshot
records, keeps --max-snapshots of them, restarts on its own data dir, and real etcd 3.5.1 starts
on that data dir (WAL opened at the snapshot) with the same keys, revision and membership."""

from __future__ import annotations

import os

from etcdctl_py.storage import snap as snapfmt
from tests import etcdproc
from tests.server.servertools import Ctl


def _snaps(snap_dir: str) -> list[str]:
    return sorted(n for n in os.listdir(snap_dir) if n.endswith(".snap"))


def _settled(snap_dir: str) -> bool:
    """Two snapshot files (<term>-<index>.snap, hex) and the newest past index 100: the last purge is done."""
    snaps = _snaps(snap_dir)
    return len(snaps) == 2 and int(snaps[-1].split("-")[1].split(".")[0], 16) > 100


def test_snapshots_written_purged_and_readable_by_etcd(tmp_path, etcd_py_bin):
    ours = etcdproc.make_server(
        etcd_py_bin, str(tmp_path), name="snapc", extra=["--snapshot-count", "25", "--max-snapshots", "2"]
    )
    ours.start()
    ctl = Ctl(ours.endpoint)
    for i in range(120):
        assert ctl("put", f"k{i:03d}", str(i))[0] == 0
    snap_dir = os.path.join(ours.data_dir, "member", "snap")
    etcdproc.wait_until(lambda: _settled(snap_dir), 10, "a snapshot past index 100 and older ones purged")
    snaps = _snaps(snap_dir)
    assert len(snaps) == 2
    newest = snapfmt.read_snap(os.path.join(snap_dir, snaps[-1]))
    assert newest.metadata.index > 100 and newest.metadata.term == 2
    assert b"/0/members" in newest.data
    want = ctl("get", "k", "--prefix", "-w", "json")[1].split('"kvs"')[1]
    rev = ctl("get", "k000", "-w", "json")[1].split('"revision":')[1].split(",")[0]
    ours.stop()
    ours.start()
    assert Ctl(ours.endpoint)("get", "k", "--prefix", "-w", "json")[1].split('"kvs"')[1] == want
    ours.stop()
    real = etcdproc.EtcdServer(
        name="snapc",
        data_dir=ours.data_dir,
        client_port=ours.client_port,
        peer_port=ours.peer_port,
        argv=[etcdproc.distro_bin("etcd"), *ours.argv[1:]],
        log_path=str(tmp_path / "real-snapc.log"),
    )
    real.start()
    try:
        rctl = Ctl(real.endpoint)
        out = rctl("get", "k", "--prefix", "-w", "json")[1]
        assert out.split('"kvs"')[1] == want
        assert f'"revision":{rev},' in out
        rc, members, _ = rctl("member", "list")
        assert rc == 0 and ", started, snapc, " in members
    finally:
        real.stop()
