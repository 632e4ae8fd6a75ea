"""The in-memory key index of etcd's MVCC store: per key, generations of revisions.

A generation runs from a key's creation to its deletion (tombstone). The semantics
(what `get` at a revision returns, what compaction keeps) follow etcd's keyIndex exactly,
because `endpoint hashkv` and historical reads depend on them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

Rev = tuple[int, int]  # (main, sub), ordered like etcd's revision


@dataclass
class Generation:
    ver: int = 0
    created: Rev = (0, 0)
    revs: list[Rev] = field(default_factory=list)

    def walk_back(self, pred) -> int:
        """Index of the newest revision for which pred is False, scanning newest-first; -1 if none."""
        for i in range(len(self.revs) - 1, -1, -1):
            if not pred(self.revs[i]):
                return i
        return -1


class KeyIndex:
    """All live and historical revisions of one key."""

    __slots__ = ("key", "modified", "generations")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.modified: Rev = (0, 0)
        self.generations: list[Generation] = [Generation()]

    def put(self, rev: Rev) -> None:
        g = self.generations[-1]
        if not g.revs:
            g.created = rev
        g.revs.append(rev)
        g.ver += 1
        self.modified = rev

    def restore(self, created: Rev, modified: Rev, ver: int) -> None:
        self.modified = modified
        self.generations = [Generation(ver=ver, created=created, revs=[modified])]

    def tombstone(self, rev: Rev) -> bool:
        if not self.generations[-1].revs:
            return False
        self.put(rev)
        self.generations.append(Generation())
        return True

    def is_empty(self) -> bool:
        return len(self.generations) == 1 and not self.generations[0].revs

    def find_generation(self, rev: int) -> Generation | None:
        last = len(self.generations) - 1
        for cg in range(last, -1, -1):
            g = self.generations[cg]
            if not g.revs:
                continue
            if cg != last and g.revs[-1][0] <= rev:
                return None
            if g.revs[0][0] <= rev:
                return g
        return None

    def get(self, at_rev: int) -> tuple[Rev, Rev, int] | None:
        """(modified, created, version) of the key as of at_rev, or None if absent then."""
        g = self.find_generation(at_rev)
        if g is None or not g.revs:
            return None
        n = g.walk_back(lambda r: r[0] > at_rev)
        if n == -1:
            return None
        return g.revs[n], g.created, g.ver - (len(g.revs) - n - 1)

    def since(self, rev: int) -> list[Rev]:
        """Revisions >= rev (one per main revision, the last sub wins), for watch catch-up."""
        since = (rev, 0)
        gi = len(self.generations) - 1
        while gi > 0:
            g = self.generations[gi]
            if g.revs and since > g.created:
                break
            gi -= 1
        out: list[Rev] = []
        last = 0
        for g in self.generations[gi:]:
            for r in g.revs:
                if since > r:
                    continue
                if r[0] == last:
                    out[-1] = r
                    continue
                out.append(r)
                last = r[0]
        return out

    def _do_compact(self, at_rev: int, available: set[Rev]) -> tuple[int, int]:
        gen_idx = 0
        g = self.generations[0]
        while gen_idx < len(self.generations) - 1:
            if g.revs[-1][0] > at_rev:
                break
            gen_idx += 1
            g = self.generations[gen_idx]

        def f(r: Rev) -> bool:
            if r[0] <= at_rev:
                available.add(r)
                return False
            return True

        return gen_idx, g.walk_back(f)

    def compact(self, at_rev: int, available: set[Rev]) -> None:
        gen_idx, rev_index = self._do_compact(at_rev, available)
        g = self.generations[gen_idx]
        if g.revs:
            if rev_index != -1:
                g.revs = g.revs[rev_index:]
            if len(g.revs) == 1 and gen_idx != len(self.generations) - 1:
                available.discard(g.revs[0])
                gen_idx += 1
        self.generations = self.generations[gen_idx:]

    def keep(self, at_rev: int, available: set[Rev]) -> None:
        if self.is_empty():
            return
        gen_idx, rev_index = self._do_compact(at_rev, available)
        g = self.generations[gen_idx]
        if g.revs and rev_index == len(g.revs) - 1 and gen_idx != len(self.generations) - 1:
            available.discard(g.revs[rev_index])


class TreeIndex:
    """Sorted map key -> KeyIndex (etcd uses a btree; a dict plus a sorted key list will do)."""

    def __init__(self) -> None:
        self.items: dict[bytes, KeyIndex] = {}
        self.keys: list[bytes] = []

    def _visit(self, key: bytes, end: bytes):
        i = bisect.bisect_left(self.keys, key)
        keys = self.keys
        n = len(keys)
        while i < n:
            k = keys[i]
            if end and k >= end:
                return
            yield self.items[k]
            i += 1

    def get(self, key: bytes, at_rev: int) -> tuple[Rev, Rev, int] | None:
        ki = self.items.get(key)
        return ki.get(at_rev) if ki is not None else None

    def revisions(self, key: bytes, end: bytes | None, at_rev: int, limit: int) -> tuple[list[Rev], int]:
        if end is None:
            r = self.get(key, at_rev)
            return ([r[0]], 1) if r else ([], 0)
        revs: list[Rev] = []
        total = 0
        for ki in self._visit(key, end):
            r = ki.get(at_rev)
            if r is not None:
                if limit <= 0 or len(revs) < limit:
                    revs.append(r[0])
                total += 1
        return revs, total

    def count(self, key: bytes, end: bytes | None, at_rev: int) -> int:
        if end is None:
            return 1 if self.get(key, at_rev) else 0
        return sum(1 for ki in self._visit(key, end) if ki.get(at_rev) is not None)

    def range_keys(self, key: bytes, end: bytes | None, at_rev: int) -> list[bytes]:
        if end is None:
            return [key] if self.get(key, at_rev) else []
        return [ki.key for ki in self._visit(key, end) if ki.get(at_rev) is not None]

    def put(self, key: bytes, rev: Rev) -> None:
        ki = self.items.get(key)
        if ki is None:
            ki = KeyIndex(key)
            self.items[key] = ki
            bisect.insort(self.keys, key)
        ki.put(rev)

    def restore_put(self, key: bytes, created: Rev, rev: Rev, ver: int) -> None:
        ki = self.items.get(key)
        if ki is None:
            ki = KeyIndex(key)
            ki.restore(created, rev, ver)
            self.items[key] = ki
            bisect.insort(self.keys, key)
        else:
            ki.put(rev)

    def tombstone(self, key: bytes, rev: Rev) -> None:
        ki = self.items.get(key)
        if ki is not None:
            ki.tombstone(rev)

    def compact(self, rev: int) -> set[Rev]:
        available: set[Rev] = set()
        dead: list[bytes] = []
        for k, ki in self.items.items():
            ki.compact(rev, available)
            if ki.is_empty():
                dead.append(k)
        if dead:
            for k in dead:
                del self.items[k]
            self.keys = sorted(self.items)
        return available

    def keep(self, rev: int) -> set[Rev]:
        available: set[Rev] = set()
        for ki in self.items.values():
            ki.keep(rev, available)
        return available
