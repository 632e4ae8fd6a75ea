"""Buckets (bbolt bucket.go + cursor.go): lookups, sorted iteration, puts/deletes through
materialised nodes, nested and inline buckets, and the spill of a bucket tree at commit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import (
    BucketExistsError,
    BucketNameRequiredError,
    BucketNotFoundError,
    CorruptError,
    IncompatibleValueError,
    KeyRequiredError,
    KeyTooLargeError,
    TxNotWritableError,
    ValueTooLargeError,
)
from .node import Node, PageView, decode_view
from .page import (
    BUCKET_HEADER,
    BUCKET_HEADER_SIZE,
    BUCKET_LEAF_FLAG,
    DEFAULT_FILL_PERCENT,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
    PAGE_HEADER,
    PAGE_HEADER_SIZE,
    ReadBuffer,
    inline_bucket_value,
)

if TYPE_CHECKING:
    from .tx import Tx


class Bucket:
    """A bucket in a transaction. Values of nested-bucket keys read as None (bbolt returns nil)."""

    def __init__(
        self, tx: Tx, root: int, sequence: int = 0, inline: bytes | None = None, inline_loc: tuple | None = None
    ) -> None:
        self.tx = tx
        self.root = root
        self.sequence = sequence
        # inline page (root == 0): where its image lives, (buffer, offset, end of readable bytes).
        # Pages read from the file point into the mmap (like bbolt, which reads in place).
        if inline_loc is None and inline is not None:
            inline_loc = (inline, 0, len(inline))
        self.inline_loc = inline_loc
        self.nodes: dict[int, Node] = {}
        self.root_node: Node | None = None
        self.buckets: dict[bytes, Bucket] = {}
        self.fill_percent = DEFAULT_FILL_PERCENT

    @property
    def inline(self) -> bool:
        return self.inline_loc is not None

    @classmethod
    def from_value(cls, tx: Tx, value: bytes, value_off: int | None = None) -> Bucket:
        """The bucket a parent's value describes; value_off = where that value sits in the file."""
        if value_off is not None and value_off % 8 == 0:
            # bbolt reads an aligned inline page in place (an unaligned one from a copy of the value)
            buf, limit = tx._mm, tx._limit
            if value_off + BUCKET_HEADER_SIZE > limit:
                raise CorruptError(f"bucket header at offset {value_off}: beyond end of file")
            root, seq = BUCKET_HEADER.unpack_from(buf, value_off)
            if root == 0:
                return cls(tx, 0, seq, inline_loc=(buf, value_off + BUCKET_HEADER_SIZE, limit))
            return cls(tx, root, seq)
        root, seq = BUCKET_HEADER.unpack_from(value, 0)
        inline = bytes(value[BUCKET_HEADER_SIZE:]) if root == 0 else None
        return cls(tx, root, seq, inline)

    # --- page / node access ---------------------------------------------------------------
    def _view(self, pgid: int) -> PageView:
        if self.inline_loc is not None:
            buf, off, limit = self.inline_loc
            v = decode_view(buf, off, limit)
            v.pgid = 0
            return v
        return self.tx.page_view(pgid)

    def _ref(self, pgid: int):
        """The node for pgid if materialised, else the decoded page."""
        n = self.nodes.get(pgid)
        if n is not None:
            return n
        if pgid == self.root and self.root_node is not None:
            return self.root_node
        return self._view(pgid)

    def node(self, pgid: int, parent: Node | None) -> Node:
        """Materialise (or fetch) the node of a page so it can be edited (bbolt Bucket.node)."""
        n = self.nodes.get(pgid)
        if n is not None:
            return n
        view = self._view(pgid)
        n = Node.from_view(self, view, parent, pgid)
        if parent is None:
            self.root_node = n
        else:
            parent.children.append(n)
        self.nodes[pgid] = n
        return n

    def _root_ref(self):
        if self.root_node is not None:
            return self.root_node
        return self._ref(self.root)

    def _seek_leaf(self, key: bytes):
        """Descend to the leaf that would hold `key`; returns (path of (ref, index), leaf ref, index)."""
        path = []
        ref = self._root_ref()
        while not ref.is_leaf:
            i = bisect_left(ref.keys, key)
            if i >= len(ref.keys) or ref.keys[i] != key:
                i = max(i - 1, 0)
            path.append((ref, i))
            if not ref.keys:
                break
            ref = self._child_ref(ref, i)
        return path, ref, bisect_left(ref.keys, key) if ref.is_leaf else 0

    def _child_ref(self, ref, i: int):
        pgid = ref.vals[i]
        n = self.nodes.get(pgid)
        return n if n is not None else self._view(pgid)

    def _writable_leaf(self, key: bytes) -> Node:
        """Materialise the path to `key`'s leaf (bbolt cursor.node())."""
        n = self.root_node if self.root_node is not None else self.node(self.root, None)
        while not n.is_leaf:
            i = bisect_left(n.keys, key)
            if i >= len(n.keys) or n.keys[i] != key:
                i = max(i - 1, 0)
            n = self.node(n.vals[i], n)
        return n

    def _lookup(self, key: bytes):
        """(found_key, value, flags) of the first entry >= key, or (None, None, 0)."""
        for k, v, f in self._iter(key):
            return k, v, f
        return None, None, 0

    # --- iteration -----------------------------------------------------------------------
    def _iter(self, start: bytes = b"") -> Iterator[tuple[bytes, bytes, int]]:
        """Sorted (key, value, flags) from the first key >= start (leaf entries only)."""
        yield from self._iter_ref(self._root_ref(), start, 0)

    def _iter_ref(self, ref, start: bytes, depth: int):
        if depth > 64:
            raise CorruptError(f"page {ref.pgid}: tree deeper than 64 levels (cycle?)")
        if ref.is_leaf:
            keys = ref.keys
            i = bisect_left(keys, start) if start else 0
            vals, flags = ref.vals, ref.flags
            for j in range(i, len(keys)):
                yield keys[j], vals[j], flags[j]
            return
        keys = ref.keys
        i = 0
        if start:
            i = bisect_left(keys, start)
            if i >= len(keys) or keys[i] != start:
                i = max(i - 1, 0)
        for j in range(i, len(keys)):
            yield from self._iter_ref(self._child_ref(ref, j), start if j == i else b"", depth + 1)

    def items(self, start: bytes = b"") -> Iterator[tuple[bytes, bytes | None]]:
        """Sorted (key, value) pairs from the first key >= start; nested buckets give value None."""
        self.tx._check_open()
        for k, v, f in self._iter(start):
            yield k, (None if f & BUCKET_LEAF_FLAG else v)

    def last(self) -> tuple[bytes, bytes | None] | None:
        """The greatest (key, value) of the bucket, or None when empty (descends the right edge)."""
        self.tx._check_open()
        ref = self._root_ref()
        while not ref.is_leaf and ref.keys:
            ref = self._child_ref(ref, len(ref.keys) - 1)
        if ref.is_leaf and ref.keys:
            f = ref.flags[-1]
            return ref.keys[-1], (None if f & BUCKET_LEAF_FLAG else ref.vals[-1])
        item = None
        for k, v, f in self._iter():  # an empty rightmost leaf: fall back to a scan
            item = (k, None if f & BUCKET_LEAF_FLAG else v)
        return item

    def keys(self) -> Iterator[bytes]:
        for k, _v, _f in self._iter():
            yield k

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self._iter())

    def stats(self) -> dict[str, int]:
        """Key count, nested bucket count, depth and pages used (a small subset of bbolt BucketStats)."""
        keys = buckets = 0
        for _k, _v, f in self._iter():
            if f & BUCKET_LEAF_FLAG:
                buckets += 1
            else:
                keys += 1
        depth = 1
        ref = self._root_ref()
        while not ref.is_leaf and ref.keys:
            depth += 1
            ref = self._child_ref(ref, 0)
        return {"keys": keys, "buckets": buckets, "depth": depth, "inline": int(self.root == 0)}

    def leaf_pages(self) -> Iterator[tuple[ReadBuffer, int, int]]:
        """(buffer, offset, limit) of every leaf page in key order, read straight from the file.

        Only for unmodified buckets (read transactions): a fast path for full scans (status hash).
        """
        if self.root == 0:
            if self.inline_loc is None:
                return
            buf, off, limit = self.inline_loc
            yield buf, off, limit
            return
        yield from self.tx.leaf_pages(self.root)

    # --- reads ---------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        """Value of key, or None (also None when key names a nested bucket)."""
        self.tx._check_open()
        path, leaf, i = self._seek_leaf(key)
        if i < len(leaf.keys) and leaf.keys[i] == key:
            if leaf.flags[i] & BUCKET_LEAF_FLAG:
                return None
            return leaf.vals[i]
        return None

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def bucket(self, name: bytes) -> Bucket | None:
        """A nested bucket, or None."""
        self.tx._check_open()
        b = self.buckets.get(name)
        if b is not None:
            return b
        path, leaf, i = self._seek_leaf(name)
        if i >= len(leaf.keys) or leaf.keys[i] != name or not leaf.flags[i] & BUCKET_LEAF_FLAG:
            return None
        voffs = getattr(leaf, "voffs", None)
        child = Bucket.from_value(self.tx, leaf.vals[i], voffs[i] if voffs else None)
        if self.tx.writable:
            self.buckets[name] = child
        return child

    def bucket_names(self) -> list[bytes]:
        return [k for k, _v, f in self._iter() if f & BUCKET_LEAF_FLAG]

    # --- writes --------------------------------------------------------------------------
    def _check_writable(self) -> None:
        self.tx._check_open()
        if not self.tx.writable:
            raise TxNotWritableError()

    def put(self, key: bytes, value: bytes) -> None:
        self._check_writable()
        key = bytes(key)
        value = bytes(value)
        if not key:
            raise KeyRequiredError()
        if len(key) > MAX_KEY_SIZE:
            raise KeyTooLargeError()
        if len(value) > MAX_VALUE_SIZE:
            raise ValueTooLargeError()
        path, leaf, i = self._seek_leaf(key)
        if i < len(leaf.keys) and leaf.keys[i] == key and leaf.flags[i] & BUCKET_LEAF_FLAG:
            raise IncompatibleValueError()
        self._writable_leaf(key).put(key, key, value, 0, 0)

    def delete(self, key: bytes) -> None:
        """Remove key (no error when missing, like bbolt); a nested bucket key is incompatible."""
        self._check_writable()
        key = bytes(key)
        path, leaf, i = self._seek_leaf(key)
        if i < len(leaf.keys) and leaf.keys[i] == key:
            if leaf.flags[i] & BUCKET_LEAF_FLAG:
                raise IncompatibleValueError()
            self._writable_leaf(key).delete(key)

    def create_bucket(self, name: bytes) -> Bucket:
        self._check_writable()
        name = bytes(name)
        if not name:
            raise BucketNameRequiredError()
        path, leaf, i = self._seek_leaf(name)
        if i < len(leaf.keys) and leaf.keys[i] == name:
            if leaf.flags[i] & BUCKET_LEAF_FLAG:
                raise BucketExistsError()
            raise IncompatibleValueError()
        self._writable_leaf(name).put(name, name, inline_bucket_value([], []), 0, BUCKET_LEAF_FLAG)
        # A bucket with sub-buckets can no longer be inline (bbolt drops b.page here).
        if self.inline_loc is not None:
            self.node(self.root, None)
            self.inline_loc = None
        return self._existing_bucket(name)

    def create_bucket_if_not_exists(self, name: bytes) -> Bucket:
        try:
            return self.create_bucket(name)
        except BucketExistsError:
            return self._existing_bucket(bytes(name))

    def _existing_bucket(self, name: bytes) -> Bucket:
        """A nested bucket the caller has just found or written (never None for it)."""
        b = self.bucket(name)
        if b is None:
            raise BucketNotFoundError()
        return b

    def delete_bucket(self, name: bytes) -> None:
        self._check_writable()
        name = bytes(name)
        path, leaf, i = self._seek_leaf(name)
        if i >= len(leaf.keys) or leaf.keys[i] != name:
            raise BucketNotFoundError()
        if not leaf.flags[i] & BUCKET_LEAF_FLAG:
            raise IncompatibleValueError()
        child = self._existing_bucket(name)
        for sub in child.bucket_names():
            child.delete_bucket(sub)
        self.buckets.pop(name, None)
        child.nodes = {}
        child.root_node = None
        child.free()
        self._writable_leaf(name).delete(name)

    # --- commit helpers ------------------------------------------------------------------
    def free(self) -> None:
        """Release every page of this bucket (materialised nodes free their original pages)."""
        if self.root == 0:
            return
        tx = self.tx
        stack = [self.root]
        while stack:
            pgid = stack.pop()
            n = self.nodes.get(pgid)
            if n is not None:
                if not n.is_leaf:
                    stack.extend(n.vals)
                n.free()
                continue
            view = tx.page_view(pgid)
            tx.free_page(pgid)
            if not view.is_leaf:
                stack.extend(view.vals)
        self.root = 0

    def inline_value(self) -> bytes | None:
        """The bucket's value as an inline page when it fits inline (bbolt inlineable), else None."""
        n = self.root_node
        if n is None or not n.is_leaf:
            return None
        size = PAGE_HEADER_SIZE
        limit = self.tx.db.page_size // 4
        for k, v, f in zip(n.keys, n.vals, n.flags, strict=True):
            size += 16 + len(k) + len(v)
            if f & BUCKET_LEAF_FLAG or size > limit:
                return None
        return inline_bucket_value(n.keys, n.vals, n.flags, self.sequence)

    def rebalance(self) -> None:
        for pgid, n in list(self.nodes.items()):
            if self.nodes.get(pgid) is n:  # merged away by an earlier rebalance: skip, like Go's map range
                n.rebalance()
        for child in list(self.buckets.values()):
            child.rebalance()

    def spill(self) -> None:
        """Write child buckets then this bucket's dirty nodes; update child headers in this bucket."""
        for name, child in list(self.buckets.items()):
            inline = child.inline_value()
            if inline is not None:
                child.free()  # leaves the root node's entries (and so the value) as they are
                value = inline
            else:
                child.spill()
                value = BUCKET_HEADER.pack(child.root, child.sequence)
            if child.root_node is None:
                continue
            self._writable_leaf(name).put(name, name, value, 0, BUCKET_LEAF_FLAG)
        if self.root_node is None:
            return
        self.root_node.spill()
        self.root_node = self.root_node.root()
        self.root = self.root_node.pgid
        self.inline_loc = None


def bucket_value_root(value: bytes) -> tuple[int, int, bytes | None]:
    """(root, sequence, inline page or None) of a raw bucket value."""
    root, seq = BUCKET_HEADER.unpack_from(value, 0)
    return root, seq, (value[BUCKET_HEADER_SIZE:] if root == 0 else None)


__all__ = ["Bucket", "bucket_value_root", "PAGE_HEADER"]
