"""etcd's v2 store as it is serialised inside a raft snapshot (the `.snap` file's `Data`).

etcd 3.5 recovers membership from this JSON, so restore must write it exactly as Go's json.Marshal of the store
does (struct field order, sorted map keys, Go escaping); backup must load one, swap the membership and save it.
Only the operations those two need are modelled: create a key (with implicit parent directories), delete a
directory recursively, and the event history / stats / index bookkeeping they cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from etcdctl_py.storage.membership import Member, go_json_string

ZERO_TIME = "0001-01-01T00:00:00Z"
HISTORY_CAPACITY = 1000
STATS_FIELDS = (
    "getsSuccess",
    "getsFail",
    "setsSuccess",
    "setsFail",
    "deleteSuccess",
    "deleteFail",
    "updateSuccess",
    "updateFail",
    "createSuccess",
    "createFail",
    "compareAndSwapSuccess",
    "compareAndSwapFail",
    "compareAndDeleteSuccess",
    "compareAndDeleteFail",
    "expireCount",
    "watchers",
)


class V2StoreError(ValueError):
    """The snapshot's v2 store JSON cannot be used."""


@dataclass
class Node:
    """A v2 node: a directory iff `children` is not None (Go: non-nil Children map)."""

    path: str
    created: int = 0
    modified: int = 0
    expire_time: str = ZERO_TIME
    value: str = ""
    children: dict[str, Node] | None = None

    def to_json(self) -> str:
        if self.children is None:
            kids = "null"
        else:
            kids = (
                "{"
                + ",".join(go_json_string(k) + ":" + self.children[k].to_json() for k in sorted(self.children))
                + "}"
            )
        return (
            f'{{"Path":{go_json_string(self.path)},"CreatedIndex":{self.created},'
            f'"ModifiedIndex":{self.modified},"ExpireTime":{go_json_string(self.expire_time)},'
            f'"Value":{go_json_string(self.value)},"Children":{kids}}}'
        )

    @classmethod
    def from_obj(cls, o: dict) -> Node:
        kids = o.get("Children")
        return cls(
            path=o.get("Path", ""),
            created=int(o.get("CreatedIndex", 0)),
            modified=int(o.get("ModifiedIndex", 0)),
            expire_time=o.get("ExpireTime") or ZERO_TIME,
            value=o.get("Value", ""),
            children=None if kids is None else {k: cls.from_obj(v) for k, v in kids.items()},
        )


def _extern_json(e: dict | None) -> str:
    """Go json of a NodeExtern with its omitempty fields (the subset events here carry)."""
    if e is None:
        return "null"
    parts = []
    if e.get("key"):
        parts.append('"key":' + go_json_string(e["key"]))
    if "value" in e and e["value"] is not None:
        parts.append('"value":' + go_json_string(e["value"]))
    if e.get("dir"):
        parts.append('"dir":true')
    if e.get("expiration"):
        parts.append('"expiration":' + go_json_string(e["expiration"]))
    if e.get("ttl"):
        parts.append(f'"ttl":{int(e["ttl"])}')
    if e.get("nodes"):
        parts.append('"nodes":[' + ",".join(_extern_json(n) for n in e["nodes"]) + "]")
    if e.get("modifiedIndex"):
        parts.append(f'"modifiedIndex":{int(e["modifiedIndex"])}')
    if e.get("createdIndex"):
        parts.append(f'"createdIndex":{int(e["createdIndex"])}')
    return "{" + ",".join(parts) + "}"


def _event_json(ev: dict | None) -> str:
    if ev is None:
        return "null"
    out = '{"action":' + go_json_string(ev.get("action", ""))
    if ev.get("node") is not None:
        out += ',"node":' + _extern_json(ev["node"])
    if ev.get("prevNode") is not None:
        out += ',"prevNode":' + _extern_json(ev["prevNode"])
    if ev.get("refresh"):
        out += ',"refresh":true'
    return out + "}"


@dataclass
class EventQueue:
    """v2store's eventQueue: a ring of the last `capacity` events (None where none was stored yet)."""

    events: list[dict | None] = field(default_factory=lambda: [None] * HISTORY_CAPACITY)
    size: int = 0
    front: int = 0
    back: int = 0
    capacity: int = HISTORY_CAPACITY

    @classmethod
    def from_obj(cls, q: dict) -> EventQueue:
        cap = int(q.get("Capacity") or HISTORY_CAPACITY)
        events = list(q.get("Events") or [])
        events += [None] * (cap - len(events))
        return cls(
            events=events[:cap],
            size=int(q.get("Size", 0)),
            front=int(q.get("Front", 0)),
            back=int(q.get("Back", 0)),
            capacity=cap,
        )

    def insert(self, ev: dict) -> None:
        """eventQueue.insert: the oldest event drops out once the ring is full."""
        self.events[self.back] = ev
        self.back = (self.back + 1) % self.capacity
        if self.size == self.capacity:
            self.front = (self.front + 1) % self.capacity
        else:
            self.size += 1

    def to_json(self) -> str:
        events = ",".join(_event_json(e) for e in self.events)
        return (
            f'{{"Events":[{events}],"Size":{self.size},"Front":{self.front},"Back":{self.back},'
            f'"Capacity":{self.capacity}}}'
        )


@dataclass
class EventHistory:
    """v2store's EventHistory: the range of indexes its event queue holds, and the queue."""

    start_index: int = 0
    last_index: int = 0
    queue: EventQueue = field(default_factory=EventQueue)

    @classmethod
    def from_obj(cls, h: dict) -> EventHistory:
        return cls(
            queue=EventQueue.from_obj(h.get("Queue") or {}),
            start_index=int(h.get("StartIndex", 0)),
            last_index=int(h.get("LastIndex", 0)),
        )

    def add(self, ev: dict, index: int) -> None:
        """EventHistory.addEvent."""
        self.queue.insert(ev)
        self.last_index = index
        first = self.queue.events[self.queue.front]
        self.start_index = _event_index(first) if first else 0

    def to_json(self) -> str:
        return f'{{"Queue":{self.queue.to_json()},"StartIndex":{self.start_index},"LastIndex":{self.last_index}}}'


@dataclass
class V2Store:
    """The whole serialised store: tree, event history, index, stats, version."""

    root: Node
    current_index: int = 0
    history: EventHistory = field(default_factory=EventHistory)
    stats: dict[str, int] = field(default_factory=lambda: {k: 0 for k in STATS_FIELDS})
    current_version: int = 2

    @classmethod
    def new(cls, *namespaces: str) -> V2Store:
        """v2store.New(namespaces...): an empty root with permanent top directories (etcd uses /0 and /1)."""
        top = {ns.strip("/"): Node(ns, children={}) for ns in namespaces}
        return cls(root=Node("/", children=top))

    @classmethod
    def load(cls, data: bytes) -> V2Store:
        """store.Recovery: parse the JSON etcd saved."""
        try:
            o = json.loads(data)
            stats = {k: int((o.get("Stats") or {}).get(k, 0)) for k in STATS_FIELDS}
            return cls(
                root=Node.from_obj(o["Root"]),
                current_index=int(o.get("CurrentIndex", 0)),
                history=EventHistory.from_obj((o.get("WatcherHub") or {}).get("EventHistory") or {}),
                stats=stats,
                current_version=int(o.get("CurrentVersion", 2)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise V2StoreError(f"cannot parse v2 store: {e}") from None

    # -- mutations -------------------------------------------------------------------------------------

    def _walk(self, path: str) -> Node | None:
        n = self.root
        for part in [p for p in path.split("/") if p]:
            if n.children is None or part not in n.children:
                return None
            n = n.children[part]
        return n

    def create(self, path: str, value: str) -> None:
        """store.Create of a permanent key, making missing parent directories at the new index."""
        index = self.current_index + 1
        parts = [p for p in path.split("/") if p]
        n = self.root
        cur = ""
        for part in parts[:-1]:
            cur += "/" + part
            if n.children is None:
                raise V2StoreError(f"not a directory: {cur}")
            if part not in n.children:
                n.children[part] = Node(cur, created=index, modified=index, children={})
            n = n.children[part]
        if n.children is None or parts[-1] in n.children:
            raise V2StoreError(f"cannot create {path}")
        n.children[parts[-1]] = Node(path, created=index, modified=index, value=value)
        self.current_index = index
        self.stats["createSuccess"] += 1
        self.history.add(
            {"action": "create", "node": {"key": path, "value": value, "modifiedIndex": index, "createdIndex": index}},
            index,
        )

    def delete_dir(self, path: str) -> None:
        """store.Delete(path, dir=true, recursive=true)."""
        n = self._walk(path)
        if n is None:
            raise V2StoreError(f"key not found: {path}")
        index = self.current_index + 1
        parent = self._walk(path.rsplit("/", 1)[0] or "/")
        assert parent is not None and parent.children is not None
        del parent.children[path.rsplit("/", 1)[1]]
        self.current_index = index
        self.stats["deleteSuccess"] += 1
        is_dir = n.children is not None
        self.history.add(
            {
                "action": "delete",
                "node": {"key": path, "dir": is_dir, "modifiedIndex": index, "createdIndex": n.created},
                "prevNode": {
                    "key": path,
                    "dir": is_dir,
                    "value": None if is_dir else n.value,
                    "modifiedIndex": n.modified,
                    "createdIndex": n.created,
                },
            },
            index,
        )

    def member_ids(self, prefix: str) -> list[str]:
        d = self._walk(prefix)
        return sorted(d.children) if d is not None and d.children is not None else []

    # -- serialisation ---------------------------------------------------------------------------------

    def to_json(self) -> bytes:
        """Go's json.Marshal(store), byte for byte."""
        stats = ",".join(f'"{k}":{self.stats[k]}' for k in STATS_FIELDS)
        s = (
            f'{{"Root":{self.root.to_json()},"WatcherHub":{{"EventHistory":{self.history.to_json()}}},'
            f'"CurrentIndex":{self.current_index},"Stats":{{{stats}}},"CurrentVersion":{self.current_version}}}'
        )
        return s.encode("utf-8", "surrogateescape")


def _event_index(ev: dict) -> int:
    node = ev.get("node") or {}
    return int(node.get("modifiedIndex", 0))


MEMBERS_PREFIX = "/0/members"
REMOVED_MEMBERS_PREFIX = "/0/removed_members"


def save_member(st: V2Store, m: Member) -> None:
    """membership.unsafeSaveMemberToStore: only raftAttributes (members publish attributes themselves)."""
    st.create(f"{MEMBERS_PREFIX}/{m.hex_id}/raftAttributes", m.raft_attributes_json())


def restore_store(members: list[Member]) -> bytes:
    """The v2 store etcdutl's restore puts in the .snap: /0, /1 and each member's raftAttributes in ID order."""
    st = V2Store.new("/0", "/1")
    for m in members:
        save_member(st, m)
    return st.to_json()


def replace_membership(data: bytes, members: list[Member]) -> bytes:
    """What `etcdutl backup` does to the .snap's store: drop all (removed) members, add the given ones."""
    st = V2Store.load(data)
    # membersFromStore: a recursive Get of /0/members, then (only if that existed) of /0/removed_members;
    # each Get counts as a success or a failure in the store's stats.
    removed: list[str] = []
    if st._walk(MEMBERS_PREFIX) is None:
        st.stats["getsFail"] += 1
    else:
        st.stats["getsSuccess"] += 1
        if st._walk(REMOVED_MEMBERS_PREFIX) is None:
            st.stats["getsFail"] += 1
        else:
            st.stats["getsSuccess"] += 1
            removed = st.member_ids(REMOVED_MEMBERS_PREFIX)
    for mid in st.member_ids(MEMBERS_PREFIX):
        st.delete_dir(f"{MEMBERS_PREFIX}/{mid}")
    for mid in removed:
        st.delete_dir(f"{REMOVED_MEMBERS_PREFIX}/{mid}")
    for m in sorted(members, key=lambda x: x.id):
        save_member(st, m)
    return st.to_json()
