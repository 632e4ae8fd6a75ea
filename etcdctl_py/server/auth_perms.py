"""Key-range permission checks with etcd's rules (server/auth/range_perm_cache.go, pkg/adt).

etcd merges every role of a user into two interval sets (read, write) of "affine" byte
intervals: an empty bound means +infinity, a permission without range_end is the single key
[key, key+"\\x00"), and range_end "\\x00" means "to the end of the key space". A point request
is allowed when any interval touches the key; a range request only when the union of the
touching intervals covers it without a gap.
"""

from __future__ import annotations

from etcdctl_py.proto.authpb import auth_pb2 as apb

Interval = tuple[bytes, bytes]


def acmp(a: bytes, b: bytes) -> int:
    """BytesAffineComparable.Compare: the empty byte string sorts after everything."""
    if not a:
        return 0 if not b else 1
    if not b:
        return -1
    return (a > b) - (a < b)


def _overlaps(q: Interval, x: Interval) -> bool:
    """adt.Interval.Compare(q, x) == 0."""
    if acmp(q[0], x[0]) < 0 and acmp(q[1], x[0]) <= 0:
        return False
    if acmp(q[0], x[1]) >= 0:
        return False
    return True


def point(key: bytes) -> Interval:
    return key, key + b"\x00"


class MergedPerms:
    """One user's read and write intervals, in insertion order (etcd keeps them in a tree)."""

    def __init__(self) -> None:
        self.read: list[Interval] = []
        self.write: list[Interval] = []

    def add(self, perm: apb.Permission) -> None:
        end = perm.range_end
        if end == b"\x00":
            end = b""
        ivl = (perm.key, end) if perm.range_end else point(perm.key)
        if perm.permType in (apb.Permission.READ, apb.Permission.READWRITE):
            self.read.append(ivl)
        if perm.permType in (apb.Permission.WRITE, apb.Permission.READWRITE):
            self.write.append(ivl)


def _touching(ivs: list[Interval], q: Interval) -> list[Interval]:
    hits = [iv for iv in ivs if _overlaps(q, iv)]
    # the interval tree is visited in order of the begin bound (ties: insertion order)
    import functools

    return sorted(hits, key=functools.cmp_to_key(_cmp_begin))


def _cmp_begin(a: Interval, b: Interval) -> int:
    return acmp(a[0], b[0])


def contains(ivs: list[Interval], q: Interval) -> bool:
    """adt.IntervalTree.Contains: the touching intervals cover q contiguously."""
    hits = _touching(ivs, q)
    if not hits:
        return False
    min_begin, max_end = hits[0]
    for b, e in hits[1:]:
        if acmp(max_end, b) < 0:
            return False
        if acmp(e, max_end) > 0:
            max_end = e
    return acmp(max_end, q[1]) >= 0 and acmp(min_begin, q[0]) <= 0


def intersects(ivs: list[Interval], q: Interval) -> bool:
    return any(_overlaps(q, iv) for iv in ivs)


def permitted(perms: MergedPerms, key: bytes, range_end: bytes, write: bool) -> bool:
    """isRangeOpPermitted: a point check without range_end, a coverage check with one."""
    ivs = perms.write if write else perms.read
    if not range_end:
        return intersects(ivs, point(key))
    if range_end == b"\x00":
        range_end = b""
    return contains(ivs, (key, range_end))
