"""etcd-py's member list and its changes (add, remove, update peer URLs), in one place.

The v3 Cluster service's MemberList reads `core.members`; the v2 API's /v2/members changes it through a
`Membership` over that same dict (wired in etcdctl_py.server.v2.mount), so a member added with
`ETCDCTL_API=2 etcdctl member add` is in the v3 `member list` and the other way round.

The checks are etcd 3.5's with --strict-reconfig-check (its default), in its order: quorum checks before the
request is proposed (RaftCluster.IsReadyToAddVotingMember / IsReadyToRemoveVotingMember), then
ValidateConfigurationChange (removed IDs first, then existence and peer-URL clashes). A member counts as started
once it has a name (etcd: published attributes); in etcd-py only the local member ever starts. etcd-py runs no raft,
so adding a second voter does not cost it its quorum the way it does a real one-member etcd.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from typing import Any, Iterable

from etcdctl_py.server.identity import Member

MAX_LEARNERS = 1  # etcd 3.5's maxLearners


class MembershipError(Exception):
    """A refused change; `str()` is etcd's error text."""


ERR_ID_REMOVED = "membership: ID removed"
ERR_ID_EXISTS = "membership: ID exists"
ERR_ID_NOT_FOUND = "membership: ID not found"
ERR_PEER_URL_EXISTS = "membership: peerURL exists"
ERR_TOO_MANY_LEARNERS = "membership: too many learner members in cluster"
ERR_NOT_ENOUGH_STARTED = "etcdserver: re-configuration failed due to not enough started members"


def new_member_id(peer_urls: Iterable[str], token: str, now: float) -> int:
    """etcd's NewMember for a runtime-added member: sha1(sorted peer URLs + token + Unix seconds)[:8]."""
    seed = ("".join(sorted(peer_urls)) + token + str(int(now))).encode()
    return struct.unpack(">Q", hashlib.sha1(seed).digest()[:8])[0]


def _learner(m: Any) -> bool:
    """Members may be any object with id/name/peer_urls/client_urls (the standalone v2 server's have no flag)."""
    return bool(getattr(m, "is_learner", False))


class Membership:
    """The member dict (id -> Member) the server answers from, its lock and the IDs removed so far."""

    def __init__(self, members: dict[int, Any], lock: Any = None, *, token: str = "etcd-cluster",
                 removed: Iterable[int] = ()) -> None:
        self.members = members
        self.lock = lock if lock is not None else threading.RLock()
        self.token = token or "etcd-cluster"
        self.removed: set[int] = set(removed)

    def list(self) -> list[Any]:
        with self.lock:
            return sorted(self.members.values(), key=lambda m: m.id)

    def get(self, member_id: int) -> Any:
        with self.lock:
            return self.members.get(member_id)

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

    def _peer_urls_taken(self, urls: Iterable[str], except_id: int = 0) -> bool:
        taken = {u for m in self.members.values() if m.id != except_id for u in m.peer_urls}
        return any(u in taken for u in urls)

    def add(self, peer_urls: list[str], *, is_learner: bool = False, now: float | None = None,
            member_id: int | None = None) -> Member:
        """MemberAdd: a new unstarted member (no name, no client URLs). `member_id` re-applies a known member."""
        with self.lock:
            if not is_learner and not self._ready_to_add_voter():
                raise MembershipError(ERR_NOT_ENOUGH_STARTED)
            mid = member_id if member_id is not None else new_member_id(
                peer_urls, self.token, time.time() if now is None else now)
            if mid in self.removed:
                raise MembershipError(ERR_ID_REMOVED)
            if mid in self.members:
                raise MembershipError(ERR_ID_EXISTS)
            if self._peer_urls_taken(peer_urls):
                raise MembershipError(ERR_PEER_URL_EXISTS)
            if is_learner and sum(1 for m in self.members.values() if _learner(m)) + 1 > MAX_LEARNERS:
                raise MembershipError(ERR_TOO_MANY_LEARNERS)
            m = Member(mid, "", list(peer_urls), [], is_learner)
            self.members[mid] = m
            return m

    def remove(self, member_id: int) -> Any:
        """MemberRemove; the ID can never come back."""
        with self.lock:
            m = self.members.get(member_id)
            if not _learner(m) and not self._ready_to_remove_voter(member_id):
                raise MembershipError(ERR_NOT_ENOUGH_STARTED)
            if member_id in self.removed:
                raise MembershipError(ERR_ID_REMOVED)
            if m is None:
                raise MembershipError(ERR_ID_NOT_FOUND)
            del self.members[member_id]
            self.removed.add(member_id)
            return m

    def update(self, member_id: int, peer_urls: list[str]) -> Any:
        """MemberUpdate: new peer URLs. The name and client URLs stay; the learner flag does not: etcd 3.5.1 replaces
        the member's whole RaftAttributes with {peerURLs} (UpdateRaftAttributes), so an updated learner is listed
        as a voter from then on."""
        with self.lock:
            if member_id in self.removed:
                raise MembershipError(ERR_ID_REMOVED)
            m = self.members.get(member_id)
            if m is None:
                raise MembershipError(ERR_ID_NOT_FOUND)
            if self._peer_urls_taken(peer_urls, except_id=member_id):
                raise MembershipError(ERR_PEER_URL_EXISTS)
            m.peer_urls = list(peer_urls)
            m.is_learner = False
            return m

    def restore(self, added: Iterable[Any] = (), removed: Iterable[int] = (),
                peer_urls: dict[int, list[str]] | None = None) -> None:
        """Re-apply changes saved earlier (no checks: they were checked when made)."""
        with self.lock:
            for m in added:
                if m.id not in self.members and m.id not in self.removed:
                    self.members[m.id] = m
            for mid, urls in (peer_urls or {}).items():
                if mid in self.members:  # an update, which also drops the learner flag (see update())
                    self.members[mid].peer_urls = list(urls)
                    self.members[mid].is_learner = False
            for mid in removed:
                self.members.pop(mid, None)
                self.removed.add(mid)
