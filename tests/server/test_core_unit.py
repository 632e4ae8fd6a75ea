"""The state machine alone (EtcdCore on a NullPersister), in process, as etcd's mvcc and lessor unit tests check it.

Every test drives the core through the same entry points the gRPC services use (put, delete_range, txn, compact,
lease_*) and checks revisions, versions, the key index's generations, lease attachment and revocation and the
events watchers receive. A recording persister keeps the backend changes, so a second core restored from them
(etcd's restore on start) and one replaying the logged entries must reach the same state and HashKV.
"""

from __future__ import annotations

import queue

import pytest

from etcdctl_py.proto.etcdserverpb import etcdserver_pb2
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.mvccpb import kv_pb2
from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.server import errors, kv_apply
from etcdctl_py.server.core import BOOT_INDEX, EtcdCore, NullPersister, ServerConfig
from etcdctl_py.server.identity import Member
from etcdctl_py.server.mvcc import Change
from etcdctl_py.server.persist import Backend
from etcdctl_py.server.watch_hub import WatchStream

PUT, DELETE = kv_pb2.Event.PUT, kv_pb2.Event.DELETE
MID = 0x8E9E05C52164694D


class RecordingPersister(NullPersister):
    """Keeps every appended entry and applies its backend changes to an in-memory db (persist.Backend)."""

    def __init__(self) -> None:
        self.backend = Backend()
        self.entries: list[raft_pb2.Entry] = []

    def append(self, index: int, entry: bytes, changes: list[Change], etype: int = 0) -> int:
        self.entries.append(raft_pb2.Entry(Type=etype, Term=2, Index=index, Data=entry))
        self.backend.apply(changes)
        return index


def new_core(persister: NullPersister | None = None, **cfg: int) -> EtcdCore:
    members = [Member(MID, "unit", ["http://127.0.0.1:2380"], ["http://127.0.0.1:2379"])]
    return EtcdCore(
        ServerConfig(name="unit", cluster_id=0xCDF818194E3A8C32, member_id=MID, members=members, **cfg), persister
    )


def put(core: EtcdCore, key: bytes, value: bytes = b"v", lease: int = 0, prev_kv: bool = False) -> pb.PutResponse:
    return core.put(pb.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv))


def get(core: EtcdCore, key: bytes, end: bytes = b"", rev: int = 0) -> pb.RangeResponse:
    return core.range(pb.RangeRequest(key=key, range_end=end, revision=rev))


def delete(core: EtcdCore, key: bytes, end: bytes = b"", prev_kv: bool = False) -> pb.DeleteRangeResponse:
    return core.delete_range(pb.DeleteRangeRequest(key=key, range_end=end, prev_kv=prev_kv))


def watch(core: EtcdCore, key: bytes, end: bytes = b"", **kw) -> WatchStream:
    stream = WatchStream(core.watch)
    core.watch.create(stream, pb.WatchCreateRequest(key=key, range_end=end, **kw))
    created = stream.out.get_nowait()
    assert created.created and not created.canceled
    return stream


def drain(stream: WatchStream) -> list[pb.WatchResponse]:
    out = []
    while True:
        try:
            out.append(stream.out.get_nowait())
        except queue.Empty:
            return out


def events(stream: WatchStream) -> list[tuple[int, bytes, int]]:
    return [(e.type, e.kv.key, e.kv.mod_revision) for r in drain(stream) for e in r.events]


# --------------------------------------------------------------------------- put / range / delete


def test_put_bumps_revision_and_version():
    core = new_core()
    assert core.store.current_rev == 1 and core.raft_index == BOOT_INDEX
    assert put(core, b"a").header.revision == 2
    r = put(core, b"a", b"v2", prev_kv=True)
    assert r.header.revision == 3 and r.prev_kv.value == b"v" and r.prev_kv.mod_revision == 2
    kv = get(core, b"a").kvs[0]
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 3, 2, b"v2")
    assert get(core, b"a", rev=2).kvs[0].value == b"v"  # history
    assert core.raft_index == core.applied_index == BOOT_INDEX + 2  # one log entry per request


def test_delete_tombstones_and_recreates_with_a_new_generation():
    core = new_core()
    put(core, b"k")
    put(core, b"k")
    d = delete(core, b"k", prev_kv=True)
    assert (d.deleted, d.header.revision, d.prev_kvs[0].version) == (1, 4, 2)
    assert get(core, b"k").count == 0
    nothing = delete(core, b"k")
    assert (nothing.deleted, nothing.header.revision) == (0, 4)  # no change, no new revision
    put(core, b"k", b"again")
    kv = get(core, b"k").kvs[0]
    assert (kv.create_revision, kv.version) == (5, 1)  # a new generation starts at version 1
    gens = core.store.index.items[b"k"].generations
    assert [g.revs for g in gens] == [[(2, 0), (3, 0), (4, 0)], [(5, 0)]]
    assert get(core, b"k", rev=3).kvs[0].version == 2 and get(core, b"k", rev=4).count == 0


def test_range_delete_counts_every_key_at_one_revision():
    core = new_core()
    for k in (b"p/1", b"p/2", b"p/3", b"q"):
        put(core, k)
    d = delete(core, b"p/", b"p0")
    assert (d.deleted, d.header.revision) == (3, 6)
    assert [kv.key for kv in get(core, b"\x00", b"\x00").kvs] == [b"q"]


def test_request_checks_come_before_the_log():
    core = new_core()
    index = core.raft_index
    with pytest.raises(errors.EtcdError) as e:
        put(core, b"")
    assert e.value is errors.EMPTY_KEY
    with pytest.raises(errors.EtcdError) as e:
        put(core, b"k", lease=12345)
    assert e.value is errors.LEASE_NOT_FOUND  # refused at apply: the entry still took its index
    assert core.raft_index == index + 1 and core.store.current_rev == 1


# --------------------------------------------------------------------------- txn


def test_txn_branches_share_one_revision():
    core = new_core()
    put(core, b"x", b"1")
    cmp = pb.Compare(key=b"x", target=pb.Compare.VALUE, result=pb.Compare.EQUAL, value=b"1")
    ops = [
        pb.RequestOp(request_put=pb.PutRequest(key=b"y", value=b"a")),
        pb.RequestOp(request_put=pb.PutRequest(key=b"z", value=b"b")),
        pb.RequestOp(request_range=pb.RangeRequest(key=b"y")),
    ]
    r = core.txn(
        pb.TxnRequest(
            compare=[cmp], success=ops, failure=[pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"x"))]
        )
    )
    assert r.succeeded and r.header.revision == 3
    assert r.responses[2].response_range.kvs[0].value == b"a"  # a txn reads its own writes
    assert get(core, b"y").kvs[0].mod_revision == get(core, b"z").kvs[0].mod_revision == 3
    cmp.value = b"2"
    r = core.txn(
        pb.TxnRequest(compare=[cmp], failure=[pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"x"))])
    )
    assert not r.succeeded and r.responses[0].response_delete_range.deleted == 1 and r.header.revision == 4


def test_read_only_txn_takes_no_revision_and_duplicates_are_refused():
    core = new_core()
    put(core, b"a")
    before = core.raft_index
    r = core.txn(pb.TxnRequest(success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"a"))]))
    assert r.header.revision == 2 and core.raft_index == before  # served without a log entry
    dup = pb.TxnRequest(
        success=[
            pb.RequestOp(request_put=pb.PutRequest(key=b"d")),
            pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"d")),
        ]
    )
    with pytest.raises(errors.EtcdError) as e:
        core.txn(dup)
    assert e.value is errors.DUPLICATE_KEY
    with pytest.raises(errors.EtcdError) as e:
        kv_apply.validate_txn(
            pb.TxnRequest(success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"k"))] * 3), max_ops=2
        )
    assert e.value is errors.TOO_MANY_OPS


# --------------------------------------------------------------------------- compaction


def test_compaction_drops_history_but_keeps_the_latest_revisions():
    core = new_core()
    put(core, b"a", b"1")  # rev 2
    put(core, b"a", b"2")  # rev 3
    put(core, b"b")  # rev 4
    delete(core, b"b")  # rev 5
    put(core, b"c")  # rev 6
    core.compact(pb.CompactionRequest(revision=5))
    for rev, err in ((4, errors.COMPACTED), (7, errors.FUTURE_REV)):
        with pytest.raises(errors.EtcdError) as e:
            get(core, b"a", rev=rev)
        assert e.value is err
    assert get(core, b"a", rev=5).kvs[0].value == b"2"
    assert b"b" not in core.store.index.items  # its tombstone was at or below the compaction: gone
    assert sorted(r for r in core.store.kv) == [(3, 0), (6, 0)]
    with pytest.raises(errors.EtcdError) as e:
        core.compact(pb.CompactionRequest(revision=5))
    assert e.value is errors.COMPACTED
    h1, cur, compact = core.store.hash_kv(0)
    assert (cur, compact) == (6, 5) and h1 == core.hash_kv(0).hash


def test_watch_on_a_compacted_revision_is_canceled():
    core = new_core()
    for i in range(4):
        put(core, b"w", str(i).encode())
    core.compact(pb.CompactionRequest(revision=4))
    stream = WatchStream(core.watch)
    core.watch.create(stream, pb.WatchCreateRequest(key=b"w", start_revision=2))
    created, canceled = drain(stream)
    assert created.created and canceled.canceled and canceled.compact_revision == 4


# --------------------------------------------------------------------------- leases


def test_lease_attach_and_revoke_deletes_its_keys():
    core = new_core()
    lid = core.lease_grant(pb.LeaseGrantRequest(ID=7, TTL=60)).ID
    put(core, b"l/1", lease=lid)
    put(core, b"l/2", lease=lid)
    put(core, b"l/2", b"unleased")  # re-put without the lease detaches it
    ttl = core.lease_time_to_live(pb.LeaseTimeToLiveRequest(ID=lid, keys=True))
    assert ttl.grantedTTL == 60 and list(ttl.keys) == [b"l/1"]
    assert [lease.ID for lease in core.lease_leases().leases] == [lid]
    stream = watch(core, b"l/", b"l0")
    core.lease_revoke(lid)
    assert events(stream) == [(DELETE, b"l/1", 5)]
    assert get(core, b"l/1").count == 0 and get(core, b"l/2").kvs[0].value == b"unleased"
    assert core.lease_time_to_live(pb.LeaseTimeToLiveRequest(ID=lid)).TTL == -1
    assert core.lease_keep_alive(lid).TTL == 0
    with pytest.raises(errors.EtcdError) as e:
        core.lease_revoke(lid)
    assert e.value is errors.LEASE_NOT_FOUND


def test_expired_leases_are_revoked_through_the_log():
    core = new_core()
    core.lease_grant(pb.LeaseGrantRequest(ID=9, TTL=5))
    put(core, b"e", lease=9)
    core.lessor.lookup(9).expiry = 0.0  # its TTL ran out
    index = core.raft_index
    core.expire_leases()
    assert core.lessor.lookup(9) is None and get(core, b"e").count == 0 and core.raft_index == index + 1


def test_min_ttl_and_keep_alive():
    core = new_core()
    r = core.lease_grant(pb.LeaseGrantRequest(TTL=1))
    assert r.ID > 0 and r.TTL == core.lessor.min_ttl  # etcd raises a short TTL to its minimum
    assert core.lease_keep_alive(r.ID).TTL == core.lessor.min_ttl


# --------------------------------------------------------------------------- watch


def test_watch_events_filters_and_prev_kv():
    core = new_core()
    everything = watch(core, b"k", b"l")
    no_put = watch(core, b"k", b"l", filters=[pb.WatchCreateRequest.NOPUT], prev_kv=True)
    put(core, b"k1", b"a")
    put(core, b"k1", b"b")
    put(core, b"other")
    delete(core, b"k1")
    assert events(everything) == [(PUT, b"k1", 2), (PUT, b"k1", 3), (DELETE, b"k1", 5)]
    [resp] = drain(no_put)
    assert [(e.type, e.prev_kv.value) for e in resp.events] == [(DELETE, b"b")]
    assert resp.header.revision == 5


def test_watch_from_history_then_live():
    core = new_core()
    put(core, b"h", b"1")
    put(core, b"h", b"2")
    stream = watch(core, b"h", start_revision=2)
    assert events(stream) == [(PUT, b"h", 2), (PUT, b"h", 3)]
    put(core, b"h", b"3")
    assert events(stream) == [(PUT, b"h", 4)]


def test_watch_fragments_follow_max_request_bytes():
    """etcd splits a fragmenting watcher's response at --max-request-bytes + 512 KiB (v3rpc's grpcOverheadBytes):
    with --max-request-bytes 64 KiB, twelve 60 KiB events caught up from history come in two parts."""
    core = new_core(max_request_bytes=64 * 1024)
    limit = 64 * 1024 + 512 * 1024
    for i in range(12):
        put(core, b"f/%02d" % i, b"x" * 60 * 1024)
    stream = WatchStream(core.watch)
    core.watch.create(stream, pb.WatchCreateRequest(key=b"f/", range_end=b"f0", start_revision=2, fragment=True))
    created, *parts = drain(stream)
    assert created.created
    assert [(len(p.events), p.fragment) for p in parts] == [(9, True), (3, False)]
    assert all(p.ByteSize() < limit for p in parts)
    assert [e.kv.mod_revision for p in parts for e in p.events] == list(range(2, 14))


# --------------------------------------------------------------------------- restore and replay


def _populate(core: EtcdCore) -> None:
    core.lease_grant(pb.LeaseGrantRequest(ID=42, TTL=100))
    put(core, b"a", b"1", lease=42)
    put(core, b"b", b"1")
    put(core, b"b", b"2")
    delete(core, b"b")
    put(core, b"c", b"1")
    core.compact(pb.CompactionRequest(revision=4))
    put(core, b"a", b"2", lease=42)
    core.alarm(pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=MID, alarm=pb.CORRUPT))


def _state(core: EtcdCore) -> tuple:
    kvs = [
        (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
        for kv in get(core, b"\x00", b"\x00").kvs
    ]
    lease = core.lease_time_to_live(pb.LeaseTimeToLiveRequest(ID=42, keys=True))
    return (
        kvs,
        core.store.current_rev,
        core.store.compact_main_rev,
        core.hash_kv(0).hash,
        list(lease.keys),
        lease.grantedTTL,
        core.alarms,
    )


def test_restore_from_the_backend_reaches_the_same_state():
    """etcd's restore on start: a core built from the db's buckets alone serves what the original served."""
    rec = RecordingPersister()
    original = new_core(rec)
    _populate(original)
    restored = new_core()
    restored.restore(rec.backend.buckets, None, [])
    restored.lessor.promote()  # as bootstrap does: the restored leases' clocks start
    assert _state(restored) == _state(original)
    assert [g.revs for g in restored.store.index.items[b"a"].generations] == [[(2, 0), (7, 0)]]
    with pytest.raises(errors.EtcdError) as e:
        get(restored, b"a", rev=3)
    assert e.value is errors.COMPACTED


def test_replaying_the_log_reaches_the_same_state():
    """Every entry is applied the same way when it is replayed, so a core replaying the WAL rebuilds the state."""
    rec = RecordingPersister()
    original = new_core(rec)
    _populate(original)
    replayed = new_core()
    replayed.set_log_index(BOOT_INDEX)
    changes = [replayed.replay_entry(e) for e in rec.entries]
    assert all(c is not None for c in changes)
    assert _state(replayed) == _state(original)
    assert replayed.raft_index == original.raft_index
    # raft's empty entries and etcd's v2 requests only move the index
    assert replayed.replay_entry(raft_pb2.Entry(Type=raft_pb2.EntryNormal, Index=100)) is None
    v2 = etcdserver_pb2.Request(ID=1, Method="PUT", Path="/0/version", Val="3.5.0").SerializeToString()
    assert replayed.replay_entry(raft_pb2.Entry(Type=raft_pb2.EntryNormal, Index=101, Data=v2)) is None
    assert replayed.raft_index == 101 and _state(replayed) == _state(original)
