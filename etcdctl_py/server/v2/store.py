"""The etcd v2 store: a tree of directories and key/value nodes with etcd's index rules.

Same semantics as etcd's server/etcdserver/api/v2store: one global index bumped by every
successful write; TTL expiry happens only when `delete_expired()` runs (etcd's leader SYNC,
every 500 ms); watches are answered from a 1000-event history or parked until a matching
event; errors carry the store index at failure time. Internal namespaces "/0" (membership),
"/1" (user keys, the root of /v2/keys) and "/2" (v2 auth) are read-only roots.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from etcdctl_py.storage.v2store import STATS_FIELDS

from .errors import (
    ECODE_DIR_NOT_EMPTY,
    ECODE_EVENT_INDEX_CLEARED,
    ECODE_KEY_NOT_FOUND,
    ECODE_NODE_EXIST,
    ECODE_NOT_DIR,
    ECODE_NOT_FILE,
    ECODE_ROOT_RONLY,
    ECODE_TEST_FAILED,
    InternalError,
    V2StoreError,
)

HISTORY = 1000
NAMESPACES = ("/0", "/1")


def clean(p: str) -> str:
    """path.Clean(path.Join("/", p))."""
    c = posixpath.normpath("/" + p)
    if c.startswith("//"):
        c = "/" + c.lstrip("/")
    return c


class Node:
    __slots__ = ("path", "created", "modified", "parent", "expire", "value", "children")

    def __init__(
        self, path: str, created: int, parent: Node | None, expire: float | None, value: str = "", is_dir: bool = False
    ) -> None:
        self.path, self.created, self.modified, self.parent = path, created, created, parent
        self.expire = expire  # unix seconds (float) or None for permanent
        self.value = value
        self.children: dict[str, Node] | None = {} if is_dir else None

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def hidden(self) -> bool:
        n = self.name
        return bool(n) and n[0] == "_"

    def exp_ttl(self, now: float) -> tuple[str | None, int]:
        if self.expire is None:
            return None, 0
        rem_ns = int(round((self.expire - now) * 1e9))
        ttl = rem_ns // 1_000_000_000
        if rem_ns % 1_000_000_000 > 0:
            ttl += 1
        return rfc3339nano(self.expire), ttl

    def extern(self, recursive: bool, sorted_: bool, now: float) -> dict:
        """Node.Repr: dirs list children only when recursive; hidden children are skipped."""
        return self._repr(recursive, recursive, sorted_, now)

    def load(self, recursive: bool, sorted_: bool, now: float) -> dict:
        """NodeExtern.loadInternalNode (a get): a dir always lists its direct children."""
        return self._repr(True, recursive, sorted_, now)

    def _repr(self, list_children: bool, recursive: bool, sorted_: bool, now: float) -> dict:
        d: dict = {"key": self.path}
        if self.is_dir:
            d["dir"] = True
            if list_children:
                d["nodes"] = self._children_extern(recursive, sorted_, now)
        else:
            d["value"] = self.value
        exp, ttl = self.exp_ttl(now)
        if exp is not None:
            d["expiration"], d["ttl"] = exp, ttl
        d["modifiedIndex"], d["createdIndex"] = self.modified, self.created
        return d

    def _children_extern(self, recursive: bool, sorted_: bool, now: float) -> list[dict]:
        assert self.children is not None
        kids = [c.extern(recursive, sorted_, now) for c in self.children.values() if not c.hidden()]
        if sorted_:
            kids.sort(key=lambda n: n["key"].encode("utf-8", "surrogateescape"))
        return kids

    def to_state(self) -> dict:
        d: dict = {"p": self.path, "c": self.created, "m": self.modified}
        if self.expire is not None:
            d["e"] = self.expire
        if self.is_dir:
            d["k"] = [ch.to_state() for ch in self.children.values()]  # type: ignore[union-attr]
        else:
            d["v"] = self.value
        return d

    @classmethod
    def from_state(cls, d: dict, parent: Node | None) -> Node:
        n = cls(d["p"], d["c"], parent, d.get("e"), d.get("v", ""), "k" in d)
        n.modified = d["m"]
        for k in d.get("k", []):
            ch = cls.from_state(k, n)
            n.children[ch.name] = ch  # type: ignore[index]
        return n


def rfc3339nano(t: float) -> str:
    """Go's time.Time RFC3339Nano in UTC (trailing zeros of the fraction removed)."""
    ns_total = int(round(t * 1e9))
    secs, ns = divmod(ns_total, 1_000_000_000)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns:09d}".rstrip("0")
    return base + ("." + frac if frac else "") + "Z"


@dataclass
class Event:
    action: str
    node: dict
    prev: dict | None = None
    etcd_index: int = 0
    refresh: bool = False

    @property
    def index(self) -> int:
        return self.node.get("modifiedIndex", 0)


@dataclass
class Watcher:
    key: str
    recursive: bool
    since: int
    start_index: int
    deliver: Callable[[Event], None]
    stream: bool = False
    removed: bool = False


@dataclass
class Stats:
    # etcd's v2 store stats (the watcher count is read live, not counted here)
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in STATS_FIELDS if k != "watchers"})

    def inc(self, k: str) -> None:
        self.counts[k] += 1


class Store:
    """Thread-safe v2 store; `on_change` is called (under the lock) after every mutation."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.index = 0
        self.root = Node("/", 0, None, None, is_dir=True)
        for ns in NAMESPACES:
            self.root.children[ns[1:]] = Node(ns, 0, self.root, None, is_dir=True)  # type: ignore[index]
        self.readonly = {"/", *NAMESPACES}
        self.history: list[Event] = []
        self.watchers: dict[str, list[Watcher]] = {}
        self.stats = Stats()
        self.on_change: Callable[[], None] = lambda: None

    # ---- helpers
    def _get(self, p: str) -> Node:
        p = clean(p)
        cur = self.root
        for comp in p.split("/")[1:]:
            if not comp:
                return cur
            if not cur.is_dir:
                raise V2StoreError(ECODE_NOT_DIR, cur.path, self.index)
            nxt = cur.children.get(comp)  # type: ignore[union-attr]
            if nxt is None:
                raise V2StoreError(ECODE_KEY_NOT_FOUND, posixpath.join(cur.path, comp), self.index)
            cur = nxt
        return cur

    def _walk_dirs(self, dir_path: str) -> Node:
        """Walk to dir_path creating missing directories (checkDir)."""
        cur = self.root
        for comp in dir_path.split("/")[1:]:
            if not comp:
                return cur
            ch = cur.children.get(comp)  # type: ignore[union-attr]
            if ch is not None:
                if not ch.is_dir:
                    raise V2StoreError(ECODE_NOT_DIR, ch.path, self.index)
                cur = ch
                continue
            n = Node(posixpath.join(cur.path, comp), self.index + 1, cur, None, is_dir=True)
            cur.children[comp] = n  # type: ignore[index]
            cur = n
        return cur

    def _remove(self, n: Node, dir_: bool, recursive: bool, cb: Callable[[str], None] | None) -> None:
        if not n.is_dir:
            if n.parent is not None and n.parent.children.get(n.name) is n:  # type: ignore[union-attr]
                del n.parent.children[n.name]  # type: ignore[union-attr]
            if cb:
                cb(n.path)
            return
        if not dir_:
            raise V2StoreError(ECODE_NOT_FILE, n.path, self.index)
        if n.children and not recursive:
            raise V2StoreError(ECODE_DIR_NOT_EMPTY, n.path, self.index)
        for ch in list(n.children.values()):  # type: ignore[union-attr]
            self._remove(ch, True, True, cb)
        if n.parent is not None and n.parent.children.get(n.name) is n:  # type: ignore[union-attr]
            del n.parent.children[n.name]  # type: ignore[union-attr]
            if cb:
                cb(n.path)

    def _expire_time(self, expire: float | None) -> float | None:
        # etcd treats expire times before 2000-01-01 as permanent.
        if expire is None or expire < 946684800.0:
            return None
        return expire

    @contextmanager
    def _counted(self, op: str) -> Iterator[None]:
        """etcd's store statistics: <op>Fail when the block fails with a store (or internal) error, else
        <op>Success."""
        try:
            yield
        except (V2StoreError, InternalError):
            self.stats.inc(op + "Fail")
            raise
        self.stats.inc(op + "Success")

    # ---- reads
    def get(self, p: str, recursive: bool, sorted_: bool) -> Event:
        with self.lock:
            with self._counted("gets"):
                n = self._get(p)
            ev = Event("get", n.load(recursive, sorted_, self.clock()), etcd_index=self.index)
            ev.node["key"] = clean(p)
            return ev

    # ---- writes
    def _create(
        self, p: str, dir_: bool, value: str, unique: bool, replace: bool, expire: float | None, action: str
    ) -> Event:
        cur, nxt = self.index, self.index + 1
        if unique:
            p += "/" + f"{nxt:020d}"
        p = clean(p)
        if p in self.readonly:
            raise V2StoreError(ECODE_ROOT_RONLY, "/", cur)
        expire = self._expire_time(expire)
        dname, name = posixpath.split(p)
        try:
            d = self._walk_dirs(dname)
        except V2StoreError as e:
            e.index = cur
            raise
        ev = Event(action, {"key": p, "modifiedIndex": nxt, "createdIndex": nxt})
        old = d.children.get(name)  # type: ignore[union-attr]
        if old is not None:
            if not replace:
                raise V2StoreError(ECODE_NODE_EXIST, p, cur)
            if old.is_dir:
                raise V2StoreError(ECODE_NOT_FILE, p, cur)
            ev.prev = old.extern(False, False, self.clock())
            self._remove(old, False, False, None)
        if dir_:
            ev.node["dir"] = True
            n = Node(p, nxt, d, expire, is_dir=True)
        else:
            ev.node["value"] = value
            n = Node(p, nxt, d, expire, value)
        d.children[name] = n  # type: ignore[index]
        exp, ttl = n.exp_ttl(self.clock())
        if exp is not None:
            ev.node["expiration"], ev.node["ttl"] = exp, ttl
        self.index = nxt
        return ev

    def create(self, p: str, dir_: bool, value: str, unique: bool, expire: float | None) -> Event:
        with self.lock:
            with self._counted("create"):
                ev = self._create(p, dir_, value, unique, False, expire, "create")
            ev.etcd_index = self.index
            self._notify(ev)
            return ev

    def set(self, p: str, dir_: bool, value: str, expire: float | None, refresh: bool = False) -> Event:
        with self.lock:
            with self._counted("sets"):
                try:
                    n: Node | None = self._get(p)
                except V2StoreError as e:
                    if e.code != ECODE_KEY_NOT_FOUND or refresh:
                        raise
                    n = None
                if refresh and n is not None:
                    value = n.value
                prev = n.extern(False, False, self.clock()) if n is not None else None
                ev = self._create(p, dir_, value, False, True, expire, "set")
            ev.etcd_index = self.index
            if prev is not None:
                ev.prev = prev
            self._notify(ev, refresh)
            return ev

    def update(self, p: str, value: str, expire: float | None, refresh: bool = False) -> Event:
        with self.lock:
            with self._counted("update"):
                p = clean(p)
                if p in self.readonly:
                    raise V2StoreError(ECODE_ROOT_RONLY, "/", self.index)
                nxt = self.index + 1
                n = self._get(p)
                if n.is_dir and value:
                    raise V2StoreError(ECODE_NOT_FILE, p, self.index)
                if refresh:
                    value = n.value
                if n.is_dir:
                    # etcd wraps node.Write's error with fmt.Errorf("nodePath %v : %v"): no longer a v2 error, so a
                    # 500 (Raft Internal) whose cause is the wrapped text, v2error's Error(): no index in it
                    raise InternalError(f"nodePath {p} : Not a file ()")
                ev = Event(
                    "update",
                    {"key": p, "modifiedIndex": nxt, "createdIndex": n.created},
                    n.extern(False, False, self.clock()),
                )
                n.value, n.modified = value, nxt
                self._update_ttl(n, expire)
                ev.node["value"] = value
                exp, ttl = n.exp_ttl(self.clock())
                if exp is not None:
                    ev.node["expiration"], ev.node["ttl"] = exp, ttl
            ev.etcd_index = nxt
            self.index = nxt
            self._notify(ev, refresh)
            return ev

    def _update_ttl(self, n: Node, expire: float | None) -> None:
        n.expire = self._expire_time(expire)

    @staticmethod
    def _compare(n: Node, prev_value: str, prev_index: int) -> str | None:
        idx_ok = prev_index == 0 or n.modified == prev_index
        val_ok = prev_value == "" or n.value == prev_value
        if idx_ok and val_ok:
            return None
        if idx_ok:
            return f"[{prev_value} != {n.value}]"
        if val_ok:
            return f"[{prev_index} != {n.modified}]"
        return f"[{prev_value} != {n.value}] [{prev_index} != {n.modified}]"

    def _compared_file(self, p: str, prev_value: str, prev_index: int) -> Node:
        """The key node a compare-and-swap/delete acts on, once its checks pass (not a dir, the compare holds)."""
        n = self._get(p)
        if n.is_dir:
            raise V2StoreError(ECODE_NOT_FILE, p, self.index)
        cause = self._compare(n, prev_value, prev_index)
        if cause is not None:
            raise V2StoreError(ECODE_TEST_FAILED, cause, self.index)
        return n

    def compare_and_swap(
        self, p: str, prev_value: str, prev_index: int, value: str, expire: float | None, refresh: bool = False
    ) -> Event:
        with self.lock:
            with self._counted("compareAndSwap"):
                p = clean(p)
                if p in self.readonly:
                    raise V2StoreError(ECODE_ROOT_RONLY, "/", self.index)
                n = self._compared_file(p, prev_value, prev_index)
            if refresh:
                value = n.value
            self.index += 1
            ev = Event(
                "compareAndSwap",
                {"key": p, "modifiedIndex": self.index, "createdIndex": n.created},
                n.extern(False, False, self.clock()),
                self.index,
            )
            n.value, n.modified = value, self.index
            self._update_ttl(n, expire)
            ev.node["value"] = value
            exp, ttl = n.exp_ttl(self.clock())
            if exp is not None:
                ev.node["expiration"], ev.node["ttl"] = exp, ttl
            self._notify(ev, refresh)
            return ev

    def delete(self, p: str, dir_: bool, recursive: bool) -> Event:
        with self.lock:
            with self._counted("delete"):
                p = clean(p)
                if p in self.readonly:
                    raise V2StoreError(ECODE_ROOT_RONLY, "/", self.index)
                if recursive:
                    dir_ = True
                n = self._get(p)
                nxt = self.index + 1
                ev = Event(
                    "delete",
                    {"key": p, "modifiedIndex": nxt, "createdIndex": n.created},
                    n.extern(False, False, self.clock()),
                    nxt,
                )
                if n.is_dir:
                    ev.node["dir"] = True
                self._remove(n, dir_, recursive, self._deleted_notifier(ev))
            self.index = nxt
            self._notify(ev)
            return ev

    def compare_and_delete(self, p: str, prev_value: str, prev_index: int) -> Event:
        with self.lock:
            with self._counted("compareAndDelete"):
                p = clean(p)
                n = self._compared_file(p, prev_value, prev_index)
            self.index += 1
            ev = Event(
                "compareAndDelete",
                {"key": p, "modifiedIndex": self.index, "createdIndex": n.created},
                n.extern(False, False, self.clock()),
                self.index,
            )
            self._remove(n, False, False, self._deleted_notifier(ev))
            self._notify(ev)
            return ev

    def delete_expired(self, cutoff: float | None = None) -> int:
        """etcd's SYNC apply: remove every node whose expiry is <= cutoff; returns how many."""
        cutoff = self.clock() if cutoff is None else cutoff
        count = 0
        with self.lock:
            while True:
                n = self._earliest_expiring()
                if n is None or n.expire is None or n.expire > cutoff:
                    break
                self.index += 1
                ev = Event(
                    "expire",
                    {"key": n.path, "modifiedIndex": self.index, "createdIndex": n.created},
                    n.extern(False, False, self.clock()),
                    self.index,
                )
                if n.is_dir:
                    ev.node["dir"] = True
                self._remove(n, True, True, self._deleted_notifier(ev))
                self.stats.inc("expireCount")
                self._notify(ev)
                count += 1
        return count

    def _earliest_expiring(self) -> Node | None:
        best: Node | None = None
        stack = [self.root]
        while stack:
            n = stack.pop()
            if n.expire is not None and (best is None or n.expire < best.expire):  # type: ignore[operator]
                best = n
            if n.children:
                stack.extend(n.children.values())
        return best

    def has_ttl_keys(self) -> bool:
        return self._earliest_expiring() is not None

    # ---- watches
    def watch(
        self, key: str, recursive: bool, stream: bool, since: int, deliver: Callable[[Event], None]
    ) -> Watcher | Event:
        """An Event (already in history; etcd_index = current index) or a parked Watcher."""
        with self.lock:
            key = clean(key)
            if since == 0:
                since = self.index + 1
            ev = self._scan(key, recursive, since)
            if ev is not None:
                return Event(ev.action, ev.node, ev.prev, self.index)
            w = Watcher(key, recursive, since, self.index, deliver, stream)
            self.watchers.setdefault(key, []).append(w)
            return w

    def cancel(self, w: Watcher) -> None:
        with self.lock:
            if not w.removed:
                w.removed = True
                lst = self.watchers.get(w.key, [])
                if w in lst:
                    lst.remove(w)
                if not lst:
                    self.watchers.pop(w.key, None)

    def watcher_count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.watchers.values())

    def _scan(self, key: str, recursive: bool, index: int) -> Event | None:
        if not self.history:
            return None
        start, last = self.history[0].index, self.history[-1].index
        if index < start:
            raise V2StoreError(
                ECODE_EVENT_INDEX_CLEARED, f"the requested history has been cleared [{start}/{index}]", self.index
            )
        if index > last:
            return None
        for e in self.history[index - start :]:
            if e.refresh:
                continue
            k = e.node["key"]
            ok = k == key
            if recursive:
                nkey = key if key.endswith("/") else key + "/"
                ok = ok or k.startswith(nkey)
            if e.action in ("delete", "expire") and e.prev is not None and e.prev.get("dir"):
                ok = ok or key.startswith(e.prev["key"])
            if ok:
                return e
        return None

    def _add_history(self, ev: Event) -> None:
        self.history.append(ev)
        if len(self.history) > HISTORY:
            del self.history[: len(self.history) - HISTORY]

    def _notify(self, ev: Event, refresh: bool = False) -> None:
        if refresh:
            ev.refresh = True
            self._add_history(ev)
            self.on_change()
            return
        self._add_history(ev)
        cur = "/"
        for seg in ev.node["key"].split("/"):
            cur = posixpath.join(cur, seg) if seg else cur
            self._notify_watchers(ev, cur, False)
        self.on_change()

    def _deleted_notifier(self, ev: Event) -> Callable[[str], None]:
        """What _remove() calls for each node a deletion removes: the watchers of that path see `ev`."""
        return lambda path: self._notify_watchers(ev, path, True)

    def _notify_watchers(self, ev: Event, path: str, deleted: bool) -> None:
        lst = self.watchers.get(path)
        if not lst:
            return
        for w in list(lst):
            original = ev.node["key"] == path
            if (
                (original or not _is_hidden(path, ev.node["key"]))
                and (w.recursive or original or deleted)
                and ev.index >= w.since
            ):
                w.deliver(ev)
                if not w.stream:
                    w.removed = True
                    lst.remove(w)
        if not lst:
            self.watchers.pop(path, None)

    # ---- persistence
    def to_state(self) -> dict:
        with self.lock:
            return {"index": self.index, "root": self.root.to_state(), "stats": dict(self.stats.counts)}

    def load_state(self, d: dict) -> None:
        with self.lock:
            self.index = d["index"]
            self.root = Node.from_state(d["root"], None)
            self.stats.counts.update(d.get("stats", {}))
            self.history = []


def _is_hidden(watch_path: str, key_path: str) -> bool:
    if len(watch_path) > len(key_path):
        return False
    after = clean("/" + key_path[len(watch_path) :])
    return "/_" in after
