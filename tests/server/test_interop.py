"""Interop with the real tools: etcdutl restores an etcd-py snapshot and real etcd serves it;
real etcd 3.5.1 starts on an etcd-py data dir after a clean stop (the migration path)."""

from __future__ import annotations

import json
import os
import subprocess

from tests import etcdproc
from tests.server.servertools import Ctl


def _fill(ctl: Ctl) -> None:
    for i in range(20):
        assert ctl("put", f"mig/{i}", f"value-{i}")[0] == 0
    assert ctl("del", "mig/3")[0] == 0
    assert ctl("put", "mig/0", "changed")[0] == 0
    assert ctl("compaction", "5")[0] == 0


def _dump(ctl: Ctl) -> dict:
    rc, out, err = ctl("get", "mig/", "--prefix", "-w", "json")
    assert rc == 0, err
    d = json.loads(out)
    return {"kvs": d["kvs"], "revision": d["header"]["revision"]}


def test_snapshot_restore_by_etcdutl(tmp_path, etcd_py_bin):
    ours = etcdproc.make_server(etcd_py_bin, str(tmp_path), name="snapsrc")
    ours.start()
    try:
        ctl = Ctl(ours.endpoint)
        _fill(ctl)
        want = _dump(ctl)
        snap = str(tmp_path / "s.db")
        rc, out, err = ctl("snapshot", "save", snap)
        assert rc == 0, err
        assert out.startswith("Snapshot saved at")
    finally:
        ours.stop()
    restored = str(tmp_path / "restored")
    p = subprocess.run(
        [etcdproc.distro_bin("etcdutl"), "snapshot", "restore", snap, "--data-dir", restored],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    real = etcdproc.make_server(etcdproc.distro_bin("etcd"), str(tmp_path), name="default", data_dir=restored)
    # etcdutl restores with default flags: the server must use the default peer URL/name
    real.argv = [
        etcdproc.distro_bin("etcd"),
        "--data-dir",
        restored,
        "--listen-client-urls",
        f"http://127.0.0.1:{real.client_port}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{real.client_port}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{real.peer_port}",
        "--log-level",
        "error",
    ]
    real.start()
    try:
        got = _dump(Ctl(real.endpoint))
        assert got == want
        rc, out, _ = Ctl(real.endpoint)("get", "mig/0", "--rev", "4")
        assert "compacted" in _ + out
    finally:
        real.stop()


def test_real_etcd_starts_on_etcd_py_data_dir(tmp_path, etcd_py_bin):
    ours = etcdproc.make_server(etcd_py_bin, str(tmp_path), name="mig")
    ours.start()
    ctl = Ctl(ours.endpoint)
    _fill(ctl)
    want = _dump(ctl)
    rc, hash_ours, _ = ctl("endpoint", "hashkv", "-w", "json")
    ours.stop()  # clean stop (SIGTERM)
    for sub in ("", "member", "member/wal", "member/snap"):  # etcd's private dir mode, or real etcd warns
        assert os.stat(os.path.join(ours.data_dir, sub)).st_mode & 0o777 == 0o700, sub
    real = etcdproc.EtcdServer(
        name="mig",
        data_dir=ours.data_dir,
        client_port=ours.client_port,
        peer_port=ours.peer_port,
        argv=[etcdproc.distro_bin("etcd"), *ours.argv[1:]],
        log_path=str(tmp_path / "real-mig.log"),
    )
    real.start()
    try:
        rctl = Ctl(real.endpoint)
        assert _dump(rctl) == want
        rc, hash_real, _ = rctl("endpoint", "hashkv", "-w", "json")
        assert json.loads(hash_real)[0]["HashKV"]["hash"] == json.loads(hash_ours)[0]["HashKV"]["hash"]
        rc, out, err = rctl("put", "mig/new", "x", "-w", "json")
        assert rc == 0, err
        assert json.loads(out)["header"]["revision"] == want["revision"] + 1
    finally:
        real.stop()


def _wal_terms(data_dir: str) -> list[int]:
    from etcdctl_py.storage.wal import read_wal

    wal = read_wal(os.path.join(data_dir, "member", "wal"), require_snapshot=False, repair=True)
    return [e.Term for e in wal.entries] + [wal.hard_state.term]


def test_round_trip_real_etcd_then_etcd_py_then_real_etcd(tmp_path, etcd_py_bin):
    """Real etcd restarted a few times has moved to a later raft term; etcd-py continuing that data dir must not
    write entries with an older term (raft's log terms never go down), and real etcd must start on it again."""
    real_bin = etcdproc.distro_bin("etcd")
    real = etcdproc.make_server(real_bin, str(tmp_path), name="trip")
    real.start()
    assert Ctl(real.endpoint)("put", "trip/a", "1")[0] == 0
    for _ in range(2):  # each restart of a one-member etcd is a new election: term + 1
        real.stop()
        real.start()
    rctl = Ctl(real.endpoint)
    assert rctl("put", "trip/b", "2")[0] == 0
    term_real = json.loads(rctl("endpoint", "status", "-w", "json")[1])[0]["Status"]["raftTerm"]
    real.stop()
    assert term_real >= 4
    ours = etcdproc.EtcdServer(
        name="trip",
        data_dir=real.data_dir,
        client_port=real.client_port,
        peer_port=real.peer_port,
        argv=[etcd_py_bin, *real.argv[1:]],
        log_path=str(tmp_path / "ours-trip.log"),
    )
    ours.start()
    try:
        octl = Ctl(ours.endpoint)
        rc, out, err = octl("put", "trip/c", "3", "-w", "json")
        assert rc == 0, err
        assert json.loads(out)["header"]["raft_term"] >= term_real
    finally:
        ours.stop()
    terms = _wal_terms(real.data_dir)
    assert terms == sorted(terms) and terms[-1] >= term_real, terms
    real.start()
    try:
        rc, out, err = Ctl(real.endpoint)("get", "trip/", "--prefix", "--print-value-only")
        assert (rc, out) == (0, "1\n2\n3\n"), err
    finally:
        real.stop()
