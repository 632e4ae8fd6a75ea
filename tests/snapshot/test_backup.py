"""`etcdutl backup`: byte-for-byte against real etcdutl 3.5.1 (same dummy-member ID), and real etcd starting on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as stubs
from etcdctl_py.snapshot import backup as bk
from etcdctl_py.storage import snap, wal
from tests import etcdproc


@pytest.fixture(scope="module")
def stopped_member(tmp_path_factory) -> Iterator[Path]:
    """A stopped etcd 3.5.1 data dir with two .snap files and WAL entries after the newest one."""
    with etcdproc.scratch_dir(tmp_path_factory, "backupsrc") as base:
        srv = etcdproc.make_server(
            etcdproc.distro_bin("etcd"), str(base), name="bsrc", extra=["--snapshot-count", "50"]
        )
        srv.start()
        try:
            ch = grpc.insecure_channel(srv.endpoint)
            kv = stubs.KVStub(ch)
            for i in range(130):
                kv.Put(pb.PutRequest(key=b"k%03d" % i, value=b"v%d" % i), timeout=10)
            ch.close()
        finally:
            srv.stop()
        yield Path(srv.data_dir)


def etcdutl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([etcdproc.distro_bin("etcdutl"), *args], capture_output=True, text=True, timeout=60)


def _status(db: Path) -> dict:
    r = etcdutl("snapshot", "status", str(db), "-w", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("with_v3", [True, False])
def test_same_bytes_as_etcdutl(stopped_member, tmp_path, with_v3):
    r = etcdutl(
        "backup",
        "--data-dir",
        str(stopped_member),
        "--backup-dir",
        str(tmp_path / "theirs"),
        f"--with-v3={str(with_v3).lower()}",
    )
    assert r.returncode == 0, r.stderr
    theirs = tmp_path / "theirs" / "member"
    tsnap = snap.load_newest(str(theirs / "snap"))
    node_id = tsnap.metadata.conf_state.voters[0]
    res = bk.backup(str(stopped_member), str(tmp_path / "ours"), with_v3=with_v3, now_ms=(node_id - 1) >> 8)
    assert res.node_id == node_id
    ours = tmp_path / "ours" / "member"
    names = sorted(os.listdir(theirs / "snap"))
    assert sorted(os.listdir(ours / "snap")) == names
    for n in names:
        if n.endswith(".snap"):
            assert (ours / "snap" / n).read_bytes() == (theirs / "snap" / n).read_bytes()
    wt = (theirs / "wal" / "0000000000000000-0000000000000000.wal").read_bytes()
    wo = (ours / "wal" / "0000000000000000-0000000000000000.wal").read_bytes()
    assert wo == wt
    st_o, st_t = _status(ours / "snap" / "db"), _status(theirs / "snap" / "db")
    assert (st_o["hash"], st_o["revision"], st_o["totalKey"]) == (st_t["hash"], st_t["revision"], st_t["totalKey"])
    got = wal.read_wal(str(ours / "wal"), tsnap.metadata.index, tsnap.metadata.term)
    orig = wal.read_wal(str(stopped_member / "member" / "wal"), tsnap.metadata.index, tsnap.metadata.term)
    assert got.metadata == orig.metadata and got.hard_state == orig.hard_state
    assert [e.Index for e in got.entries] == [e.Index for e in orig.entries]
    if not with_v3:
        assert all(not e.Data for e in got.entries[1:])


def test_force_new_cluster_starts(stopped_member, tmp_path):
    bk.backup(str(stopped_member), str(tmp_path / "b"))
    srv = etcdproc.make_server(
        etcdproc.distro_bin("etcd"),
        str(tmp_path),
        name="restored",
        data_dir=str(tmp_path / "b"),
        extra=["--force-new-cluster"],
    )
    srv.start()
    try:
        ch = grpc.insecure_channel(srv.endpoint)
        kv = stubs.KVStub(ch)
        resp = kv.Range(pb.RangeRequest(key=b"k", range_end=b"l"), timeout=10)
        assert [x.key for x in resp.kvs] == [b"k%03d" % i for i in range(130)]
        assert kv.Put(pb.PutRequest(key=b"new", value=b"1"), timeout=10).header.revision == resp.header.revision + 1
        members = stubs.ClusterStub(ch).MemberList(pb.MemberListRequest(), timeout=10).members
        assert len(members) == 1
        ch.close()
    finally:
        srv.stop()


def test_refuses_existing_and_leaves_nothing_on_failure(stopped_member, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(bk.BackupError):
        bk.backup(str(stopped_member), str(tmp_path / "full"))
    assert os.listdir(tmp_path / "full") == ["x"]
    with pytest.raises(bk.BackupError, match="saveSnap"):
        bk.backup(str(tmp_path / "nonexistent"), str(tmp_path / "b"))
    assert sorted(os.listdir(tmp_path)) == ["full"]


def test_cli_failure_is_one_fatal_line(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdctl_py.cli.etcdutl",
            "backup",
            "--data-dir",
            str(tmp_path / "nope"),
            "--backup-dir",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert "\tfatal\tetcdutl/backup_command.go:154\tsaveSnap(Snapshoter.Load) failed\t" in line
    assert f'"error": "open {tmp_path}/nope/member/snap: no such file or directory"' in line
    assert not (tmp_path / "b").exists()


def test_entry_classification():
    assert bk.classify(b"") == ("plain", None)
    v2 = b"\x12\x03PUT\x1a\x1e/0/members/8e9e05c5/attributes"
    assert bk.classify(b"\x12" + bytes([len(v2)]) + v2) == ("v2", ("PUT", "/0/members/8e9e05c5/attributes"))
    assert bk.classify(b"\xa2\x06\x02\x08\x01")[0] == "v3"  # header = field 100
    assert bk.classify(b"\xaa\x51\x00")[0] == "attr_set"  # cluster_member_attr_set = field 1301
    assert bk.new_ids(0x1234567890) == ((0x1234567890 << 8) + 1, (0x1234567890 << 8) + 2)


def test_backup_wal_dir(stopped_member, tmp_path):
    bk.backup(str(stopped_member), str(tmp_path / "b"), backup_wal_dir=str(tmp_path / "w"))
    assert sorted(os.listdir(tmp_path)) == ["b", "w"]
    assert os.listdir(tmp_path / "w") == ["0000000000000000-0000000000000000.wal"]
    assert sorted(os.listdir(tmp_path / "b" / "member")) == ["snap"]
    with pytest.raises(bk.BackupError, match="wal.Create failed"):
        bk.backup(str(stopped_member), str(tmp_path / "b2"), backup_wal_dir=str(tmp_path / "w"))
    assert sorted(os.listdir(tmp_path)) == ["b", "w"]
