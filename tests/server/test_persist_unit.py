"""The persister on a real data dir, in process: the WAL it writes is read back with storage/wal.py (the one codec),
a record a crash cut short is overwritten on the next start, and close() racing proposals acknowledges nothing
that is not durable and never hits a storage fault (the persister's `fatal` hook records instead of exiting)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.server import errors
from etcdctl_py.server.bootstrap import snapshot_v2_store
from etcdctl_py.server.core import EtcdCore, ServerConfig
from etcdctl_py.server.identity import Member
from etcdctl_py.server.persist import Persister
from etcdctl_py.storage import wal as walfmt
from tests import etcdproc

MID, CID = 0x8E9E05C52164694D, 0xCDF818194E3A8C32


@pytest.fixture
def data_dir(tmp_path_factory) -> Iterator[str]:
    with etcdproc.scratch_dir(tmp_path_factory, "persist") as d:
        yield str(d / "data")


class Faults(list):
    def __call__(self, msg: str, **fields: object) -> None:
        self.append((msg, fields))


def serve(data_dir: str, faults: Faults) -> EtcdCore:
    """A core on a persister, started like bootstrap.open_core does (without flags or auth)."""
    persister = Persister(data_dir)
    persister.fatal = faults
    members = [Member(MID, "unit", ["http://127.0.0.1:2380"], ["http://127.0.0.1:2379"])]
    core = EtcdCore(ServerConfig(name="unit", cluster_id=CID, member_id=MID, members=members), persister)
    if persister.exists():
        rec = persister.recover()
        core.restore(rec.buckets, None, rec.applied_conf_changes)
        core.set_log_index(max(rec.consistent_index, rec.last_index))
        for e in rec.entries:
            changes = core.replay_entry(e)
            if changes is not None:
                persister.replayed(e.Index, changes)
        persister.commit_replayed(core.lock)
    else:
        core.set_log_index(persister.bootstrap(MID, CID, members, ["http://127.0.0.1:2379"], core.idgen))
    persister.start(core.lock, lambda: snapshot_v2_store(core))
    return core


def stop(core: EtcdCore) -> None:
    with core.lock:
        core.stopped.set()
    core.persister.close()


def wal_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "member", "wal")


def test_wal_reads_back_and_a_torn_tail_is_overwritten(data_dir):
    faults = Faults()
    core = serve(data_dir, faults)
    for i in range(5):
        core.put(pb.PutRequest(key=b"k%d" % i, value=b"v"))
    stop(core)
    got = walfmt.read_wal(wal_dir(data_dir), require_snapshot=False)  # strict: every CRC checks
    assert [e.Index for e in got.entries] == list(range(1, 10)) and got.hard_state.commit == 9
    # a crash in the middle of the next record: a frame whose length promises more than was written
    tail = got.tail
    with open(tail.path, "r+b") as f:
        f.seek(tail.offset)
        f.write(walfmt.encode_frame(b"\x08\x02\x10\x01\x1a\x40" + b"x" * 40)[:30])
    with pytest.raises(walfmt.WALError, match="crc mismatch|cannot decode|torn"):
        walfmt.read_wal(wal_dir(data_dir), require_snapshot=False)
    core = serve(data_dir, faults)
    assert core.raft_index == 9 and core.range(pb.RangeRequest(key=b"k4")).kvs[0].value == b"v"
    core.put(pb.PutRequest(key=b"after", value=b"repair"))
    stop(core)
    got = walfmt.read_wal(wal_dir(data_dir), require_snapshot=False)
    assert [e.Index for e in got.entries] == list(range(1, 11)) and not faults


def test_close_racing_proposals_loses_no_acknowledged_write(data_dir):
    faults = Faults()
    core = serve(data_dir, faults)
    acked: list[bytes] = []
    refused: list[errors.EtcdError] = []
    started = threading.Barrier(9)

    def writer(n: int) -> None:
        started.wait()
        for i in range(200):
            key = b"w%d/%03d" % (n, i)
            try:
                core.put(pb.PutRequest(key=key, value=key))
            except errors.EtcdError as e:
                refused.append(e)
                return
            acked.append(key)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    started.wait()
    while len(acked) < 50:
        threading.Event().wait(0.001)
    stop(core)  # no handler drain first: close() itself must be safe against the waits still running
    for t in threads:
        t.join()
    assert not faults, faults
    assert refused and all(e is errors.STOPPED for e in refused)
    core = serve(data_dir, faults)
    try:
        missing = [k for k in acked if not core.range(pb.RangeRequest(key=k)).kvs]
        assert not missing
    finally:
        stop(core)
