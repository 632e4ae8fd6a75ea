"""The v2 keys API (client/v2 KeysAPI): get/set/delete/create-in-order/watch, and the
decoded Response/Node types whose `to_json()` reproduces Go's re-encoding of them."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import urlencode

from etcdctl_py.gofmt import json_string as go_string  # Go encoding/json strings

from .errors import EMPTY_BODY, INVALID_JSON, EtcdError, PlainError
from .transport import Deadline, Doer, Request, escape_path
from .transport import Response as HTTPResponse

KEYS_PREFIX = "/v2/keys"


@dataclass
class Node:
    key: str = ""
    dir: bool = False
    value: str = ""
    nodes: list[Node] | None = None
    created_index: int = 0
    modified_index: int = 0
    expiration: str | None = None
    ttl: int = 0

    @classmethod
    def from_json(cls, d: object) -> Node | None:
        if not isinstance(d, dict):
            return None
        nodes = d.get("nodes")
        return cls(
            key=_s(d.get("key")),
            dir=bool(d.get("dir", False)),
            value=_s(d.get("value")),
            nodes=None if not isinstance(nodes, list) else [n for n in (cls.from_json(x) for x in nodes) if n],
            created_index=_i(d.get("createdIndex")),
            modified_index=_i(d.get("modifiedIndex")),
            expiration=d.get("expiration") if isinstance(d.get("expiration"), str) else None,
            ttl=_i(d.get("ttl")),
        )

    def to_json(self) -> str:
        parts = ['"key":' + go_string(self.key)]
        if self.dir:
            parts.append('"dir":true')
        parts.append('"value":' + go_string(self.value))
        nodes = "null" if self.nodes is None else "[" + ",".join(n.to_json() for n in self.nodes) + "]"
        parts.append('"nodes":' + nodes)
        parts.append(f'"createdIndex":{self.created_index}')
        parts.append(f'"modifiedIndex":{self.modified_index}')
        if self.expiration is not None:
            parts.append('"expiration":' + go_string(self.expiration))
        if self.ttl:
            parts.append(f'"ttl":{self.ttl}')
        return "{" + ",".join(parts) + "}"


@dataclass
class Response:
    action: str = ""
    node: Node | None = None
    prev_node: Node | None = None
    index: int = 0
    cluster_id: str = ""

    def to_json(self) -> str:
        node = "null" if self.node is None else self.node.to_json()
        prev = "null" if self.prev_node is None else self.prev_node.to_json()
        return '{"action":' + go_string(self.action) + ',"node":' + node + ',"prevNode":' + prev + "}"


def _s(v: object) -> str:
    return v if isinstance(v, str) else ""


def _i(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def canonical_url_path(p: str) -> str:
    """pathutil.CanonicalURLPath: clean the path but keep a trailing slash."""
    if p == "":
        return "/"
    if p[0] != "/":
        p = "/" + p
    np = posixpath.normpath(p)
    if np.startswith("//"):
        np = "/" + np.lstrip("/")
    if p[-1] == "/" and np != "/":
        np += "/"
    return np


def keys_path(key: str) -> str:
    if key and key[0] != "/":
        key = "/" + key
    return escape_path(canonical_url_path(KEYS_PREFIX + key))


def _enc(params: dict[str, str]) -> str:
    return urlencode(sorted((k, v.encode("utf-8", "surrogateescape")) for k, v in params.items()))


def _decode(resp: HTTPResponse) -> dict:
    """The JSON object of a keys API answer; anything else is client/v2's ErrInvalidJSON."""
    try:
        d = resp.json()
    except PlainError:
        raise PlainError(INVALID_JSON) from None
    if not isinstance(d, dict):
        raise PlainError(INVALID_JSON)
    return d


def unmarshal(resp: HTTPResponse) -> Response:
    if resp.status in (200, 201):
        if not resp.body:
            raise PlainError(EMPTY_BODY)
        d = _decode(resp)
        r = Response(
            action=_s(d.get("action")), node=Node.from_json(d.get("node")), prev_node=Node.from_json(d.get("prevNode"))
        )
        idx = resp.header("x-etcd-index")
        if idx:
            try:
                r.index = int(idx)
            except ValueError:
                raise PlainError(f'strconv.ParseUint: parsing "{idx}": invalid syntax') from None
        r.cluster_id = resp.header("x-etcd-cluster-id")
        return r
    d = _decode(resp)
    raise EtcdError(_i(d.get("errorCode")), _s(d.get("message")), _s(d.get("cause")), _i(d.get("index")))


@dataclass
class SetOptions:
    prev_value: str = ""
    prev_index: int = 0
    prev_exist: str = ""  # "", "true", "false"
    ttl: int = 0
    refresh: bool = False
    dir: bool = False


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(fields: dict[str, str]) -> bytes:
    return _enc(fields).encode()


class KeysAPI:
    def __init__(self, client: Doer) -> None:
        self.client = client

    def get(
        self, key: str, deadline: Deadline, recursive: bool = False, sort: bool = False, quorum: bool = False
    ) -> Response:
        q = _enc({"recursive": _b(recursive), "sorted": _b(sort), "quorum": _b(quorum)})
        return unmarshal(self.client.do(Request("GET", keys_path(key), q), deadline))

    def set(self, key: str, value: str, deadline: Deadline, opts: SetOptions | None = None) -> Response:
        o = opts or SetOptions()
        params: dict[str, str] = {}
        form: list[tuple[str, str]] = []
        if o.dir:
            params["dir"] = "true"
        else:
            if o.prev_value:
                params["prevValue"] = o.prev_value
            form.append(("value", value))
        if o.prev_index:
            params["prevIndex"] = str(o.prev_index)
        if o.prev_exist:
            params["prevExist"] = o.prev_exist
        if o.ttl > 0:
            form.append(("ttl", str(o.ttl)))
        if o.refresh:
            form.append(("refresh", "true"))
        req = Request("PUT", keys_path(key), _enc(params), _form(dict(form)), dict(FORM))
        return unmarshal(self.client.do(req, deadline, one_shot=o.prev_exist == "false"))

    def create_in_order(self, dir: str, value: str, deadline: Deadline, ttl: int = 0) -> Response:
        form = [("value", value)]
        if ttl > 0:
            form.append(("ttl", str(ttl)))
        return unmarshal(self.client.do(Request("POST", keys_path(dir), "", _form(dict(form)), dict(FORM)), deadline))

    def delete(
        self,
        key: str,
        deadline: Deadline,
        prev_value: str = "",
        prev_index: int = 0,
        dir: bool = False,
        recursive: bool = False,
    ) -> Response:
        params: dict[str, str] = {}
        if prev_value:
            params["prevValue"] = prev_value
        if prev_index:
            params["prevIndex"] = str(prev_index)
        if dir:
            params["dir"] = "true"
        if recursive:
            params["recursive"] = "true"
        req = Request("DELETE", keys_path(key), _enc(params), None, dict(FORM))
        return unmarshal(self.client.do(req, deadline, one_shot=True))

    def watcher(self, key: str, after_index: int = 0, recursive: bool = False) -> Watcher:
        return Watcher(self.client, key, after_index + 1 if after_index > 0 else 0, recursive)


class Watcher:
    """Long-poll `?wait=true&waitIndex=N`; each event moves waitIndex past it."""

    def __init__(self, client: Doer, key: str, wait_index: int, recursive: bool) -> None:
        self.client, self.key, self.wait_index, self.recursive = client, key, wait_index, recursive

    def next(self) -> Response:
        while True:
            q = _enc({"wait": "true", "waitIndex": str(self.wait_index), "recursive": _b(self.recursive)})
            resp = self.client.do(Request("GET", keys_path(self.key), q, wait=True), Deadline(None))
            try:
                r = unmarshal(resp)
            except PlainError as e:
                if str(e) == EMPTY_BODY:
                    continue
                raise
            self.wait_index = (r.node.modified_index if r.node else 0) + 1
            return r


def _b(v: bool) -> str:
    return "true" if v else "false"
