"""etcd's JSON gateway (grpc-gateway v1.16 as etcd 3.5.1 mounts it at /v3/ and /v3beta/) on the client port.

etcd's gateway is a gRPC client of its own server: it dials the client URL and calls the very RPCs a gRPC client
calls. This one does the same over grpclink's private unix socket, so every request meets the same interceptors
(request size limits), auth and permission checks and alarms as gRPC does; the token travels as etcd's gateway
sends it (the Authorization header as `authorization` metadata, permanent headers as `grpcgateway-*`, so the TLS
CN is never used for a gateway call). The JSON rules and texts are in gateway_json; the HTTP answers follow
runtime.ServeMux: an unknown path is "Not Found", another method than POST "Method Not Allowed", a gRPC error a
JSON body with the HTTP status of its code, a stream `{"result":...}` lines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import grpc
from google.protobuf.message import Message  # type: ignore[import-untyped]  # protobuf ships no stubs

from etcdctl_py.gofmt import json_string
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.proto.v3electionpb import v3election_pb2
from etcdctl_py.proto.v3lockpb import v3lock_pb2
from etcdctl_py.server.gateway_json import GoJSONError, decode_stream, request_message, to_json, to_message
from etcdctl_py.server.httpreply import REASONS, Headers, Reply, Streamed, http_error

UNARY, SERVER_STREAM, BIDI = "unary", "server-stream", "bidi"

# runtime.HTTPStatusFromCode
HTTP_STATUS = {0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 16: 401, 8: 429, 9: 400, 10: 409}
HTTP_STATUS.update({11: 400, 12: 501, 13: 500, 14: 503, 15: 500})
_STATUS_TEXT = {408: "Request Timeout", 429: "Too Many Requests", 504: "Gateway Timeout", **REASONS}

# runtime's isPermanentHTTPHeader: forwarded as "grpcgateway-<name>" metadata
_PERMANENT = {
    "accept", "accept-charset", "accept-language", "accept-ranges", "authorization", "cache-control",
    "content-type", "cookie", "date", "expect", "from", "host", "if-match", "if-modified-since", "if-none-match",
    "if-schedule-tag-match", "if-unmodified-since", "max-forwards", "origin", "pragma", "referer", "user-agent",
    "via", "warning",
}  # fmt: skip
_CN_REFUSED = "CommonName of client sending a request against gateway will be ignored and not used as expected"


@dataclass(frozen=True)
class Route:
    """One gateway path: the gRPC method it calls and its message classes."""

    method: str  # "/etcdserverpb.KV/Range"
    request: type[Message]
    response: type[Message]
    kind: str


def _route(module: Any, service: str, name: str) -> Route:
    md = module.DESCRIPTOR.services_by_name[service].methods_by_name[name]
    kind = BIDI if md.client_streaming else SERVER_STREAM if md.server_streaming else UNARY
    return Route(
        f"/{md.containing_service.full_name}/{name}",
        getattr(module, md.input_type.name),
        getattr(module, md.output_type.name),
        kind,
    )


def _routes() -> dict[str, Route]:
    """etcd 3.5.1's gateway paths (api/etcdserverpb/gw, v3lock and v3election gw). HashKV shares the path of
    Hash, registered after it: that path calls Hash."""
    table = {
        "kv/range": ("KV", "Range"),
        "kv/put": ("KV", "Put"),
        "kv/deleterange": ("KV", "DeleteRange"),
        "kv/txn": ("KV", "Txn"),
        "kv/compaction": ("KV", "Compact"),
        "watch": ("Watch", "Watch"),
        "lease/grant": ("Lease", "LeaseGrant"),
        "lease/revoke": ("Lease", "LeaseRevoke"),
        "kv/lease/revoke": ("Lease", "LeaseRevoke"),
        "lease/keepalive": ("Lease", "LeaseKeepAlive"),
        "lease/timetolive": ("Lease", "LeaseTimeToLive"),
        "kv/lease/timetolive": ("Lease", "LeaseTimeToLive"),
        "lease/leases": ("Lease", "LeaseLeases"),
        "kv/lease/leases": ("Lease", "LeaseLeases"),
        "cluster/member/add": ("Cluster", "MemberAdd"),
        "cluster/member/remove": ("Cluster", "MemberRemove"),
        "cluster/member/update": ("Cluster", "MemberUpdate"),
        "cluster/member/list": ("Cluster", "MemberList"),
        "cluster/member/promote": ("Cluster", "MemberPromote"),
        "maintenance/alarm": ("Maintenance", "Alarm"),
        "maintenance/status": ("Maintenance", "Status"),
        "maintenance/defragment": ("Maintenance", "Defragment"),
        "maintenance/hash": ("Maintenance", "Hash"),
        "maintenance/snapshot": ("Maintenance", "Snapshot"),
        "maintenance/transfer-leadership": ("Maintenance", "MoveLeader"),
        "maintenance/downgrade": ("Maintenance", "Downgrade"),
        "auth/enable": ("Auth", "AuthEnable"),
        "auth/disable": ("Auth", "AuthDisable"),
        "auth/status": ("Auth", "AuthStatus"),
        "auth/authenticate": ("Auth", "Authenticate"),
        "auth/user/add": ("Auth", "UserAdd"),
        "auth/user/get": ("Auth", "UserGet"),
        "auth/user/list": ("Auth", "UserList"),
        "auth/user/delete": ("Auth", "UserDelete"),
        "auth/user/changepw": ("Auth", "UserChangePassword"),
        "auth/user/grant": ("Auth", "UserGrantRole"),
        "auth/user/revoke": ("Auth", "UserRevokeRole"),
        "auth/role/add": ("Auth", "RoleAdd"),
        "auth/role/get": ("Auth", "RoleGet"),
        "auth/role/list": ("Auth", "RoleList"),
        "auth/role/delete": ("Auth", "RoleDelete"),
        "auth/role/grant": ("Auth", "RoleGrantPermission"),
        "auth/role/revoke": ("Auth", "RoleRevokePermission"),
    }
    out = {f"/v3/{p}": _route(rpc_pb2, s, m) for p, (s, m) in table.items()}
    out["/v3/lock/lock"] = _route(v3lock_pb2, "Lock", "Lock")
    out["/v3/lock/unlock"] = _route(v3lock_pb2, "Lock", "Unlock")
    for name in ("Campaign", "Proclaim", "Leader", "Observe", "Resign"):
        out[f"/v3/election/{name.lower()}"] = _route(v3election_pb2, "Election", name)
    return out


ROUTES = _routes()


def canonical_header(key: str) -> str:
    """textproto.CanonicalMIMEHeaderKey for a metadata key."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


def _valid_metadata(key: str, value: str) -> bool:
    """What grpcio accepts as an ASCII metadata pair (anything else it refuses to send)."""
    if not key or key.startswith("grpc-") or key.endswith("-bin"):
        return False
    if any(not (c.isascii() and (c.islower() or c.isdigit() or c in "-_.")) for c in key):
        return False
    return all(" " <= c <= "~" for c in value)


def outgoing_metadata(headers: dict[str, str]) -> list[tuple[str, str]]:
    """runtime.AnnotateContext with DefaultHeaderMatcher: Authorization as-is, permanent headers prefixed with
    grpcgateway-, Grpc-Metadata-* unprefixed."""
    pairs: list[tuple[str, str]] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "authorization":
            pairs.append(("authorization", value))
        if key in _PERMANENT:
            pairs.append(("grpcgateway-" + key, value))
        elif key.startswith("grpc-metadata-"):
            pairs.append((key[len("grpc-metadata-") :], value))
    return [(k, v) for k, v in pairs if _valid_metadata(k, v)]


def error_body(code: int, message: str) -> bytes:
    """runtime's internal.Error as JSONPb writes it (zero fields left out)."""
    parts = []
    if message:
        parts.append('"error":' + json_string(message))
    if code:
        parts.append(f'"code":{code}')
    if message:
        parts.append('"message":' + json_string(message))
    return ("{" + ",".join(parts) + "}").encode()


def json_error(code: int, message: str) -> Reply:
    """runtime.DefaultHTTPError."""
    return HTTP_STATUS.get(code, 500), [("Content-Type", "application/json")], error_body(code, message)


def stream_error_chunk(code: int, message: str) -> bytes:
    """The last chunk of a stream that failed: runtime's errorChunk of DefaultHTTPStreamErrorHandler's error."""
    http = HTTP_STATUS.get(code, 500)
    parts = [f'"grpc_code":{code}'] if code else []
    parts.append(f'"http_code":{http}')
    if message:
        parts.append('"message":' + json_string(message))
    parts.append('"http_status":' + json_string(_STATUS_TEXT.get(http, "")))
    return ('{"error":{' + ",".join(parts) + "}}").encode()


def _rpc_error(e: grpc.RpcError) -> tuple[int, str]:
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = e.details() if hasattr(e, "details") else str(e)
    return (code.value[0] if code is not None else 2), details or ""


_OK_HEADERS: Headers = [("Content-Type", "application/json"), ("Grpc-Metadata-Content-Type", "application/grpc")]


class Gateway:
    """The /v3/ handler: JSON in, a call on the internal gRPC server, JSON out."""

    def __init__(self, target: str, auth_enabled: Callable[[], bool], client_cert_auth: bool = False) -> None:
        self.target = target
        self.auth_enabled = auth_enabled
        self.client_cert_auth = client_cert_auth
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    def channel(self) -> grpc.Channel:
        """One channel to the internal server, as etcd's gateway keeps one connection (no size limit on replies)."""
        with self._lock:
            if self._channel is None:
                opts = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
                self._channel = grpc.insecure_channel(self.target, options=opts)
            return self._channel

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    @staticmethod
    def handles(target: str) -> bool:
        """Paths etcd's mux hands to the gateway (after its /v3beta/ -> /v3/ rewrite), and /v3 (redirected)."""
        path = unquote(target.split("?", 1)[0])
        return path == "/v3" or path.startswith(("/v3/", "/v3beta/"))

    def refuses_cn(self, target: str, peer_cn: str | None) -> Reply | None:
        """etcd's accessController, before anything else: with --client-cert-auth and auth enabled, a /v3/
        request over TLS whose verified client certificate has a CN is refused (the gateway would not use it)."""
        path = unquote(target.split("?", 1)[0])
        if path.startswith("/v3beta/"):
            path = "/v3/" + path[len("/v3beta/") :]
        if peer_cn and path.startswith("/v3/") and self.client_cert_auth and self.auth_enabled():
            return http_error(400, _CN_REFUSED)
        return None

    async def serve(self, method: str, target: str, headers: dict[str, str], body: bytes, peer_cn: str | None) -> Reply:
        path = unquote(target.split("?", 1)[0])
        if path == "/v3":
            return 301, [("Location", "/v3/")], b""  # net/http's ServeMux redirect to the subtree
        if path.startswith("/v3beta/"):
            path = "/v3/" + path[len("/v3beta/") :]
        route = ROUTES.get(path)
        if route is None:
            return http_error(404, "Not Found")
        if method != "POST":
            return http_error(405, "Method Not Allowed")
        md = outgoing_metadata(headers)
        loop = asyncio.get_running_loop()
        if route.kind == UNARY:
            return await loop.run_in_executor(None, self._unary, route, body, md)
        return await self._stream(route, body, md)

    def _unary(self, route: Route, body: bytes, md: list[tuple[str, str]]) -> Reply:
        try:
            req = request_message(body, route.request)
        except GoJSONError as e:
            return json_error(3, str(e))
        fn = self.channel().unary_unary(
            route.method,
            request_serializer=route.request.SerializeToString,
            response_deserializer=route.response.FromString,
        )
        try:
            resp = fn(req, metadata=md)
        except grpc.RpcError as e:
            return json_error(*_rpc_error(e))
        return 200, list(_OK_HEADERS), to_json(resp).encode()

    async def _stream(self, route: Route, body: bytes, md: list[tuple[str, str]]) -> Reply:
        """A streaming method: the request(s) decoded as the generated gateway handler does, the replies as
        `{"result":...}` lines while the call lasts; the call is cancelled when the client hangs up."""
        if route.kind == SERVER_STREAM:
            try:
                requests: list[Message] = [request_message(body, route.request)]
            except GoJSONError as e:
                return json_error(3, str(e))
        else:
            nodes, err = decode_stream(body)
            requests = []
            for node in nodes:
                msg = route.request()
                try:
                    to_message(node, msg)
                except GoJSONError as e:
                    err = e
                    break
                requests.append(msg)
            if not requests and err is not None:
                return json_error(2, str(err))  # the first Decode failed: a plain error, code Unknown
        call = self._open(route, requests, md)
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, _next, call)
        if isinstance(first, grpc.RpcError):  # the call failed before a reply: ForwardResponseStream's first recv
            code, message = _rpc_error(first)
            chunk = stream_error_chunk(code, message)
            return Streamed(HTTP_STATUS.get(code, 500), [("Content-Type", "application/json")], _once(chunk))
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        thread = threading.Thread(target=self._drain, args=(call, loop, queue), daemon=True, name="gateway-stream")
        thread.start()
        return Streamed(200, list(_OK_HEADERS), _chunks(first, queue), close=call.cancel)

    def _open(self, route: Route, requests: list[Message], md: list[tuple[str, str]]) -> Any:
        ser, de = route.request.SerializeToString, route.response.FromString
        ch = self.channel()
        if route.kind == SERVER_STREAM:
            return ch.unary_stream(route.method, request_serializer=ser, response_deserializer=de)(
                requests[0], metadata=md
            )
        return ch.stream_stream(route.method, request_serializer=ser, response_deserializer=de)(
            iter(requests), metadata=md
        )

    @staticmethod
    def _drain(call: Iterator[Message], loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
        """Read the rest of the call in a thread; each reply (and a final error chunk) goes to the loop."""

        def put(item: bytes | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server is stopping
                pass

        try:
            for resp in call:
                put(_result_line(resp))
        except grpc.RpcError as e:
            code, message = _rpc_error(e)
            if code != grpc.StatusCode.CANCELLED.value[0]:
                put(stream_error_chunk(code, message))
        put(None)


def _next(call: Iterator[Message]) -> Message | grpc.RpcError | None:
    """The first reply of a call, its error, or None when it ended without one."""
    try:
        return next(call)
    except StopIteration:
        return None
    except grpc.RpcError as e:
        return e


def _result_line(resp: Message) -> bytes:
    return b'{"result":' + to_json(resp).encode() + b"}\n"


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def _chunks(first: Message | None, queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    if first is None:
        return
    yield _result_line(first)
    while True:
        item = await queue.get()
        if item is None:
            return
        yield item
