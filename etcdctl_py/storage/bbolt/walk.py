"""Walking every page of a bbolt tree in bbolt's order (Tx.forEachPage per bucket, then its
sub-buckets in key order): the base of Tx.Check and of the free-page list that etcd's files
(no persisted freelist) need on open.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Callable

from .page import BRANCH_PAGE, BUCKET_HEADER, BUCKET_LEAF_FLAG, LEAF_PAGE, PAGE_HEADER, PAGE_HEADER_SIZE

if TYPE_CHECKING:
    from .tx import Tx

# maps a flags low byte to 1 when bucketLeafFlag is set: finds nested buckets without a Python loop
_ODD = bytes((b & BUCKET_LEAF_FLAG) for b in range(256))

# on_page(position, header_id, flags, count, overflow) -> descend into a branch's children?
PageFn = Callable[[int, int, int, int, int], bool]
# on_missing(position, reason) for a page that cannot be read at all
MissingFn = Callable[[int, str], None]


def sub_bucket_roots(mm, off: int, count: int, limit: int) -> list[tuple[int, int]]:
    """(root, position) of each non-inline nested bucket on a leaf page, in key order."""
    base = off + PAGE_HEADER_SIZE
    if count == 0 or base + 16 * count > limit:
        return []
    if b"\x01" not in mm[base:base + 16 * count:16].translate(_ODD):
        return []
    e = struct.unpack_from(f"<{4 * count}I", mm, base)
    out = []
    for i in range(count):
        if e[4 * i] & BUCKET_LEAF_FLAG:
            vstart = base + 16 * i + e[4 * i + 1] + e[4 * i + 2]
            if e[4 * i + 3] >= 16 and vstart + 16 <= limit:
                root, _seq = BUCKET_HEADER.unpack_from(mm, vstart)
                if root != 0:
                    out.append((root, i))
    return out


def walk(tx: "Tx", on_page: PageFn, on_missing: MissingFn) -> None:
    """Visit every page reachable from the root bucket, in Tx.check's order."""
    ps = tx.db.page_size
    mm = tx._mm
    limit = tx._limit
    max_depth = 64
    # A damaged branch can point back up the tree: Go's bbolt would recurse until it crashes. We
    # visit pages as often as bbolt would for a DAG, but stop once the total is implausible.
    budget = [4 * max(tx.meta.pgid, 1) + 1024]

    def bucket(root: int) -> None:
        subs: list[int] = []
        stack = [(root, 0)]
        while stack:
            pgid, depth = stack.pop()
            off = pgid * ps
            if pgid < 0 or off + PAGE_HEADER_SIZE > limit:
                on_missing(pgid, "beyond end of file")
                continue
            budget[0] -= 1
            if budget[0] < 0:
                on_missing(pgid, "too many page references (cycle in the tree?)")
                return
            pid, flags, count, overflow = PAGE_HEADER.unpack_from(mm, off)
            descend = on_page(pgid, pid, flags, count, overflow)
            if flags & BRANCH_PAGE:
                if not descend:
                    continue
                if depth >= max_depth:
                    on_missing(pgid, "tree too deep (cycle?)")
                    continue
                base = off + PAGE_HEADER_SIZE
                if base + 16 * count > limit:
                    on_missing(pgid, "elements beyond end of file")
                    continue
                e = struct.unpack_from("<" + "IIQ" * count, mm, base)
                kids = e[2::3]
                stack.extend((k, depth + 1) for k in reversed(kids))
            elif flags & LEAF_PAGE:
                subs.extend(r for r, _i in sub_bucket_roots(mm, off, count, limit))
        for r in subs:
            if budget[0] < 0:
                return
            bucket(r)

    if tx.meta.root != 0:
        bucket(tx.meta.root)


def reachable_pages(tx: "Tx") -> bytearray:
    """A map page id -> 1 for every page in use by the tree (overflow runs included), ids < pgid."""
    npg = tx.meta.pgid
    seen = bytearray(npg)

    def on_page(pos: int, pid: int, flags: int, count: int, overflow: int) -> bool:
        lo = min(pid, npg)
        hi = min(pid + overflow + 1, npg)
        if hi > lo:
            seen[lo:hi] = b"\x01" * (hi - lo)
        return True

    walk(tx, on_page, lambda pos, why: None)
    return seen
