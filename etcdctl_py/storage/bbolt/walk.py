"""Walking the pages of a bbolt file in bbolt's order: Tx.forEachPage over one bucket's tree, and Tx.checkBucket's
order over buckets (a bucket's own pages, then each nested bucket's, in key order).

The walk yields every reachable page (a `Page`, header as stored) and every reference it cannot follow (an
`Unreadable`, with the reason Check reports). Tx.Check, `snapshot status`, defrag's in-use size and the free-page
list of etcd's files (which persist none) are all built on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .page import BRANCH_PAGE, LEAF_PAGE, PAGE_HEADER, PAGE_HEADER_SIZE, Page

if TYPE_CHECKING:
    from .tx import Tx

MAX_DEPTH = 64


@dataclass(frozen=True)
class Unreadable:
    """A page reference the walk cannot follow; Check reports it as `page <pgid>: <why>`."""

    pgid: int
    why: str


class PageWalk:
    """The pages of one read transaction, in the order bbolt's Check visits them.

    A damaged branch can point back up the tree, where Go's bbolt would recurse until it crashes. The walk visits
    pages as often as bbolt would for a DAG, but once the total is implausible it reports one Unreadable and stops
    for good (later walks of the same PageWalk yield nothing).
    """

    def __init__(self, tx: Tx) -> None:
        self._data = tx.data
        self._page_size = tx.db.page_size
        self._root = tx.meta.root
        self._budget = 4 * max(tx.meta.pgid, 1) + 1024

    def tree(self, root: int) -> Iterator[Page | Unreadable]:
        """Tx.forEachPage(root): one bucket's pages, depth-first, each branch's children in key order."""
        data, ps, limit = self._data, self._page_size, len(self._data)
        unpack = PAGE_HEADER.unpack_from
        make = tuple.__new__  # Page(...) without NamedTuple's Python-level __new__: this runs once per page
        stack = [(root, 0)]
        while stack and self._budget >= 0:
            pgid, depth = stack.pop()
            off = pgid * ps
            if off + PAGE_HEADER_SIZE > limit:
                yield Unreadable(pgid, "beyond end of file")
                continue
            self._budget -= 1
            if self._budget < 0:
                yield Unreadable(pgid, "too many page references (cycle in the tree?)")
                return
            pid, flags, count, overflow = unpack(data, off)
            page = make(Page, (pgid, pid, flags, count, overflow, data, off))
            yield page
            if not flags & BRANCH_PAGE:
                continue
            if depth >= MAX_DEPTH:
                yield Unreadable(pgid, f"tree deeper than {MAX_DEPTH} levels (cycle?)")
                continue
            kids = page.children()
            if kids is None:
                yield Unreadable(pgid, "elements beyond end of file")
                continue
            stack.extend((k, depth + 1) for k in reversed(kids))

    def buckets(self, roots: Iterable[int]) -> Iterator[Page | Unreadable]:
        """Tx.checkBucket for each root in turn: a bucket's own pages, then its nested buckets', depth-first."""
        stack = list(roots)[::-1]
        while stack:
            nested: list[int] = []
            for item in self.tree(stack.pop()):
                yield item
                if isinstance(item, Page) and item.flags & LEAF_PAGE:
                    nested.extend(item.nested_buckets())
            stack.extend(reversed(nested))

    def all(self) -> Iterator[Page | Unreadable]:
        """Every page reachable from the root bucket (what Tx.Check walks)."""
        return self.buckets([self._root] if self._root else [])


def reachable_pages(tx: Tx) -> bytearray:
    """A map page id -> 1 for every page in use by the tree (overflow runs included), ids < pgid."""
    npg = tx.meta.pgid
    seen = bytearray(npg)
    for item in PageWalk(tx).all():
        if isinstance(item, Page):
            lo = min(item.id, npg)
            hi = min(item.id + item.overflow + 1, npg)
            if hi > lo:
                seen[lo:hi] = b"\x01" * (hi - lo)
    return seen
