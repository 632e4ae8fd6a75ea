"""In-memory B+tree nodes: `PageView` (a decoded, read-only page) and `Node` (a mutable copy that a
write transaction edits, splits, rebalances and spills to new pages), following bbolt's node.go.

Both expose the same fields (is_leaf, keys, vals, flags) so cursors walk either without caring.
Leaf vals are bytes; branch vals are child page ids.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CorruptError
from .page import (
    BRANCH_PAGE,
    LEAF_PAGE,
    MAX_FILL_PERCENT,
    MIN_FILL_PERCENT,
    MIN_KEYS_PER_PAGE,
    PAGE_HEADER,
    PAGE_HEADER_SIZE,
    encode_page,
)

if TYPE_CHECKING:
    from .bucket import Bucket


def _padded(buf, a: int, b: int) -> bytes:
    """buf[a:b] where the tail past the real bytes reads as zeros (a mapping's last OS page)."""
    data = buf[a:b]
    return data + bytes(b - a - len(data))


def _where(buf) -> str:
    return "inline bucket" if isinstance(buf, (bytes, bytearray)) else "file"


def _soft_limit(limit: int) -> int:
    """Bytes Go's bbolt can read without faulting: the file rounded up to the OS page."""
    return -(-limit // 4096) * 4096


def decode_page(buf, offset: int, limit: int):
    """Decode a branch/leaf page at `offset` into (pgid, is_leaf, keys, vals, flags, overflow)."""
    v = decode_view(buf, offset, limit)
    return v.pgid, v.is_leaf, v.keys, v.vals, v.flags, v.overflow


def decode_view(buf, offset: int, limit: int) -> PageView:
    """Decode a branch/leaf page at `offset` (pgid = the header's id; voffs = value offsets in buf).

    `limit` is the end of the file; element data may point anywhere inside the file (and its
    zero-filled last OS page), as bbolt reads it from the mmap; past that raises CorruptError
    (where Go's bbolt would fault).
    """
    if offset + PAGE_HEADER_SIZE > min(limit, len(buf)):
        raise CorruptError(f"page at offset {offset}: beyond end of file")
    pid, pflags, count, overflow = PAGE_HEADER.unpack_from(buf, offset)
    if pflags & LEAF_PAGE:
        is_leaf = True
    elif pflags & BRANCH_PAGE:
        is_leaf = False
    else:
        raise CorruptError(f"page {pid}: invalid page type: {pflags:#x}")
    if count == 0:
        return PageView(pid, is_leaf, [], [], ([] if is_leaf else None), overflow, [])
    base = offset + PAGE_HEADER_SIZE
    if base + 16 * count > min(limit, len(buf)):
        raise CorruptError(f"page {pid}: elements beyond end of file")
    # an mmap reads as zeros up to the end of the file's last OS page; a copied buffer ends where it ends
    soft = limit if isinstance(buf, (bytes, bytearray)) else _soft_limit(limit)
    hard = len(buf)
    if is_leaf:
        e = struct.unpack_from(f"<{4 * count}I", buf, base)
        flags = list(e[0::4])
        pos = e[1::4]
        ks = e[2::4]
        vs = e[3::4]
        starts = [base + 16 * i + pos[i] for i in range(count)]
        if any(flags):
            # bbolt reads a nested bucket's value only through its header (at voffs): a damaged
            # length that points past the file is not a read error for it (valid values are kept whole)
            vs = tuple(
                min(v, 16) if f & 1 and s + k + v > soft else v
                for f, s, k, v in zip(flags, starts, ks, vs, strict=True)
            )
        top = max(s + k + v for s, k, v in zip(starts, ks, vs, strict=True))
        if top > soft:
            raise CorruptError(f"page {pid}: element data beyond end of {_where(buf)}")
        if top <= hard:
            keys = [buf[s : s + k] for s, k in zip(starts, ks, strict=True)]
            vals = [buf[s + k : s + k + v] for s, k, v in zip(starts, ks, vs, strict=True)]
        else:
            keys = [_padded(buf, s, s + k) for s, k in zip(starts, ks, strict=True)]
            vals = [_padded(buf, s + k, s + k + v) for s, k, v in zip(starts, ks, vs, strict=True)]
        voffs = [s + k for s, k in zip(starts, ks, strict=True)]
        return PageView(pid, True, keys, vals, flags, overflow, voffs)
    e = struct.unpack_from("<" + "IIQ" * count, buf, base)
    pos = e[0::3]
    ks = e[1::3]
    kids = list(e[2::3])
    starts = [base + 16 * i + pos[i] for i in range(count)]
    top = max(s + k for s, k in zip(starts, ks, strict=True))
    if top > soft:
        raise CorruptError(f"page {pid}: element data beyond end of {_where(buf)}")
    if top <= hard:
        keys = [buf[s : s + k] for s, k in zip(starts, ks, strict=True)]
    else:
        keys = [_padded(buf, s, s + k) for s, k in zip(starts, ks, strict=True)]
    return PageView(pid, False, keys, kids, None, overflow, None)


@dataclass(slots=True)
class PageView:
    """A decoded page, read-only; what cursors use when no Node is materialised for that page."""

    pgid: int
    is_leaf: bool
    keys: list
    vals: list  # leaf: value bytes; branch: child page ids
    flags: list | None  # leaf only
    overflow: int
    voffs: list | None = None  # leaf: offset of each value in the file buffer (for inline buckets)


class Node:
    """A mutable B+tree node owned by a write transaction's bucket (bbolt node)."""

    __slots__ = (
        "bucket",
        "is_leaf",
        "unbalanced",
        "spilled",
        "key",
        "pgid",
        "parent",
        "children",
        "keys",
        "vals",
        "flags",
    )

    def __init__(self, bucket: Bucket, is_leaf: bool, parent: Node | None = None) -> None:
        self.bucket = bucket
        self.is_leaf = is_leaf
        self.unbalanced = False
        self.spilled = False
        self.key: bytes | None = None
        self.pgid = 0
        self.parent = parent
        self.children: list[Node] = []
        self.keys: list[bytes] = []
        self.vals: list = []
        self.flags: list[int] = []  # leaf only: a branch keeps it empty

    @classmethod
    def from_view(cls, bucket: Bucket, view: PageView, parent: Node | None, pgid: int) -> Node:
        n = cls(bucket, view.is_leaf, parent)
        n.pgid = pgid
        n.keys = list(view.keys)
        n.vals = list(view.vals)
        n.flags = list(view.flags or ())
        n.key = n.keys[0] if n.keys else None
        return n

    # --- sizes -------------------------------------------------------------------------------
    def size(self) -> int:
        if self.is_leaf:
            return 16 + 16 * len(self.keys) + sum(map(len, self.keys)) + sum(map(len, self.vals))
        return 16 + 16 * len(self.keys) + sum(map(len, self.keys))

    def min_keys(self) -> int:
        return 1 if self.is_leaf else 2

    def root(self) -> Node:
        n = self
        while n.parent is not None:
            n = n.parent
        return n

    # --- edits -------------------------------------------------------------------------------
    def put(self, old_key: bytes, new_key: bytes, value, pgid: int, flags: int) -> None:
        """Insert or replace `old_key` (leaf: value+flags; branch: child pgid)."""
        keys = self.keys
        i = bisect_left(keys, old_key)
        exact = i < len(keys) and keys[i] == old_key
        v = value if self.is_leaf else pgid
        if exact:
            keys[i] = new_key
            self.vals[i] = v
            if self.is_leaf:
                self.flags[i] = flags
        else:
            keys.insert(i, new_key)
            self.vals.insert(i, v)
            if self.is_leaf:
                self.flags.insert(i, flags)

    def delete(self, key: bytes) -> None:
        keys = self.keys
        i = bisect_left(keys, key)
        if i >= len(keys) or keys[i] != key:
            return
        del keys[i]
        del self.vals[i]
        if self.is_leaf:
            del self.flags[i]
        self.unbalanced = True

    def child_index(self, child: Node) -> int:
        return bisect_left(self.keys, child.key or b"")  # a nil key searches as empty, as in Go

    def num_children(self) -> int:
        return len(self.keys)

    def next_sibling(self) -> Node | None:
        if self.parent is None:
            return None
        i = self.parent.child_index(self)
        if i >= self.parent.num_children() - 1:
            return None
        return self.parent.child_at(i + 1)

    def prev_sibling(self) -> Node | None:
        if self.parent is None:
            return None
        i = self.parent.child_index(self)
        if i == 0:
            return None
        return self.parent.child_at(i - 1)

    def child_at(self, index: int) -> Node:
        if self.is_leaf:
            raise CorruptError(f"invalid childAt({index}) on a leaf node")
        return self.bucket.node(self.vals[index], self)

    def remove_child(self, target: Node) -> None:
        for i, c in enumerate(self.children):
            if c is target:
                del self.children[i]
                return

    def free(self) -> None:
        if self.pgid != 0:
            self.bucket.tx.free_page(self.pgid)
            self.pgid = 0

    # --- split / spill -------------------------------------------------------------------------
    def _split_points(self, page_size: int) -> list[int]:
        """Where bbolt's repeated splitTwo would cut this node's entries, found in one pass (not one per cut).

        A rest of the entries stays whole when it has at most 2*minKeysPerPage entries or fits a page;
        otherwise the cut is the first entry (past minKeysPerPage) that would overflow `threshold`, or the
        last one before minKeysPerPage are left, exactly as bbolt's splitIndex."""
        n = len(self.keys)
        if n <= MIN_KEYS_PER_PAGE * 2:
            return []
        fill = min(max(self.bucket.fill_percent, MIN_FILL_PERCENT), MAX_FILL_PERCENT)
        threshold = int(page_size * fill)
        if self.is_leaf:
            els = [16 + len(k) + len(v) for k, v in zip(self.keys, self.vals, strict=True)]
        else:
            els = [16 + len(k) for k in self.keys]
        rest = PAGE_HEADER_SIZE + sum(els)  # the size of the entries from `start` on, as one page
        cuts: list[int] = []
        start = 0
        while n - start > MIN_KEYS_PER_PAGE * 2 and rest >= page_size:
            sz = PAGE_HEADER_SIZE
            index = start
            for i in range(start, n - MIN_KEYS_PER_PAGE):
                index = i
                if i - start >= MIN_KEYS_PER_PAGE and sz + els[i] > threshold:
                    break
                sz += els[i]
            if index == start:
                break  # bbolt would cut off nothing (cannot happen with MIN_KEYS_PER_PAGE >= 1)
            cuts.append(index)
            rest -= sum(els[start:index])
            start = index
        return cuts

    def split(self, page_size: int) -> list[Node]:
        """This node cut into page-sized siblings (bbolt node.split), in time linear in its entries: the new
        siblings join the parent (created for a root) and take their entries with one slice each."""
        cuts = self._split_points(page_size)
        if not cuts:
            return [self]
        if self.parent is None:
            self.parent = Node(self.bucket, False)
            self.parent.children = [self]
        keys, vals, flags = self.keys, self.vals, self.flags
        bounds = [*cuts, len(keys)]
        self.keys, self.vals = keys[: cuts[0]], vals[: cuts[0]]
        if self.is_leaf:
            self.flags = flags[: cuts[0]]
        nodes = [self]
        for a, b in zip(bounds, bounds[1:], strict=False):
            nxt = Node(self.bucket, self.is_leaf, self.parent)
            self.parent.children.append(nxt)
            nxt.keys, nxt.vals = keys[a:b], vals[a:b]
            if self.is_leaf:
                nxt.flags = flags[a:b]
            nodes.append(nxt)
        return nodes

    def spill(self) -> None:
        """Write this node (and its children first) to freshly allocated pages."""
        tx = self.bucket.tx
        if self.spilled:
            return
        children = sorted(self.children, key=lambda c: c.keys[0] if c.keys else b"")
        for c in children:
            c.spill()
        self.children = []
        page_size = tx.db.page_size
        for node in self.split(page_size):
            if node.pgid > 0:
                tx.free_page(node.pgid)
                node.pgid = 0
            size = node.size()
            npages = -(-size // page_size)
            pgid = tx.allocate(npages)
            node.pgid = pgid
            tx.write_page(pgid, encode_page(pgid, node.is_leaf, node.keys, node.vals, node.flags, page_size))
            node.spilled = True
            if node.parent is not None:
                key = node.key if node.key is not None else node.keys[0]
                node.parent.put(key, node.keys[0], None, node.pgid, 0)
                node.key = node.keys[0]
        if self.parent is not None and self.parent.pgid == 0:
            self.children = []
            self.parent.spill()

    # --- rebalance -----------------------------------------------------------------------------
    def rebalance(self) -> None:
        """Merge a node that fell under 25% of a page (or got empty) into a sibling, like bbolt."""
        if not self.unbalanced:
            return
        self.unbalanced = False
        bucket = self.bucket
        threshold = bucket.tx.db.page_size // 4
        if self.size() > threshold and len(self.keys) > self.min_keys():
            return
        if self.parent is None:
            if not self.is_leaf and len(self.keys) == 1:
                child = bucket.node(self.vals[0], self)
                self.is_leaf = child.is_leaf
                self.keys = child.keys[:]
                self.vals = child.vals[:]
                self.flags = child.flags[:]
                self.children = child.children
                if not self.is_leaf:
                    for pg in self.vals:
                        c = bucket.nodes.get(pg)
                        if c is not None:
                            c.parent = self
                child.parent = None
                bucket.nodes.pop(child.pgid, None)
                child.free()
            return
        parent = self.parent
        if self.num_children() == 0:
            self._detach(parent)
            parent.rebalance()
            return
        if parent.num_children() <= 1:
            raise CorruptError("parent must have at least 2 children")
        first = parent.child_index(self) == 0
        sibling = self.next_sibling() if first else self.prev_sibling()
        if sibling is None:
            raise CorruptError("parent must have at least 2 children")
        if first:
            self._absorb(sibling, parent)  # the first child takes in its right neighbour
        else:
            sibling._absorb(self, parent)  # any other joins its left neighbour
        parent.rebalance()

    def _absorb(self, src: Node, parent: Node) -> None:
        """Append sibling src's entries (and materialised children) to this node, then drop src."""
        bucket = self.bucket
        if not src.is_leaf:
            for pg in src.vals:
                c = bucket.nodes.get(pg)
                if c is not None:
                    if c.parent is not None:
                        c.parent.remove_child(c)
                    c.parent = self
                    self.children.append(c)
        self.keys.extend(src.keys)
        self.vals.extend(src.vals)
        if self.is_leaf:
            self.flags.extend(src.flags)
        src._detach(parent)

    def _detach(self, parent: Node) -> None:
        """Remove this node from its parent and the bucket's node cache; its page is freed."""
        parent.delete(self.key or b"")
        parent.remove_child(self)
        self.bucket.nodes.pop(self.pgid, None)
        self.free()
