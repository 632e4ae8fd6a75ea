"""The single-member etcd state machine: every mutation is a raft-log entry applied in order.

A request becomes an etcdserverpb.InternalRaftRequest with the next raft index (term 2, like
a freshly elected etcd), is applied to the MVCC store / lessor / alarms / auth, handed to the
persister (WAL append; acknowledged only once fsynced) and then answered. Replaying the same
entries after a restart rebuilds the same state.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # protobuf ships no stubs

from etcdctl_py.proto.etcdserverpb import raft_internal_pb2 as ri
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.leasepb import lease_pb2
from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.server import errors, kv_apply
from etcdctl_py.server.auth_store import AuthInfo, AuthStore
from etcdctl_py.server.identity import Member
from etcdctl_py.server.lessor import Lessor
from etcdctl_py.server.membership import Membership, MembershipError, SnapMembership
from etcdctl_py.server.mvcc import Change, MVCCStore, bytes_to_rev
from etcdctl_py.server.persist import Backend, Persister
from etcdctl_py.server.watch_hub import WatchHub

RAFT_TERM = 2
SERVER_VERSION = "3.5.1"
CLUSTER_VERSION = "3.5.0"
# A fresh etcd has applied 4 entries: its ConfChange, the leader's empty entry, the member
# attribute publish and the cluster version.
BOOT_INDEX = 4
# etcd's default --max-request-bytes (embed.DefaultMaxRequestBytes) and the backend quota's cost of a request
# beyond its keys and values (etcdserver/quota.go)
DEFAULT_MAX_REQUEST_BYTES = 1536 * 1024
# v3rpc's grpcOverheadBytes: gRPC's receive limit and the size at which watch responses are fragmented are
# --max-request-bytes plus this much
GRPC_OVERHEAD_BYTES = 512 * 1024
QUOTA_KV_OVERHEAD = 256
QUOTA_LEASE_OVERHEAD = 64

_R = TypeVar("_R")  # what a serialized read returns


@dataclass
class ServerConfig:
    name: str = "default"
    data_dir: str = "default.etcd"
    cluster_id: int = 0
    member_id: int = 0
    members: list[Member] = field(default_factory=list)
    quota_backend_bytes: int = 2 * 1024 * 1024 * 1024  # the quota in force: bootstrap resolves the flag (config.py)
    max_txn_ops: int = kv_apply.MAX_TXN_OPS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES


class NullPersister:
    """Memory only (tests of the state machine): the backend is kept in memory, nothing is written. The WAL
    persister (persist.Persister) has the same interface."""

    def __init__(self) -> None:
        self.backend = Backend()

    def append(self, index: int, entry: bytes, changes: list[Change], etype: int = 0) -> int:
        self.backend.apply(changes)
        return index

    def wait(self, seq: int) -> None:
        return None

    def db_size(self) -> int:
        return 0

    def db_size_in_use(self) -> int:
        return 0

    def backend_hash(self) -> int:
        return self.backend.hash()

    def defragment(self) -> None:
        return None  # no db file to rewrite

    def snapshot_image(self) -> bytes:
        return self.backend.image()

    def close(self) -> None:
        return None


class IdGen:
    """etcd's idutil generator: 16-bit member prefix, 40 bits of Unix ms, 8-bit counter."""

    def __init__(self, member_id: int) -> None:
        self.prefix = (member_id & 0xFFFF) << 48
        self.suffix = (int(time.time() * 1000) & ((1 << 40) - 1)) << 8
        self.lock = threading.Lock()

    def next(self) -> int:
        with self.lock:
            self.suffix += 1
            return self.prefix | (self.suffix & ((1 << 48) - 1))


class EtcdCore:
    def __init__(self, cfg: ServerConfig, persister: Persister | NullPersister | None = None) -> None:
        self.cfg = cfg
        self.store = MVCCStore()
        self.lock = self.store.lock
        self.lessor = Lessor()
        self.store.lessor = self.lessor
        self.persister: Persister | NullPersister = persister or NullPersister()
        self.raft_index = BOOT_INDEX
        self.applied_index = BOOT_INDEX
        self.alarms: list[tuple[int, pb.AlarmType]] = []  # (member id, alarm type)
        self.members = {m.id: m for m in cfg.members}
        # the one Membership over self.members (v3 Cluster service and /v2/members); its changes are logged here
        self.membership = Membership(self.members, self.lock, local_id=cfg.member_id)
        self.membership.conf_log = self.propose_conf_change
        self.idgen = IdGen(cfg.member_id)
        self.watch = WatchHub(self.store, self.header, cfg.max_request_bytes + GRPC_OVERHEAD_BYTES)
        self.auth: AuthStore | None = None  # set by bootstrap: it needs the core
        self.stopped = threading.Event()
        self.downgrade_enabled = False

    @property
    def raft_term(self) -> int:
        """The term etcd-py writes and reports: the persister's (never below what the data dir already holds)."""
        return getattr(self.persister, "term", RAFT_TERM)

    # ---- headers -----------------------------------------------------------------------
    def header(self, rev: int | None = None) -> pb.ResponseHeader:
        return pb.ResponseHeader(
            cluster_id=self.cfg.cluster_id,
            member_id=self.cfg.member_id,
            revision=self.store.current_rev if rev is None else rev,
            raft_term=self.raft_term,
        )

    def fill(self, h: pb.ResponseHeader) -> None:
        h.cluster_id = self.cfg.cluster_id
        h.member_id = self.cfg.member_id
        h.raft_term = self.raft_term
        if h.revision == 0:
            h.revision = self.store.current_rev

    # ---- the log -----------------------------------------------------------------------
    def propose(self, req: ri.InternalRaftRequest, ai=None):
        """Append req to the log, apply it, wait until durable, return the apply result.

        ai (an AuthInfo or None) goes into the entry header as etcd does, so permission checks
        happen at apply time and are replayed identically.
        """
        if self.stopped.is_set():
            raise errors.STOPPED
        req.header.ID = self.idgen.next()
        if ai is not None and not req.HasField("authenticate"):
            req.header.username = ai.username
            req.header.auth_revision = ai.revision
        entry = req.SerializeToString()
        if len(entry) > self.cfg.max_request_bytes:  # processInternalRaftRequestOnce: the whole entry counts
            raise errors.REQUEST_TOO_LARGE
        with self.lock:
            if self.stopped.is_set():  # checked again under the lock: nothing is appended once stop() holds it
                raise errors.STOPPED
            self.raft_index += 1
            index = self.raft_index
            changes: list[Change] = []
            try:
                result, events, changes = self.apply(req, index)
            except errors.EtcdError as e:
                result, events = e, []
            changes.append(Change(b"meta", b"consistent_index", struct.pack(">Q", index)))
            changes.append(Change(b"meta", b"term", struct.pack(">Q", self.raft_term)))
            self.applied_index = index
            seq = self.persister.append(index, entry, changes)
            if events:
                self.watch.notify(events, self.store.current_rev)
        self.persister.wait(seq)
        if isinstance(result, errors.EtcdError):
            raise result
        return result

    def propose_conf_change(self, cc: raft_pb2.ConfChange, apply):
        """etcd's configure(): a ConfChange entry (ID from the request ID generator) appended like any other entry;
        `apply` (Membership.apply_conf_change) validates and applies it. A refused change still takes its index."""
        if self.stopped.is_set():
            raise errors.STOPPED
        cc.id = self.idgen.next()
        with self.lock:
            if self.stopped.is_set():
                raise errors.STOPPED
            self.raft_index += 1
            index = self.raft_index
            err: MembershipError | None = None
            try:
                result, changes = apply()
            except MembershipError as e:
                result, changes, err = None, [], e
            changes = changes + [
                Change(b"meta", b"consistent_index", struct.pack(">Q", index)),
                Change(b"meta", b"term", struct.pack(">Q", self.raft_term)),
            ]
            self.applied_index = index
            seq = self.persister.append(index, cc.SerializeToString(), changes, etype=raft_pb2.EntryConfChange)
        self.persister.wait(seq)
        if err is not None:
            raise err
        return result

    # ---- recovery ------------------------------------------------------------------------
    def restore(
        self, buckets: dict[bytes, dict[bytes, bytes]], snap_members: SnapMembership | None, conf_changes: list[bytes]
    ) -> None:
        """etcd's restore on start, from the loaded db: membership (the newest .snap and the ConfChanges the db has
        applied after it rule over the db's `members` bucket), auth, leases, the MVCC store, alarms."""
        self.membership.load_backend(buckets)
        if snap_members is not None or conf_changes:  # etcd's view: .snap + WAL, not the db
            self.membership.rebuild(snap_members, conf_changes)
        if self.auth is not None:
            self.auth.restore(buckets)
        for value in buckets.get(b"lease", {}).values():
            lease = lease_pb2.Lease.FromString(value)
            self.lessor.restore(lease.ID, lease.TTL)
        meta = buckets.get(b"meta", {})
        self.store.restore(
            sorted(buckets.get(b"key", {}).items()),
            _meta_rev(meta, b"finishedCompactRev"),
            _meta_rev(meta, b"scheduledCompactRev"),
        )
        for key, lease_id in self.store.leased_keys():
            self.lessor.attach(lease_id, key)
        self.alarms = [(am.memberID, am.alarm) for am in map(pb.AlarmMember.FromString, buckets.get(b"alarm", {}))]

    def set_log_index(self, index: int) -> None:
        """The raft log ends at `index` (the WAL's last entry, or the bootstrap entries): the next entry follows it."""
        self.raft_index = self.applied_index = index

    def replay_entry(self, e: raft_pb2.Entry) -> list[Change] | None:
        """Re-apply one WAL entry the db lacks. Returns its backend changes, or None for an entry with nothing to
        apply in v3 (raft's empty entries, etcd's v2 requests such as publish), which only moves the index."""
        if e.Type == raft_pb2.EntryConfChange and e.Data:  # a member added/removed/updated/promoted
            return self.replay_conf_change(e.Index, e.Data)
        if e.Type != raft_pb2.EntryNormal or not e.Data:
            self.set_log_index(e.Index)
            return None
        try:
            req = ri.InternalRaftRequest.FromString(e.Data)
        except DecodeError:  # a v2 request: nothing to apply in v3
            self.set_log_index(e.Index)
            return None
        return self.replay(e.Index, req)

    def replay_conf_change(self, index: int, data: bytes) -> list[Change]:
        """Re-apply a logged ConfChange during recovery (a refused one changes nothing, as when it was made)."""
        self.raft_index = max(self.raft_index, index)
        self.applied_index = self.raft_index
        try:
            cc = raft_pb2.ConfChange.FromString(data)
            with self.lock:
                return self.membership.apply_conf_change(cc)[1]
        except (MembershipError, DecodeError, ValueError, KeyError):  # refused, or not a ConfChange etcd-py knows
            return []

    def replay(self, index: int, req: ri.InternalRaftRequest) -> list[Change]:
        """Re-apply a logged entry during recovery (no persistence, no waiting)."""
        self.raft_index = max(self.raft_index, index)
        self.applied_index = self.raft_index
        if self.auth is not None:
            self.auth.replaying = True
        try:
            _, _, changes = self.apply(req, index)
        except errors.EtcdError:
            changes = []
        finally:
            if self.auth is not None:
                self.auth.replaying = False
        return changes

    def apply(self, req: ri.InternalRaftRequest, index: int = 0):
        """Dispatch one entry. Returns (response, watch events, backend changes)."""
        s = self.store
        ai = AuthInfo(req.header.username, req.header.auth_revision)
        if self.auth is not None:
            r = self.auth.apply(req, ai, index)
            if r is not None:
                return r
        if req.HasField("put") or req.HasField("delete_range") or req.HasField("txn"):
            return self._apply_kv(req, ai)
        if req.HasField("compaction"):
            changes = s.compact(req.compaction.revision)
            resp = pb.CompactionResponse(header=pb.ResponseHeader(revision=s.current_rev))
            return resp, [], changes
        if req.HasField("lease_grant"):
            return self._lease_grant(req.lease_grant)
        if req.HasField("lease_revoke"):
            if self.auth is not None:
                self.auth.check_lease_puts(ai, req.lease_revoke.ID)
            return self._lease_revoke(req.lease_revoke.ID)
        if req.HasField("alarm"):
            return self._alarm(req.alarm)
        return None, [], []

    def _check_kv_auth(self, req: ri.InternalRaftRequest, ai: AuthInfo) -> None:
        """authApplierV3: permission checks before the request touches the store."""
        a = self.auth
        if a is None or not a.enabled:
            return
        if req.HasField("put"):
            p = req.put
            a.check_put(ai, p.key)
            a.check_lease_puts(ai, p.lease)
            if p.prev_kv:
                a.check_range(ai, p.key, b"")
        elif req.HasField("delete_range"):
            d = req.delete_range
            a.check_delete(ai, d.key, d.range_end)
            if d.prev_kv:
                a.check_range(ai, d.key, d.range_end)
        else:
            a.check_txn(ai, req.txn)

    def _apply_kv(self, req: ri.InternalRaftRequest, ai: AuthInfo | None = None):
        s = self.store
        writes = req.HasField("put") or (req.HasField("txn") and not kv_apply.is_txn_readonly(req.txn))
        if writes and self.nospace_active():
            raise errors.NO_SPACE
        self._check_kv_auth(req, ai or AuthInfo())
        if req.HasField("put"):
            p = req.put
            if p.lease and self.lessor.lookup(p.lease) is None:
                raise errors.LEASE_NOT_FOUND
            txn = s.write()
            resp = kv_apply.apply_put(s, txn, p)
        elif req.HasField("delete_range"):
            txn = s.write()
            resp = kv_apply.apply_delete(s, txn, req.delete_range)
        else:
            resp, txn = kv_apply.apply_txn(s, self.lessor, req.txn)
        events = txn.end()
        return resp, events, txn.backend

    def _lease_grant(self, r: pb.LeaseGrantRequest):
        if self.nospace_active():
            raise errors.NO_SPACE
        lease = self.lessor.grant(r.ID, r.TTL)
        data = lease_pb2.Lease(ID=lease.id, TTL=lease.ttl).SerializeToString()
        resp = pb.LeaseGrantResponse(ID=lease.id, TTL=lease.ttl, header=self.header())
        return resp, [], [Change(b"lease", struct.pack(">q", lease.id), data)]

    def _lease_revoke(self, lease_id: int):
        lease = self.lessor.lookup(lease_id)
        if lease is None:
            raise errors.LEASE_NOT_FOUND
        txn = self.store.write()
        for key in sorted(lease.keys):
            txn.delete_range(key, None)
        del self.lessor.leases[lease_id]
        events = txn.end()
        changes = txn.backend + [Change(b"lease", struct.pack(">q", lease_id), None)]
        return pb.LeaseRevokeResponse(header=self.header()), events, changes

    # ---- alarms ------------------------------------------------------------------------
    def nospace_active(self) -> bool:
        return any(a == pb.NOSPACE for _, a in self.alarms)

    def _alarm_key(self, mid: int, alarm: pb.AlarmType) -> bytes:
        return pb.AlarmMember(memberID=mid, alarm=alarm).SerializeToString()

    def _alarm(self, r: pb.AlarmRequest):
        resp = pb.AlarmResponse()
        changes: list[Change] = []
        if r.action == pb.AlarmRequest.GET:
            for mid, a in self.alarms:
                if r.alarm == pb.NONE or r.alarm == a:
                    resp.alarms.add(memberID=mid, alarm=a)
        elif r.action == pb.AlarmRequest.ACTIVATE:
            if r.alarm != pb.NONE:
                if (r.memberID, r.alarm) not in self.alarms:
                    self.alarms.append((r.memberID, r.alarm))
                    changes.append(Change(b"alarm", self._alarm_key(r.memberID, r.alarm), b""))
                resp.alarms.add(memberID=r.memberID, alarm=r.alarm)
        elif r.action == pb.AlarmRequest.DEACTIVATE:
            if (r.memberID, r.alarm) in self.alarms:
                self.alarms.remove((r.memberID, r.alarm))
                changes.append(Change(b"alarm", self._alarm_key(r.memberID, r.alarm), None))
                resp.alarms.add(memberID=r.memberID, alarm=r.alarm)
        return resp, [], changes

    # ---- public operations used by the gRPC layer ---------------------------------------
    def _serialized(
        self, ai: AuthInfo | None, check: Callable[[AuthStore, AuthInfo], None], read: Callable[[], _R]
    ) -> _R:
        """etcd's doSerialize: permission check, read, then refuse if the auth store moved on."""
        a = self.auth
        if a is not None and a.enabled:
            check(a, ai or AuthInfo())
        out = read()
        if a is not None and ai is not None and ai.revision != 0 and ai.revision != a.revision:
            raise errors.AUTH_OLD_REVISION
        return out

    def range(self, r: pb.RangeRequest, ai=None) -> pb.RangeResponse:
        kv_apply.check_range(r)

        def read():
            with self.lock:
                return kv_apply.apply_range(self.store, r)

        resp = self._serialized(ai, lambda auth, a: auth.check_range(a, r.key, r.range_end), read)
        self.fill(resp.header)
        return resp

    def check_quota(self, cost: int) -> None:
        """etcd's quotaAlarmer, which runs before any other check of a Put, Txn or LeaseGrant: the request fits
        only if db size + its cost stays below the quota; otherwise every refusal proposes a NOSPACE alarm (a
        log entry each time, as in etcd, whether or not the alarm is already raised) and answers NOSPACE."""
        if self.persister.db_size() + cost < self.cfg.quota_backend_bytes:
            return
        try:
            self.propose(
                ri.InternalRaftRequest(
                    alarm=pb.AlarmRequest(
                        action=pb.AlarmRequest.ACTIVATE, memberID=self.cfg.member_id, alarm=pb.NOSPACE
                    )
                )
            )
        except errors.EtcdError:  # etcd ignores the alarm request's own outcome
            pass
        raise errors.NO_SPACE

    def put(self, r: pb.PutRequest, ai=None) -> pb.PutResponse:
        self.check_quota(quota_cost_put(r))
        kv_apply.check_put(r)
        resp = self.propose(ri.InternalRaftRequest(put=r), ai)
        self.fill(resp.header)
        return resp

    def delete_range(self, r: pb.DeleteRangeRequest, ai=None) -> pb.DeleteRangeResponse:
        kv_apply.check_delete(r)
        resp = self.propose(ri.InternalRaftRequest(delete_range=r), ai)
        self.fill(resp.header)
        return resp

    def txn(self, r: pb.TxnRequest, ai=None) -> pb.TxnResponse:
        self.check_quota(quota_cost_txn(r))  # every txn, read-only ones too (cost 0), as quotaKVServer.Txn
        kv_apply.validate_txn(r, self.cfg.max_txn_ops)
        if kv_apply.is_txn_readonly(r):

            def read():
                with self.lock:
                    return kv_apply.apply_txn(self.store, self.lessor, r)[0]

            resp = self._serialized(ai, lambda auth, a: auth.check_txn(a, r), read)
        else:
            resp = self.propose(ri.InternalRaftRequest(txn=r), ai)
        self.fill(resp.header)
        return resp

    def compact(self, r: pb.CompactionRequest, ai=None) -> pb.CompactionResponse:
        resp = self.propose(ri.InternalRaftRequest(compaction=r), ai)
        self.fill(resp.header)
        return resp

    def lease_grant(self, r: pb.LeaseGrantRequest, ai=None) -> pb.LeaseGrantResponse:
        self.check_quota(QUOTA_LEASE_OVERHEAD)  # quotaLeaseServer: before an ID is chosen
        req = pb.LeaseGrantRequest()
        req.CopyFrom(r)
        if req.ID == 0:
            while True:
                req.ID = self.idgen.next() & 0x7FFFFFFFFFFFFFFF
                if req.ID and self.lessor.lookup(req.ID) is None:
                    break
        resp = self.propose(ri.InternalRaftRequest(lease_grant=req), ai)
        self.fill(resp.header)
        return resp

    def lease_revoke(self, lease_id: int, ai=None) -> pb.LeaseRevokeResponse:
        resp = self.propose(ri.InternalRaftRequest(lease_revoke=pb.LeaseRevokeRequest(ID=lease_id)), ai)
        self.fill(resp.header)
        return resp

    def alarm(self, r: pb.AlarmRequest, ai=None) -> pb.AlarmResponse:
        resp = self.propose(ri.InternalRaftRequest(alarm=r), ai)
        resp.header.CopyFrom(self.header())
        return resp

    # ---- what the Lease, Cluster and Maintenance services read (no log entry) ------------------------
    def lease_time_to_live(self, r: pb.LeaseTimeToLiveRequest) -> pb.LeaseTimeToLiveResponse:
        """A lease's remaining and granted TTL (and its keys); TTL -1 for an unknown or expired lease."""
        with self.lock:
            lease = self.lessor.lookup(r.ID)
            if lease is None or lease.remaining() <= 0:
                return pb.LeaseTimeToLiveResponse(header=self.header(), ID=r.ID, TTL=-1)
            resp = pb.LeaseTimeToLiveResponse(
                header=self.header(), ID=lease.id, TTL=int(lease.remaining()), grantedTTL=lease.ttl
            )
            if r.keys:
                resp.keys.extend(sorted(lease.keys))
            return resp

    def lease_leases(self) -> pb.LeaseLeasesResponse:
        with self.lock:
            resp = pb.LeaseLeasesResponse(header=self.header())
            for lid in self.lessor.leases:
                resp.leases.add(ID=lid)
            return resp

    def lease_keep_alive(self, lease_id: int) -> pb.LeaseKeepAliveResponse:
        """One renewal (the lessor's, no log entry); TTL 0 tells the client the lease is gone."""
        with self.lock:
            try:
                ttl = self.lessor.renew(lease_id)
            except errors.EtcdError:  # not found or expired: etcd answers TTL 0, not an error
                ttl = 0
            return pb.LeaseKeepAliveResponse(header=self.header(), ID=lease_id, TTL=ttl)

    def member_list(self) -> list[pb.Member]:
        return [
            pb.Member(ID=m.id, name=m.name, peerURLs=m.peer_urls, clientURLs=m.client_urls, isLearner=m.is_learner)
            for m in self.membership.members_sorted()
        ]

    def cluster_header(self) -> pb.ResponseHeader:
        """The header of Cluster responses: no revision, as etcd's cluster server leaves it out."""
        return pb.ResponseHeader(cluster_id=self.cfg.cluster_id, member_id=self.cfg.member_id, raft_term=self.raft_term)

    def move_leader(self, target_id: int) -> pb.MoveLeaderResponse:
        """This member leads already; only a voting member is a valid transferee."""
        m = self.membership.get(target_id)
        if m is None or m.is_learner:
            raise errors.BAD_LEADER_TRANSFEREE
        return pb.MoveLeaderResponse(header=self.header())

    def status(self) -> pb.StatusResponse:
        with self.lock:
            resp = pb.StatusResponse(
                header=self.header(),
                version=SERVER_VERSION,
                dbSize=self.persister.db_size(),
                leader=self.cfg.member_id,
                raftIndex=self.raft_index,
                raftTerm=self.raft_term,
                raftAppliedIndex=self.applied_index,
                dbSizeInUse=self.persister.db_size_in_use(),
            )
            for mid, a in self.alarms:
                resp.errors.append(f"memberID:{mid} alarm:{pb.AlarmType.Name(a)} ")
            return resp

    def hash(self) -> pb.HashResponse:
        """etcd's backend hash over every bucket (meta's consistent index and term left out)."""
        with self.lock:
            return pb.HashResponse(header=self.header(), hash=self.persister.backend_hash())

    def hash_kv(self, rev: int) -> pb.HashKVResponse:
        with self.lock:
            h, cur, compact = self.store.hash_kv(rev)
            return pb.HashKVResponse(header=self.header(cur), hash=h, compact_revision=compact)

    def defragment(self) -> pb.DefragmentResponse:
        self.persister.defragment()
        return pb.DefragmentResponse()  # etcd's maintenance server answers Defragment without a header

    def snapshot_image(self) -> bytes:
        """A consistent bbolt image of the whole backend (what Maintenance.Snapshot streams)."""
        return self.persister.snapshot_image()

    def root_info(self):
        """etcd's WithRoot: server-internal requests act as root while auth is enabled."""
        if self.auth is None or not self.auth.enabled:
            return None
        return AuthInfo("root", self.auth.revision)

    def expire_leases(self) -> None:
        """Revoke expired leases through the log (the lessor's expiry loop)."""
        with self.lock:
            expired = self.lessor.expired()
        for lid in expired:
            try:
                self.lease_revoke(lid, self.root_info())
            except errors.EtcdError:  # revoked meanwhile, or the server stopped: nothing left to expire
                continue


def _meta_rev(meta: dict[bytes, bytes], key: bytes) -> int | None:
    """The main revision a meta key (finishedCompactRev, scheduledCompactRev) holds, None when absent."""
    raw = meta.get(key)
    return bytes_to_rev(raw)[0] if raw else None


def quota_cost_put(r: pb.PutRequest) -> int:
    """etcd's costPut: what a put may add to the backend."""
    return QUOTA_KV_OVERHEAD + len(r.key) + len(r.value)


def quota_cost_txn(r: pb.TxnRequest) -> int:
    """etcd's costTxn: the costlier branch, counting only its top-level puts (nested txns and deletes cost 0)."""

    def branch(ops) -> int:
        return sum(quota_cost_put(op.request_put) for op in ops if op.WhichOneof("request") == "request_put")

    return max(branch(r.success), branch(r.failure))
