"""etcd-py's member list and its changes (add, remove, update peer URLs, promote), in one place.

One `Membership` per server (`EtcdCore.membership`), over the core's member dict and lock: the v3 Cluster service
and the v2 API's /v2/members (etcdctl_py.server.v2.mount) both change members through it, so a member added with
`ETCDCTL_API=2 etcdctl member add` is in the v3 `member list` and the other way round.

A change goes the way etcd 3.5 sends it through raft: the checks made before proposing (--strict-reconfig-check, its
default: RaftCluster.IsReadyToAddVotingMember / IsReadyToRemoveVotingMember / IsReadyToPromoteMember and
isLearnerReady), then a raftpb.ConfChange entry (AddNode, AddLearnerNode, RemoveNode, UpdateNode; a promotion is
AddNode with `"isPromote":true` in its context) handed to `conf_log` (the core appends it to the WAL), whose apply
(`apply_conf_change`) runs ValidateConfigurationChange and, if that passes, changes the members, the removed IDs
and raft's ConfState and returns the backend changes (`members`, `members_removed`, `meta/confState`). A change
refused at apply still took its log index, as in etcd. Replaying the WAL after a restart calls the same apply.

A member counts as started once it has a name (etcd: published attributes); in etcd-py only the local member ever
starts, and no other member ever catches up with its log, so a promotion is never "in sync with leader".
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # protobuf ships no stubs

from etcdctl_py.gofmt import go_json
from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.server.identity import Member
from etcdctl_py.server.mvcc import Change
from etcdctl_py.storage import backend

MAX_LEARNERS = 1  # etcd 3.5's maxLearners


class MembershipError(Exception):
    """A refused change; `str()` is etcd's error text."""


ERR_ID_REMOVED = "membership: ID removed"
ERR_ID_EXISTS = "membership: ID exists"
ERR_ID_NOT_FOUND = "membership: ID not found"
ERR_PEER_URL_EXISTS = "membership: peerURL exists"
ERR_MEMBER_NOT_LEARNER = "membership: can only promote a learner member"
ERR_TOO_MANY_LEARNERS = "membership: too many learner members in cluster"
ERR_NOT_ENOUGH_STARTED = "etcdserver: re-configuration failed due to not enough started members"
ERR_LEARNER_NOT_READY = "etcdserver: can only promote a learner member which is in sync with leader"

VOTER_WARNING = (
    "added a voting member; etcd-py runs no raft and keeps serving alone until it stops, but it will not "
    "start again on this data dir without --force-new-cluster (alone it is no quorum), and real etcd "
    "started on it will count the member for its quorum and commit nothing until it has started"
)

ADD, REMOVE, UPDATE, ADD_LEARNER = (
    raft_pb2.ConfChangeAddNode,
    raft_pb2.ConfChangeRemoveNode,
    raft_pb2.ConfChangeUpdateNode,
    raft_pb2.ConfChangeAddLearnerNode,
)

# (conf change, apply) -> apply's result; raises the MembershipError apply raised. The core's version logs the entry.
ConfLog = Callable[[raft_pb2.ConfChange, Callable[[], tuple[Any, list[Change]]]], Any]


def new_member_id(peer_urls: Iterable[str], now: float) -> int:
    """etcd's NewMember for a runtime-added member (its cluster name argument is ""): sha1(sorted peer URLs +
    Unix seconds)[:8], big-endian."""
    seed = ("".join(sorted(peer_urls)) + str(int(now))).encode()
    return struct.unpack(">Q", hashlib.sha1(seed).digest()[:8])[0]


def member_json(m: Any) -> str:
    """membership.Member as json.Marshal writes it (ConfChange context, `members` bucket): a nil peer list is null."""
    d: dict = {"id": m.id, "peerURLs": list(m.peer_urls) if m.peer_urls else None}
    if _learner(m):
        d["isLearner"] = True
    if m.name:
        d["name"] = m.name
    if m.client_urls:
        d["clientURLs"] = list(m.client_urls)
    return go_json(d)


def conf_state_json(voters: Iterable[int], learners: Iterable[int]) -> bytes:
    """raftpb.ConfState as etcd stores it in meta/confState: the backend's encoding, of the IDs sorted."""
    return backend.conf_state_json(sorted(voters), sorted(learners))


def _learner(m: Any) -> bool:
    """Members may be any object with id/name/peer_urls/client_urls (the standalone v2 server's have no flag)."""
    return bool(getattr(m, "is_learner", False))


class Membership:
    """The member dict (id -> Member) the server answers from, its lock, the IDs removed so far and raft's view
    (voters / learners: an updated learner stays a raft learner although etcd 3.5.1 lists it as a voter)."""

    def __init__(
        self,
        members: dict[int, Any],
        lock: Any = None,
        *,
        token: str = "etcd-cluster",
        removed: Iterable[int] = (),
        local_id: int = 0,
    ) -> None:
        self.members = members
        self.lock = lock if lock is not None else threading.RLock()
        self.token = token or "etcd-cluster"
        self.removed: set[int] = set(removed)
        self.local_id = local_id
        self.voters: set[int] = {m.id for m in members.values() if not _learner(m)}
        self.learners: set[int] = {m.id for m in members.values() if _learner(m)}
        self.stored: set[int] = set(members)  # IDs in the db's `members` bucket (etcd only ever adds a key there)
        self.conf_log: ConfLog | None = None  # None: changes live in memory only (the standalone v2 server)
        self.warn: Callable[..., None] = lambda msg, **fields: None

    # ---- reads ----------------------------------------------------------------------------------------------
    def members_sorted(self) -> list[Any]:
        """The members in ID order (what every member list shows)."""
        with self.lock:
            return sorted(self.members.values(), key=lambda m: m.id)

    def get(self, member_id: int) -> Any:
        with self.lock:
            return self.members.get(member_id)

    def load_backend(self, buckets: dict[bytes, dict[bytes, bytes]]) -> None:
        """Removed IDs and raft's ConfState as the db holds them (before the WAL entries after it are replayed)."""
        with self.lock:
            self.removed |= {int(k, 16) for k in buckets.get(b"members_removed", {})}
            self.stored = {int(k, 16) for k in buckets.get(b"members", {})}
            raw = buckets.get(b"meta", {}).get(b"confState")
            if raw:
                cs = json.loads(raw)
                self.voters = set(cs.get("voters") or [])
                self.learners = set(cs.get("learners") or [])

    def rebuild(self, snap: SnapMembership | None, conf_changes: Iterable[bytes]) -> None:
        """etcd's membership at start: the newest .snap (members, removed IDs, raft's ConfState; nothing without a
        .snap) plus every ConfChange the WAL holds after it up to the db's consistent index, applied without
        touching the db (etcd's ApplyV2storeOnly). The db is not the truth: etcd 3.5 never rewrites a key in its
        `members` bucket, so updates and promotions are missing from it, and a db restored by etcdutl keeps the
        source cluster's meta/confState. The local member keeps the name and client URLs the server was started
        with."""
        with self.lock:
            local = self.members.get(self.local_id)
            self.members.clear()
            # the db's removed IDs already hold the removals about to be replayed: start from the .snap's
            if snap is not None:
                self.members.update({m.id: m for m in snap.members})
                self.removed = set(snap.removed)
                self.voters, self.learners = set(snap.voters), set(snap.learners)
            else:
                self.removed, self.voters, self.learners = set(), set(), set()
            for data in conf_changes:
                try:
                    self.apply_conf_change(raft_pb2.ConfChange.FromString(data), v3=False)
                except (MembershipError, DecodeError, ValueError, KeyError):
                    pass  # refused when it was made, too
            m = self.members.get(self.local_id)
            if m is not None and local is not None:
                m.name, m.client_urls = local.name, list(local.client_urls)

    # ---- the checks etcd makes before proposing ---------------------------------------------------------------
    def _voters(self) -> list[Any]:
        return [m for m in self.members.values() if not _learner(m)]

    def _ready_to_add_voter(self) -> bool:
        voters = self._voters()
        started = sum(1 for m in voters if m.name)
        total = len(voters) + 1
        if started == 1 and total == 2:  # etcd lets a one-member cluster grow (restoring a cluster from one member)
            return True
        return started >= total // 2 + 1

    def _ready_to_remove_voter(self, member_id: int) -> bool:
        rest = [m for m in self._voters() if m.id != member_id]
        return sum(1 for m in rest if m.name) >= len(rest) // 2 + 1

    def _ready_to_promote(self) -> bool:
        voters = self._voters()  # the learner counts as a started future voter
        return 1 + sum(1 for m in voters if m.name) >= (1 + len(voters)) // 2 + 1

    def _learner_ready(self, member_id: int) -> bool:
        """isLearnerReady: a member raft tracks must have caught up with the leader; only the local one ever has."""
        return member_id == self.local_id or member_id not in (self.voters | self.learners)

    # ---- changes --------------------------------------------------------------------------------------------
    def add(
        self, peer_urls: list[str], *, is_learner: bool = False, now: float | None = None, member_id: int | None = None
    ) -> Member:
        """MemberAdd: a new unstarted member (no name, no client URLs)."""
        with self.lock:
            if not is_learner and not self._ready_to_add_voter():
                raise MembershipError(ERR_NOT_ENOUGH_STARTED)
        mid = member_id if member_id is not None else new_member_id(peer_urls, time.time() if now is None else now)
        m = Member(mid, "", list(peer_urls), [], is_learner)
        cc = raft_pb2.ConfChange(type=ADD_LEARNER if is_learner else ADD, node_id=mid, context=member_json(m).encode())
        added = self._propose(cc)
        if not is_learner:
            self.warn(VOTER_WARNING, **{"added-member-id": f"{mid:x}", "peer-urls": list(peer_urls)})
        return added

    def foreign_voters(self) -> list[int]:
        """Voting members other than this server: real etcd needs them for its quorum, etcd-py ignores them."""
        with self.lock:
            return sorted(v for v in self.voters if v != self.local_id)

    def others(self) -> list[int]:
        """Every member raft tracks besides this server (voters and learners), as etcd's getIDs lists them."""
        with self.lock:
            return sorted((self.voters | self.learners) - {self.local_id})

    def force_new_cluster(self) -> list[int]:
        """etcd's --force-new-cluster (restartAsStandaloneNode's createConfigChangeEnts): a RemoveNode ConfChange
        for every other member, logged and applied without the started-members checks, so this member is left
        as the only one. Returns the removed IDs."""
        removed = []
        for mid in self.others():
            cc = raft_pb2.ConfChange(type=REMOVE, node_id=mid)
            if self.conf_log is None:
                with self.lock:
                    self.apply_conf_change(cc)
            else:
                self.conf_log(cc, functools.partial(self.apply_conf_change, cc))
            removed.append(mid)
        return removed

    def remove(self, member_id: int) -> Any:
        """MemberRemove; the ID can never come back."""
        with self.lock:
            m = self.members.get(member_id)
            if not _learner(m) and not self._ready_to_remove_voter(member_id):
                raise MembershipError(ERR_NOT_ENOUGH_STARTED)
        return self._propose(raft_pb2.ConfChange(type=REMOVE, node_id=member_id))

    def update(self, member_id: int, peer_urls: list[str]) -> Any:
        """MemberUpdate: new peer URLs, kept in the order given. The name and client URLs stay; the learner flag
        does not: etcd 3.5.1 replaces the member's whole RaftAttributes with {peerURLs} (UpdateRaftAttributes), so
        an updated learner is listed as a voter from then on (raft still counts it as a learner)."""
        ctx = member_json(Member(member_id, "", list(peer_urls)))
        return self._propose(raft_pb2.ConfChange(type=UPDATE, node_id=member_id, context=ctx.encode()))

    def promote(self, member_id: int) -> Any:
        """MemberPromote: refused unless the learner is in sync with the leader, which in etcd-py it never is."""
        with self.lock:
            if not self._learner_ready(member_id):
                raise MembershipError(ERR_LEARNER_NOT_READY)
            if not self._ready_to_promote():
                raise MembershipError(ERR_NOT_ENOUGH_STARTED)
        ctx = go_json({"id": member_id, "peerURLs": None, "isPromote": True})
        return self._propose(raft_pb2.ConfChange(type=ADD, node_id=member_id, context=ctx.encode()))

    def _propose(self, cc: raft_pb2.ConfChange) -> Any:
        if self.conf_log is None:
            with self.lock:
                return self.apply_conf_change(cc)[0]
        return self.conf_log(cc, lambda: self.apply_conf_change(cc))

    def apply_conf_change(self, cc: raft_pb2.ConfChange, v3: bool = True) -> tuple[Any, list[Change]]:
        """etcd's applyConfChange under the caller's lock: ValidateConfigurationChange (MembershipError, nothing
        changed), then the member list, raft's ConfState and (`v3`) the backend changes, as etcd 3.5.1 makes them:
        a member's key is written only if it is not there yet (unsafeSaveMemberToBackend), so an update or a
        promotion leaves the bucket as it was. Returns (member, changes)."""
        mid = cc.node_id
        ctx = json.loads(cc.context) if cc.context else {}
        if not isinstance(ctx, dict):
            ctx = {}
        promote = bool(ctx.get("isPromote"))
        urls = list(ctx.get("peerURLs") or [])
        self._validate(cc.type, mid, promote, urls, bool(ctx.get("isLearner")))
        changes: list[Change] = []
        m: Any = None
        if cc.type in (ADD, ADD_LEARNER):
            if cc.type == ADD:
                self.voters.add(mid)
                self.learners.discard(mid)
            else:
                self.learners.add(mid)
            if promote:
                m = self.members[mid]
                m.is_learner = False
            else:
                m = Member(
                    mid, ctx.get("name") or "", urls, list(ctx.get("clientURLs") or []), bool(ctx.get("isLearner"))
                )
                self.members[mid] = m
        elif cc.type == REMOVE:
            self.voters.discard(mid)
            self.learners.discard(mid)
            m = self.members.pop(mid)
            self.removed.add(mid)
        else:
            m = self.members[mid]
            m.peer_urls = urls
            m.is_learner = False
        if not v3:
            return m, changes
        if cc.type == REMOVE:
            changes.append(Change(b"members_removed", b"%x" % mid, b"removed"))
            if mid in self.stored:
                self.stored.discard(mid)
                changes.append(Change(b"members", b"%x" % mid, None))
        elif mid not in self.stored:
            self.stored.add(mid)
            changes.append(Change(b"members", b"%x" % mid, member_json(m).encode()))
        changes.append(Change(b"meta", b"confState", conf_state_json(self.voters, self.learners)))
        return m, changes

    def _validate(self, ctype: int, mid: int, promote: bool, urls: list[str], learner: bool) -> None:
        """etcd's ValidateConfigurationChange, in its order."""
        if mid in self.removed:
            raise MembershipError(ERR_ID_REMOVED)
        if ctype in (ADD, ADD_LEARNER):
            if promote:
                if mid not in self.members:
                    raise MembershipError(ERR_ID_NOT_FOUND)
                if not _learner(self.members[mid]):
                    raise MembershipError(ERR_MEMBER_NOT_LEARNER)
                return
            if mid in self.members:
                raise MembershipError(ERR_ID_EXISTS)
            if self._peer_urls_taken(urls):
                raise MembershipError(ERR_PEER_URL_EXISTS)
            if learner and sum(1 for m in self.members.values() if _learner(m)) + 1 > MAX_LEARNERS:
                raise MembershipError(ERR_TOO_MANY_LEARNERS)
        elif ctype == REMOVE:
            if mid not in self.members:
                raise MembershipError(ERR_ID_NOT_FOUND)
        elif ctype == UPDATE:
            if mid not in self.members:
                raise MembershipError(ERR_ID_NOT_FOUND)
            if self._peer_urls_taken(urls, except_id=mid):
                raise MembershipError(ERR_PEER_URL_EXISTS)
        else:
            raise MembershipError(f"unknown ConfChange type {ctype}")

    def _peer_urls_taken(self, urls: Iterable[str], except_id: int | None = None) -> bool:
        taken = {u for m in self.members.values() if m.id != except_id for u in m.peer_urls}
        return any(u in taken for u in urls)

    def restore(
        self, added: Iterable[Any] = (), removed: Iterable[int] = (), peer_urls: dict[int, list[str]] | None = None
    ) -> None:
        """Re-apply changes the v2 API saved in its own file (no checks: they were checked when made).

        With a `conf_log` every change is in the WAL already and the member dict was rebuilt from it: only members
        the file knows and the log does not (data dirs from before changes were logged) are added back, and saved
        peer URLs are ignored (a later logged update may have replaced them)."""
        durable = self.conf_log is not None
        with self.lock:
            for m in added:
                if m.id not in self.members and m.id not in self.removed:
                    self.members[m.id] = m
                    (self.learners if _learner(m) else self.voters).add(m.id)
            if not durable:
                for mid, urls in (peer_urls or {}).items():
                    if mid in self.members:  # an update, which also drops the learner flag (see update())
                        self.members[mid].peer_urls = list(urls)
                        self.members[mid].is_learner = False
            for mid in removed:
                self.members.pop(mid, None)
                self.voters.discard(mid)
                self.learners.discard(mid)
                self.removed.add(mid)


@dataclass
class SnapMembership:
    """What the newest .snap says of the cluster: its v2 store's members and removed IDs, and raft's ConfState
    (voters, learners) from its metadata."""

    members: list[Member]
    removed: set[int]
    voters: set[int]
    learners: set[int]


def snapshot_membership(snap_dir: str) -> SnapMembership | None:
    """The members and removed IDs in the newest .snap's v2 store (/0/members/<id>/raftAttributes and attributes,
    /0/removed_members/<id>) and its ConfState, or None without a readable .snap."""
    from etcdctl_py.storage import snap as snapfmt
    from etcdctl_py.storage import v2store

    snap = snapfmt.load_newest(snap_dir)
    if snap is None:
        return None
    try:
        zero = (v2store.V2Store.load(snap.data).root.children or {}).get("0")
    except v2store.V2StoreError:
        return None
    dirs = zero.children if zero is not None and zero.children is not None else {}
    members = []
    for hexid, node in sorted(((dirs.get("members") and dirs["members"].children) or {}).items()):
        kids = node.children or {}
        try:
            raft = json.loads(kids["raftAttributes"].value) if "raftAttributes" in kids else {}
            attrs = json.loads(kids["attributes"].value) if "attributes" in kids else {}
            members.append(
                Member(
                    int(hexid, 16),
                    attrs.get("name") or "",
                    list(raft.get("peerURLs") or []),
                    list(attrs.get("clientURLs") or []),
                    bool(raft.get("isLearner")),
                )
            )
        except (ValueError, TypeError, AttributeError):
            continue
    removed = set()
    for hexid in (dirs.get("removed_members") and dirs["removed_members"].children) or {}:
        try:
            removed.add(int(hexid, 16))
        except ValueError:
            continue
    cs = snap.metadata.conf_state
    return SnapMembership(members, removed, set(cs.voters), set(cs.learners))
