"""The v2 HTTP API of etcd-py (`--enable-v2`): /v2/keys, /v2/members, /v2/machines, /v2/stats/*, /v2/auth/*.

`V2Api.serve()` answers one request on the front listener's asyncio loop (the work itself runs in a worker
thread: writes fsync the store file): a `(status, headers, body)` Result, or for a wait (`?wait=true`) a
Streamed reply whose headers go out at once and whose event follows when it happens, every event with
`stream=true`, as etcd's handleKeyWatch writes them. The CORS headers and the rest of net/http's header block
are the listener's (etcdctl_py.server.httpreply).

Persistence: the v2 store is saved as JSON to `<data_dir>/v2/store.json` after every change,
written to a temporary sibling file, fsynced and renamed (atomic on POSIX). A restart re-publishes
the member's attributes (one store write), as a restarted etcd does.

Membership: /v2/members reads and changes a `Membership` (etcdctl_py.server.membership). On etcd-py it is the
one over the server's own member dict, the one the v3 Cluster service's MemberList answers from (wired in
mount.py), so `ETCDCTL_API=2 etcdctl member add` shows up in the v3 `member list` and a member changed on the v3
side shows up here (its /0/members store nodes are written when the v2 API next answers, as etcd's apply does).
On etcd-py every change goes through the server's Membership, which writes it to the WAL as a raft ConfChange
and to the backend's members buckets, as etcd does; the store file's "added"/"removed"/"peer_urls" copies are
kept for a member list that has no WAL behind it, and are only re-applied at start where the WAL does not hold them.

Not modelled: v2 auth by client certificate looks at the leaf certificate's CN only (etcd also tries the CNs of
the verified chain); the v2 keys of a real etcd data dir (its .snap and WAL) are not imported when
etcd-py starts on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote_to_bytes

from etcdctl_py.gofmt import format_duration, go_json, go_struct, parse_bool
from etcdctl_py.server.httpreply import Reply, Result, Streamed, http_error, not_allowed, not_found

from ..identity import Member
from ..membership import (
    ERR_ID_EXISTS,
    ERR_ID_NOT_FOUND,
    ERR_ID_REMOVED,
    ERR_PEER_URL_EXISTS,
    Membership,
    MembershipError,
)
from .auth import V2AuthStore
from .auth_http import AuthHttp
from .errors import (
    ECODE_INDEX_NAN,
    ECODE_INVALID_FIELD,
    ECODE_INVALID_FORM,
    ECODE_PREV_VALUE_REQUIRED,
    ECODE_RAFT_INTERNAL,
    ECODE_REFRESH_TTL_REQUIRED,
    ECODE_REFRESH_VALUE,
    ECODE_TTL_NAN,
    ECODE_UNAUTHORIZED,
    InternalError,
    V2StoreError,
)
from .member_req import parse_peer_urls
from .store import Event, Store, clean, rfc3339nano

KEYS_PREFIX = "/v2/keys"
MEMBERS_PREFIX = "/v2/members"
STORE_KEYS_PREFIX = "/1"
WATCH_BUFFER = 100  # etcd's watcher channel: a stream that falls this far behind is ended


class MemberLike(Protocol):
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str]


@dataclass
class V2Member:
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str] = field(default_factory=list)


@dataclass
class V2Identity:
    """What the v2 API needs to know about the server it is mounted on.

    `members` may hold etcdctl_py.server.identity.Member objects (duck-typed): the members at start.
    `membership` (an etcdctl_py.server.membership.Membership) routes member reads and changes to the
    server's own member list; without it the API keeps membership in memory. The raft callables
    give the server's raft numbers.
    """

    cluster_id: int
    member_id: int
    members: list[Any]
    name: str = ""
    token: str = "etcd-cluster"
    server_version: str = "3.5.1"
    cluster_version: str = "3.5.0"
    raft_index: Callable[[], int] | None = None
    raft_term: Callable[[], int] | None = None
    membership: Any = None
    start_time: float = field(default_factory=time.time)


def _node_json(n: dict | None) -> dict | None:
    """NodeExtern (Value and Expiration are pointers), keys trimmed of the "/1" store prefix."""
    if n is None:
        return None
    key = n.get("key", "")
    return go_struct(
        ("key", key.removeprefix(STORE_KEYS_PREFIX), "omitempty"),
        ("value", n.get("value"), "ptr"),
        ("dir", n.get("dir", False), "omitempty"),
        ("expiration", n.get("expiration"), "ptr"),
        ("ttl", n.get("ttl", 0), "omitempty"),
        ("nodes", [_node_json(c) for c in n.get("nodes") or []], "omitempty"),
        ("modifiedIndex", n.get("modifiedIndex", 0), "omitempty"),
        ("createdIndex", n.get("createdIndex", 0), "omitempty"),
    )


def event_body(ev: Event) -> bytes:
    d: dict = {"action": ev.action, "node": _node_json(ev.node)}
    if ev.prev is not None:
        d["prevNode"] = _node_json(ev.prev)
    # No "refresh" field: etcd answers with Event.Clone(), which drops it.
    return (go_json(d) + "\n").encode("utf-8")


def _parse_uint(v: str) -> int:
    if not v or not v.isdigit():
        raise ValueError(v)
    n = int(v)
    if n >= 2**64:
        raise ValueError(v)
    return n


class _Form:
    """r.Form after ParseForm: body values (form-encoded PUT/POST) first, then the query."""

    def __init__(self, query: str, body: bytes, ctype: str, method: str) -> None:
        self.values: dict[str, list[str]] = {}
        if (
            method in ("PUT", "POST", "PATCH")
            and ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        ):
            self._add(body.decode("utf-8", "surrogateescape"))
        self._add(query)

    def _add(self, qs: str) -> None:
        for k, v in parse_qsl(qs, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
            self.values.setdefault(k, []).append(v)

    def has(self, k: str) -> bool:
        return k in self.values

    def get(self, k: str) -> str:
        return self.values.get(k, [""])[0]

    def uint(self, k: str) -> int:
        return _parse_uint(self.values[k][0]) if k in self.values else 0

    def boolean(self, k: str) -> bool:
        return parse_bool(self.values[k][0]) if k in self.values else False


@dataclass
class KeyRequest:
    method: str
    path: str
    val: str = ""
    dir: bool = False
    prev_value: str = ""
    prev_index: int = 0
    prev_exist: bool | None = None
    wait: bool = False
    since: int = 0
    recursive: bool = False
    sorted: bool = False
    quorum: bool = False
    stream: bool = False
    refresh: bool | None = None
    expire: float | None = None
    no_value_on_success: bool = False


def parse_key_request(method: str, raw_path: str, query: str, ctype: str, body: bytes) -> KeyRequest:
    """parseKeyRequest: the same checks, in the same order, with the same causes."""
    f = _Form(query, body, ctype, method)
    path = unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape")
    if not path.startswith(KEYS_PREFIX):
        raise V2StoreError(ECODE_INVALID_FORM, "incorrect key prefix")
    p = clean(STORE_KEYS_PREFIX + "/" + path[len(KEYS_PREFIX) :])
    r = KeyRequest(method, p)
    try:
        r.prev_index = f.uint("prevIndex")
    except ValueError:
        raise V2StoreError(ECODE_INDEX_NAN, 'invalid value for "prevIndex"') from None
    try:
        r.since = f.uint("waitIndex")
    except ValueError:
        raise V2StoreError(ECODE_INDEX_NAN, 'invalid value for "waitIndex"') from None
    for name, attr in (
        ("recursive", "recursive"),
        ("sorted", "sorted"),
        ("wait", "wait"),
        ("dir", "dir"),
        ("quorum", "quorum"),
        ("stream", "stream"),
    ):
        try:
            setattr(r, attr, f.boolean(name))
        except ValueError:
            raise V2StoreError(ECODE_INVALID_FIELD, f'invalid value for "{name}"') from None
    if r.wait and method != "GET":
        raise V2StoreError(ECODE_INVALID_FIELD, '"wait" can only be used with GET requests')
    r.prev_value = f.get("prevValue")
    if f.has("prevValue") and r.prev_value == "":
        raise V2StoreError(ECODE_PREV_VALUE_REQUIRED, '"prevValue" cannot be empty')
    try:
        r.no_value_on_success = f.boolean("noValueOnSuccess")
    except ValueError:
        raise V2StoreError(ECODE_INVALID_FIELD, 'invalid value for "noValueOnSuccess"') from None
    ttl: int | None = None
    if f.get("ttl"):
        try:
            ttl = f.uint("ttl")
        except ValueError:
            raise V2StoreError(ECODE_TTL_NAN, 'invalid value for "ttl"') from None
    if f.has("prevExist"):
        try:
            r.prev_exist = f.boolean("prevExist")
        except ValueError:
            raise V2StoreError(ECODE_INVALID_FIELD, "invalid value for prevExist") from None
    if f.has("refresh"):
        try:
            r.refresh = f.boolean("refresh")
        except ValueError:
            raise V2StoreError(ECODE_INVALID_FIELD, "invalid value for refresh") from None
        if r.refresh:
            if f.has("value") and f.get("value") != "":
                raise V2StoreError(ECODE_REFRESH_VALUE, "A value was provided on a refresh")
            if ttl is None:
                raise V2StoreError(ECODE_REFRESH_TTL_REQUIRED, "No TTL value set")
    r.val = f.get("value")
    if ttl is not None:
        r.expire = time.time() + ttl
    return r


@dataclass
class _Wait:
    """A parsed long-poll request still to be answered."""

    req: KeyRequest
    hdr: list[tuple[str, str]]


class V2Api:
    """etcd's v2 client handler over our Store; thread-safe."""

    def __init__(self, identity: V2Identity, data_dir: str | None) -> None:
        self.identity = identity
        self.store = Store()
        self.data_dir = data_dir
        self._raft_index = 5
        self._lock = threading.Lock()
        self._members_lock = threading.RLock()  # member changes and their /0/members store nodes, in order
        self.membership = (
            identity.membership
            if identity.membership is not None
            else Membership({m.id: m for m in identity.members}, token=identity.token)
        )
        self._base = {m.id: list(m.peer_urls) for m in identity.members}  # as started: what the file adds to
        self._seen: dict[int, tuple] = {}  # members as the /0/members store nodes last described them
        self.auth = V2AuthStore(self.store, self._bump_raft)
        self.auth_http = AuthHttp(self.auth, self._cid())
        loaded = self._load()
        if not loaded:
            self._bootstrap()
        else:
            self._publish()
            self._save()
        self._seen = self._member_view()
        self.store.on_change = self._save

    @property
    def members(self) -> list[Any]:
        return self.membership.members_sorted()

    @property
    def removed(self) -> set[int]:
        return self.membership.removed

    # ---- persistence
    def _state_path(self) -> str | None:
        return os.path.join(self.data_dir, "v2", "store.json") if self.data_dir else None

    def _load(self) -> bool:
        p = self._state_path()
        if not p or not os.path.exists(p):
            return False
        with open(p, encoding="utf-8", errors="surrogateescape") as fh:
            d = json.load(fh)
        self.store.load_state(d["store"])
        self._raft_index = d.get("raft_index", self._raft_index)
        added = [
            Member(m["id"], m["name"], m["peer_urls"], m["client_urls"], m.get("is_learner", False))
            for m in d.get("added", [])
        ]
        self.membership.restore(added, d.get("removed", []), {int(k, 16): v for k, v in d.get("peer_urls", {}).items()})
        return True

    def _save(self) -> None:
        p = self._state_path()
        if not p:
            return
        os.makedirs(os.path.dirname(p), exist_ok=True)
        members = self.members
        d = {
            "store": self.store.to_state(),
            "raft_index": self._raft_index,
            "removed": sorted(self.removed),
            "added": [
                {
                    "id": m.id,
                    "name": m.name,
                    "peer_urls": list(m.peer_urls),
                    "client_urls": list(m.client_urls),
                    "is_learner": bool(getattr(m, "is_learner", False)),
                }
                for m in members
                if m.id not in self._base
            ],
            "peer_urls": {
                f"{m.id:x}": list(m.peer_urls)
                for m in members
                if m.id in self._base and list(m.peer_urls) != self._base[m.id]
            },
        }
        tmp = p + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
                json.dump(d, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except OSError as err:  # the change is applied in memory but not durable: end, as etcd does on a failed save
            from etcdctl_py.server.zaplog import fatal, os_error_text

            fatal("failed to save v2 store", error=os_error_text("write", tmp, err))

    def _bootstrap(self) -> None:
        """The internal writes a fresh etcd 3.5 makes (member raftAttributes, attributes, cluster version),
        so user keys get the same indexes as on real etcd."""
        for m in self.members:
            self.store.create(
                f"/0/members/{m.id:x}/raftAttributes", False, go_json({"peerURLs": list(m.peer_urls)}), False, None
            )
        self._publish()
        self.store.set("/0/version", False, self.identity.cluster_version, None)

    def _publish(self) -> None:
        """A restarted etcd publishes its attributes again: one more v2 store write (index + 1)."""
        me = self._member(self.identity.member_id)
        if me is not None:
            self.store.set(
                f"/0/members/{me.id:x}/attributes",
                False,
                go_json({"name": me.name, "clientURLs": list(me.client_urls)}),
                None,
            )

    def _member(self, mid: int) -> Any:
        for m in self.members:
            if m.id == mid:
                return m
        return None

    # ---- raft numbers
    def _raft(self) -> tuple[int, int]:
        idx = self.identity.raft_index() if self.identity.raft_index else self._raft_index
        term = self.identity.raft_term() if self.identity.raft_term else 2
        return idx, term

    def _bump_raft(self) -> None:
        with self._lock:
            self._raft_index += 1

    def tick(self) -> None:
        """Call every 500 ms (etcd's leader SYNC): expire TTL keys."""
        if self.store.has_ttl_keys():
            self._bump_raft()
            self.store.delete_expired(time.time())

    # ---- dispatch
    @staticmethod
    def _hdrs() -> list[tuple[str, str]]:
        return [("Content-Type", "application/json")]

    async def serve(
        self, method: str, path: str, query: str, headers: dict, body: bytes, client_cn: str | None = None
    ) -> Reply:
        """Answer one request (client_cn: the verified client certificate's CN under --client-cert-auth). The
        request runs in the loop's default executor; a wait parks on the loop, blocking no thread."""
        loop = asyncio.get_running_loop()
        res = await loop.run_in_executor(None, self._route, method, path, query, headers, body, client_cn)
        return self._watch(res, loop) if isinstance(res, _Wait) else res

    def _watch(self, wait: _Wait, loop: asyncio.AbstractEventLoop) -> Reply:
        """etcd's handleKeyWatch: the headers (X-Etcd-Index is the store index the watch started at) at once, then
        the event: one, or with stream=true each one until the client hangs up or falls WATCH_BUFFER behind."""
        req = wait.req
        queue: asyncio.Queue[Event | None] = asyncio.Queue()

        def offer(ev: Event) -> None:  # on the loop
            if queue.qsize() < WATCH_BUFFER:
                queue.put_nowait(ev)
            elif queue.qsize() == WATCH_BUFFER:
                queue.put_nowait(None)  # etcd closes an overflowing watcher's channel: the stream ends

        def deliver(ev: Event) -> None:  # in the writer's thread, under the store lock
            loop.call_soon_threadsafe(offer, ev)

        try:
            w = self.store.watch(req.path, req.recursive, req.stream, req.since, deliver)
        except V2StoreError as e:  # e.g. 401 the requested history has been cleared
            return self._key_error(e)
        if isinstance(w, Event):  # from history: etcd hands it over and registers no watcher
            queue.put_nowait(w)
            start, close = w.etcd_index, (lambda: None)
        else:
            start, close = w.start_index, (lambda: self.store.cancel(w))
        ri, rt = self._raft()
        hdr = [*wait.hdr, ("X-Etcd-Index", str(start)), ("X-Raft-Index", str(ri)), ("X-Raft-Term", str(rt))]
        return Streamed(200, hdr, _event_lines(queue, req.stream), close)

    def _route(
        self, method: str, path: str, query: str, headers: dict, body: bytes, client_cn: str | None = None
    ) -> Any:
        """client_cn: the TLS client certificate's CN when client-cert auth is on (else None)."""
        hl = {k.lower(): v for k, v in headers.items()}
        self._sync_members()
        if path == KEYS_PREFIX or path.startswith(KEYS_PREFIX + "/"):
            return self._keys(method, path, query, hl, body, client_cn)
        if path == MEMBERS_PREFIX or path.startswith(MEMBERS_PREFIX + "/"):
            return self._members(method, path, hl, body, client_cn)
        if path.startswith("/v2/stats/"):
            return self._stats(method, path[len("/v2/stats/") :])
        if path.startswith("/v2/auth/"):
            return self.auth_http.handle(method, path, hl, body, client_cn)
        if path == "/v2/machines":
            return self._machines(method)
        return not_found()

    def _cid(self) -> tuple[str, str]:
        return ("X-Etcd-Cluster-Id", f"{self.identity.cluster_id:x}")

    def _key_error(self, e: V2StoreError) -> Result:
        if e.cause.startswith(STORE_KEYS_PREFIX):
            e.cause = e.cause[len(STORE_KEYS_PREFIX) :]
        return e.status, [*self._hdrs(), self._cid(), ("X-Etcd-Index", str(e.index))], e.body()

    def _keys(self, method: str, path: str, query: str, hl: dict, body: bytes, client_cn: str | None = None) -> Any:
        if method not in ("HEAD", "GET", "PUT", "POST", "DELETE"):
            return not_allowed("HEAD", "GET", "PUT", "POST", "DELETE")
        try:
            r = parse_key_request(method, path, query, hl.get("content-type", ""), body)
        except V2StoreError as e:
            return self._key_error(e)
        key = unquote_to_bytes(path[len(KEYS_PREFIX) :]).decode("utf-8", "surrogateescape")
        if not self.auth.has_key_access(method, hl.get("authorization", ""), key, r.recursive, client_cn):
            denied = V2StoreError(ECODE_UNAUTHORIZED, "Insufficient credentials", 0)
            return denied.status, [*self._hdrs(), self._cid(), ("X-Etcd-Index", "0")], denied.body()
        if r.method == "GET" and r.wait:
            return _Wait(r, [*self._hdrs(), self._cid()])
        try:
            ev = self._apply(r)
        except V2StoreError as e:
            return self._key_error(e)
        except InternalError as e:
            err = V2StoreError(ECODE_RAFT_INTERNAL, str(e), 0)
            return err.status, [*self._hdrs(), self._cid(), ("X-Etcd-Index", "0")], err.body()
        ri, rt = self._raft()
        h = [
            *self._hdrs(),
            self._cid(),
            ("X-Etcd-Index", str(ev.etcd_index)),
            ("X-Raft-Index", str(ri)),
            ("X-Raft-Term", str(rt)),
        ]
        created = ev.action == "create" or (ev.action == "set" and ev.prev is None)
        out = ev
        if r.no_value_on_success and ev.action in ("set", "compareAndSwap", "create", "update"):
            out = Event(ev.action, None, None, ev.etcd_index)  # type: ignore[arg-type]
            return (201 if created else 200), h, (go_json({"action": ev.action}) + "\n").encode()
        return (201 if created else 200), h, event_body(out)  # a HEAD's body is counted, not sent

    def _apply(self, r: KeyRequest) -> Event:
        s = self.store
        if r.method in ("GET", "HEAD"):
            if r.quorum:
                self._bump_raft()
            return s.get(r.path, r.recursive, r.sorted)
        self._bump_raft()
        refresh = bool(r.refresh)
        if r.method == "POST":
            return s.create(r.path, r.dir, r.val, True, r.expire)
        if r.method == "DELETE":
            if r.prev_index > 0 or r.prev_value:
                return s.compare_and_delete(r.path, r.prev_value, r.prev_index)
            return s.delete(r.path, r.dir, r.recursive)
        # PUT
        if r.prev_exist is not None:
            if r.prev_exist:
                if r.prev_index == 0 and r.prev_value == "":
                    return s.update(r.path, r.val, r.expire, refresh)
                return s.compare_and_swap(r.path, r.prev_value, r.prev_index, r.val, r.expire, refresh)
            return s.create(r.path, r.dir, r.val, False, r.expire)
        if r.prev_index > 0 or r.prev_value:
            return s.compare_and_swap(r.path, r.prev_value, r.prev_index, r.val, r.expire, refresh)
        return s.set(r.path, r.dir, r.val, r.expire, refresh)

    # ---- members
    def _member_json(self, m: Any) -> dict:
        return {"id": f"{m.id:x}", "name": m.name, "peerURLs": list(m.peer_urls), "clientURLs": list(m.client_urls)}

    @staticmethod
    def _raft_attributes(m: Any) -> str:
        """etcd's RaftAttributes JSON (isLearner omitted when false)."""
        d: dict = {"peerURLs": list(m.peer_urls)}
        if getattr(m, "is_learner", False):
            d["isLearner"] = True
        return go_json(d)

    def _member_view(self) -> dict[int, tuple]:
        return {m.id: (tuple(m.peer_urls), bool(getattr(m, "is_learner", False))) for m in self.members}

    def _sync_members(self) -> None:
        """Write the /0/members store nodes for member changes made elsewhere (the v3 Cluster service), like
        etcd's ConfChange apply does: raftAttributes for an added or updated member, removed_members for a
        removed one."""
        with self._members_lock:
            now = self._member_view()
            if now == self._seen:
                return
            for mid in sorted(self._seen.keys() - now.keys()):
                self._store_removed(mid)
            for m in self.members:
                old = self._seen.get(m.id)
                if old is None:
                    self._store_added(m)
                elif old != now[m.id]:
                    self._store_updated(m)
            self._seen = now

    def _store_added(self, m: Any) -> None:
        self._bump_raft()
        self.store.create(f"/0/members/{m.id:x}/raftAttributes", False, self._raft_attributes(m), False, None)

    def _store_updated(self, m: Any) -> None:
        self._bump_raft()
        self.store.set(f"/0/members/{m.id:x}/raftAttributes", False, self._raft_attributes(m), None)

    def _store_removed(self, mid: int) -> None:
        self._bump_raft()
        self.store.delete(f"/0/members/{mid:x}", True, True)
        self.store.create(f"/0/removed_members/{mid:x}", False, "removed", False, None)

    def _http_error(self, code: int, msg: str) -> Result:
        return code, [*self._hdrs(), self._cid()], go_json({"message": msg}).encode()  # json.Marshal: no \n

    def _change_failed(self, err: MembershipError, mid: int = 0, deleting: bool = False) -> Result:
        """v2http's membersHandler error mapping (only DELETE maps a removed ID to 410); anything else is
        etcdhttp.WriteError's opaque 500."""
        msg = str(err)
        if msg in (ERR_ID_EXISTS, ERR_PEER_URL_EXISTS):
            return self._http_error(409, msg)
        if msg == ERR_ID_NOT_FOUND:
            return self._http_error(404, f"No such member: {mid:x}")
        if msg == ERR_ID_REMOVED and deleting:
            return self._http_error(410, f"Member permanently removed: {mid:x}")
        return self._http_error(500, "Internal Server Error")

    def _members(self, method: str, path: str, hl: dict, body: bytes, client_cn: str | None = None) -> Result:
        if method not in ("GET", "POST", "DELETE", "PUT"):
            return not_allowed("GET", "POST", "DELETE", "PUT")
        if not self.auth.has_root_access(method, hl.get("authorization", ""), write_only=True, cn=client_cn):
            return 401, [("Content-Type", "application/json")], b'{"message":"Insufficient credentials"}'
        sub = path[len(MEMBERS_PREFIX) :].lstrip("/")
        h = [*self._hdrs(), self._cid()]
        if method == "GET":
            if sub == "":
                return 200, h, (go_json({"members": [self._member_json(m) for m in self.members]}) + "\n").encode()
            if sub == "leader":
                me = self._member(self.identity.member_id)
                return 200, h, (go_json(self._member_json(me)) + "\n").encode()
            return self._http_error(404, "Not found")
        if method == "POST":
            urls = self._peer_urls(hl, body)
            if isinstance(urls, tuple):
                return urls
            return self._add_member(urls)
        if sub == "":  # getID's http.Error, after the cluster ID header was set
            return http_error(405, "Method Not Allowed", [self._cid()])
        try:
            mid = int(sub, 16)
            if mid >= 2**64:
                raise ValueError
        except ValueError:
            return self._http_error(404, f"No such member: {sub}")
        if method == "DELETE":
            with self._members_lock:
                try:
                    self.membership.remove(mid)
                except MembershipError as e:
                    return self._change_failed(e, mid, deleting=True)
                self._store_removed(mid)
                self._seen = self._member_view()
            return 204, [self._cid()], b""
        urls = self._peer_urls(hl, body)
        if isinstance(urls, tuple):
            return urls
        with self._members_lock:
            try:
                m = self.membership.update(mid, urls)
            except MembershipError as e:
                return self._change_failed(e, mid)
            self._store_updated(m)
            self._seen = self._member_view()
        return 204, [self._cid()], b""

    def _peer_urls(self, hl: dict, body: bytes) -> list[str] | Result:
        ctype = hl.get("content-type", "")
        if ";" in ctype:
            ctype = ctype.split(";")[0].strip().lower()
        if ctype != "application/json":
            return self._http_error(415, f"Bad Content-Type {ctype}, accept application/json")
        try:
            return parse_peer_urls(body)
        except ValueError as e:
            return self._http_error(400, str(e))

    def _add_member(self, urls: list[str]) -> Result:
        with self._members_lock:
            try:
                m = self.membership.add(urls)
            except MembershipError as e:
                return self._change_failed(e)
            self._store_added(m)
            self._seen = self._member_view()
        return 201, [*self._hdrs(), self._cid()], (go_json(self._member_json(m)) + "\n").encode()

    # ---- stats
    def _stats(self, method: str, which: str) -> Result:
        if method != "GET":
            return not_allowed("GET")
        ident = self.identity
        me = f"{ident.member_id:x}"
        if which == "store":
            counts = {**self.store.stats.counts, "watchers": self.store.watcher_count()}
            return 200, self._hdrs(), go_json(counts).encode()
        if which == "self":
            up = time.time() - ident.start_time
            d = {
                "name": ident.name,
                "id": me,
                "state": "StateLeader",
                "startTime": rfc3339nano(ident.start_time),
                "leaderInfo": {
                    "leader": me,
                    "uptime": format_duration(int(up * 1e9)),
                    "startTime": rfc3339nano(ident.start_time),
                },
                "recvAppendRequestCnt": 0,
                "sendAppendRequestCnt": 0,
            }
            return 200, self._hdrs(), go_json(d).encode()
        if which == "leader":
            return 200, self._hdrs(), go_json({"leader": me, "followers": {}}).encode()
        return not_found()

    # ---- machines
    def _machines(self, method: str) -> Result:
        if method not in ("GET", "HEAD"):
            return not_allowed("GET", "HEAD")
        urls = sorted(u for m in self.members for u in m.client_urls)
        return 200, [], ", ".join(urls).encode()  # no Content-Type: net/http sniffs it


async def _event_lines(queue: asyncio.Queue[Event | None], stream: bool) -> AsyncIterator[bytes]:
    """The body of a wait: each event as json.Encoder writes it; None (an overflowing stream) ends it."""
    while True:
        ev = await queue.get()
        if ev is None:
            return
        yield event_body(ev)
        if not stream:
            return
