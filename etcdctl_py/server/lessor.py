"""Leases: TTLs, attached keys, expiry (etcd's lessor, single member = always primary)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from etcdctl_py.server import errors

MAX_LEASE_TTL = 9_000_000_000
# etcd: minTTL = ceil(3 * electionTicks / 2 * heartbeat) with election 1000ms, heartbeat 100ms.
MIN_LEASE_TTL = math.ceil((3 * 10 // 2) * 0.1)


@dataclass
class Lease:
    id: int
    ttl: int
    expiry: float = 0.0
    keys: set[bytes] = field(default_factory=set)

    def remaining(self) -> float:
        return self.expiry - time.monotonic()

    def refresh(self) -> None:
        self.expiry = time.monotonic() + self.ttl


class Lessor:
    """Lease table; expiry is detected here and revoked by the server through its log."""

    def __init__(self, min_ttl: int = MIN_LEASE_TTL) -> None:
        self.leases: dict[int, Lease] = {}
        self.min_ttl = min_ttl

    def grant(self, lease_id: int, ttl: int) -> Lease:
        if lease_id == 0:
            raise errors.LEASE_NOT_FOUND
        if ttl > MAX_LEASE_TTL:
            raise errors.LEASE_TTL_TOO_LARGE
        if lease_id in self.leases:
            raise errors.LEASE_EXIST
        if ttl < self.min_ttl:
            ttl = self.min_ttl
        lease = Lease(lease_id, ttl)
        lease.refresh()
        self.leases[lease_id] = lease
        return lease

    def restore(self, lease_id: int, ttl: int) -> None:
        """A lease from the db, with the TTL it was granted (promote() starts its clock)."""
        self.leases[lease_id] = Lease(lease_id, ttl)

    def lookup(self, lease_id: int) -> Lease | None:
        return self.leases.get(lease_id)

    def attach(self, lease_id: int, key: bytes) -> None:
        lease = self.leases.get(lease_id)
        if lease is not None:
            lease.keys.add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        lease = self.leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    def renew(self, lease_id: int) -> int:
        lease = self.leases.get(lease_id)
        if lease is None or lease.remaining() <= 0:
            raise errors.LEASE_NOT_FOUND
        lease.refresh()
        return lease.ttl

    def expired(self) -> list[int]:
        now = time.monotonic()
        return [lid for lid, lease in self.leases.items() if lease.expiry <= now]

    def promote(self) -> None:
        """On (re)start every lease gets a fresh TTL, as a newly elected etcd leader does."""
        for lease in self.leases.values():
            lease.refresh()
