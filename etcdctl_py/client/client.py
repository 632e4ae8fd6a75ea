"""The connection to an etcd cluster: endpoints with failover, TLS, auth token, timeouts.

Requests and responses are the generated protobuf messages of `etcdctl_py.proto`, so everything etcd's API can
express is reachable. Service handles (`client.kv`, `client.maintenance`, ...) add a typed, keyword-argument surface
on top. Calls go through a transport (client/transport): unary calls and server streams over our own standard-library
HTTP/2 (no grpc import), bidirectional streams (Watch, LeaseKeepAlive) and Observe over grpcio;
ETCDCTL_PY_TRANSPORT=grpcio sends everything through grpcio. Failover, retries, timeouts and the auth token live here,
once, above both.

Behaviour copied from etcd's Go client because users can see it:
* dialing is lazy: a dead endpoint shows up as `context deadline exceeded` once the request's
  timeout has passed, while the request is retried against every endpoint in turn (client/retry.py);
* with a user, the token is fetched when the client is built (bounded by the dial timeout) and
  sent as `token` metadata on every call, and refreshed once when the server says it is invalid.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Protocol, TypeVar

from etcdctl_py.client.endpoints import CREDS_DROP, CREDS_OPTIONAL, Endpoint, parse_endpoint
from etcdctl_py.client.errors import (
    TOKEN_RETRY_MESSAGES,
    AuthenticationFailed,
    DeadlineExceeded,
    EtcdError,
    NoAvailableEndpoints,
)
from etcdctl_py.client.retry import REPEATABLE, Attempts, Timeout, grpc_timeout, translated
from etcdctl_py.client.tls import KeyMaterial, TLSConfig
from etcdctl_py.client.transport.base import UNAVAILABLE, CallError, Transport

if TYPE_CHECKING:
    from etcdctl_py.client.auth import Auth
    from etcdctl_py.client.cluster import Cluster
    from etcdctl_py.client.election import Election
    from etcdctl_py.client.kv import KV
    from etcdctl_py.client.lease import Lease
    from etcdctl_py.client.lock import Lock
    from etcdctl_py.client.maintenance import Maintenance
    from etcdctl_py.client.transport.grpcio import GrpcioTransport
    from etcdctl_py.client.watch import Watch

__all__ = ["Client", "Settings", "TLSConfig", "WarnLogger"]

# ETCDCTL_PY_TRANSPORT=grpcio: every call through grpcio (for comparison, or for users who want grpc's own stack)
TRANSPORT_ENV = "ETCDCTL_PY_TRANSPORT"

# Go's grpc.DialContext fails when its (non-blocking) dial context is already over by the time it returns:
# always below ~5µs, by chance up to ~100µs. Below this many seconds we fail the same way, every time.
DIAL_TIMEOUT_FLOOR = 5e-6

R = TypeVar("R", covariant=True)


class Request(Protocol):
    """What a request needs to go on the wire: a generated protobuf message, or anything encoded like one."""

    def SerializeToString(self) -> bytes: ...  # noqa: N802 - the protobuf message API


class Decoder(Protocol[R]):
    """What a response type needs: a generated protobuf message class, or a decoder with the same class method."""

    def FromString(self, data: bytes, /) -> R: ...  # noqa: N802 - the protobuf message API


# A logger receives (go_error_text, endpoint_authority) for every failed unary request, so the
# CLI can print the Go client's warn line; library users get silence by default.
WarnLogger = Callable[[str, str, int], None]  # (Go's error text, the target's authority, attempt)


class Settings(NamedTuple):
    """How a client connects and how long it waits; a client for one member (Client.at) inherits them.
    (A NamedTuple, not a dataclass: dataclasses imports inspect, ~10 ms of a cold `get`.)"""

    dial_timeout: float = 2.0
    command_timeout: float | None = 5.0  # a request's default timeout (None: none)
    keepalive_time: float = 2.0
    keepalive_timeout: float = 6.0
    tls: TLSConfig | None = None


class Client:
    """An etcd v3 client.

    >>> c = Client(["127.0.0.1:2379"])
    >>> c.kv.put(b"foo", b"bar")
    >>> c.kv.range(b"foo").kvs[0].value
    b'bar'
    """

    def __init__(
        self,
        endpoints: Sequence[str] = ("127.0.0.1:2379",),
        *,
        dial_timeout: float = 2.0,
        command_timeout: float | None = 5.0,
        keepalive_time: float = 2.0,
        keepalive_timeout: float = 6.0,
        tls: TLSConfig | None = None,
        user: str | None = None,
        password: str | None = None,
        warn_logger: WarnLogger | None = None,
    ):
        self.endpoints: list[Endpoint] = [parse_endpoint(e) for e in endpoints]
        self.settings = Settings(dial_timeout, command_timeout, keepalive_time, keepalive_timeout, tls)
        self.warn_logger = warn_logger
        # etcdctl reads the TLS files before clientv3.New looks at the endpoints
        files = tls.read() if tls is not None else None
        if not self.endpoints:
            raise NoAvailableEndpoints()
        self._tls, self._tls_files = self._endpoint_tls(self.endpoints[0], files)
        if 0 < dial_timeout < DIAL_TIMEOUT_FLOOR:
            raise DeadlineExceeded()
        self._grpcio: GrpcioTransport | None = None
        self._transport: Transport = self._unary_transport()
        self._current = 0
        self._lock = threading.Lock()
        self._user = user
        self._password = password
        self._token: str | None = None
        # Like the Go client: a token is fetched only when both name and password are non-empty.
        if user and password:
            self._authenticate(timeout=dial_timeout)

    def at(self, endpoint: str) -> Client:
        """A client bound to one endpoint, with this client's settings and auth token (Go's maintenance dial).

        Status, Defragment, HashKV and MoveLeader address a member, not "any member": Go dials that endpoint
        directly, and logs that client's failures under its parent's target. Close it when done.
        """
        s = self.settings
        sub = Client(
            [endpoint],
            dial_timeout=s.dial_timeout,
            command_timeout=s.command_timeout,
            keepalive_time=s.keepalive_time,
            keepalive_timeout=s.keepalive_timeout,
            tls=s.tls,
            warn_logger=self._logger_for_member(),
        )
        sub._user, sub._password, sub._token = self._user, self._password, self._token  # share the session token
        return sub

    def _logger_for_member(self) -> WarnLogger | None:
        """Go logs a per-endpoint dial's failures under the parent client's target (its first endpoint)."""
        if self.warn_logger is None:
            return None
        parent_authority = self.endpoints[0].authority
        return lambda go_error, _authority, attempt: self._warn_as(go_error, parent_authority, attempt)

    def _warn_as(self, go_error: str, authority: str, attempt: int) -> None:
        if self.warn_logger is not None:
            self.warn_logger(go_error, authority, attempt)

    # ---------------------------------------------------------------- setup
    def _endpoint_tls(self, ep: Endpoint, files: KeyMaterial | None) -> tuple[TLSConfig | None, KeyMaterial | None]:
        """clientv3's credentialsForEndpoint, which it applies to the first endpoint for every connection:
        http:// drops TLS, https:// and unixs:// require it (system roots without --cacert), others use --cacert &c.
        Returns the TLS settings every connection uses (None: plaintext) and their files' bytes."""
        tls = self.settings.tls
        if ep.creds == CREDS_DROP:
            return None, None
        if ep.creds == CREDS_OPTIONAL or tls is not None:
            return tls, files
        return TLSConfig(), KeyMaterial(None, None, None)

    def _unary_transport(self) -> Transport:
        """Our HTTP/2 unless grpcio is asked for or an endpoint is a host name (left to grpc's resolver)."""
        from etcdctl_py.client.transport import h2

        if os.environ.get(TRANSPORT_ENV, "").strip().lower() == "grpcio" or not all(
            h2.serves(ep) for ep in self.endpoints
        ):
            return self._grpc()
        s = self.settings
        return h2.H2Transport(
            self.endpoints, self._tls, self._tls_files, keepalive=(s.keepalive_time, s.keepalive_timeout)
        )

    def _grpc(self) -> GrpcioTransport:
        """The grpcio transport (imports grpc), for what only it serves: bidirectional streams and Observe."""
        if self._grpcio is None:
            from etcdctl_py.client.transport.grpcio import GrpcioTransport

            s = self.settings
            self._grpcio = GrpcioTransport(
                self.endpoints,
                self._tls,
                self._tls_files,
                dial_timeout=s.dial_timeout,
                keepalive=(s.keepalive_time, s.keepalive_timeout),
            )
        return self._grpcio

    @property
    def transport_name(self) -> str:
        """`h2` or `grpcio`: what carries this client's unary calls."""
        return "grpcio" if self._transport is self._grpcio else "h2"

    def close(self) -> None:
        self._transport.close()
        if self._grpcio is not None:
            self._grpcio.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- auth
    def _authenticate(self, timeout: float | None) -> None:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        req = rpc_pb2.AuthenticateRequest(name=self._user or "", password=self._password or "")
        try:
            resp = self.unary(
                "Auth", "Authenticate", req, rpc_pb2.AuthenticateResponse, timeout=timeout, with_token=False
            )
        except EtcdError as e:
            if isinstance(e, DeadlineExceeded):
                raise
            if e.message == "etcdserver: authentication is not enabled":
                return  # the Go client carries on without a token
            raise AuthenticationFailed(e.code, e.message, e.go_desc) from None
        self._token = resp.token

    def _metadata(self, with_token: bool) -> list[tuple[str, str]]:
        if with_token and self._token:
            return [("token", self._token)]
        return []

    def _token_rejected(self, e: CallError) -> bool:
        """clientv3 matches the error text whatever the code: v3lock/v3election relay an expired token as code
        Unknown, and the unlock after a long hold must still sign in again."""
        return e.details in TOKEN_RETRY_MESSAGES and self._user is not None

    # ---------------------------------------------------------------- calls
    def next_endpoint(self, failed: int | None = None) -> None:
        """Send what comes next to the endpoint after `failed` (default: the current one), as clientv3's balancer
        moves on from a member it cannot reach."""
        with self._lock:
            self._current = ((self._current if failed is None else failed) + 1) % len(self.endpoints)

    def unary(
        self,
        service: str,
        method: str,
        request: Request,
        resp_type: Decoder[R],
        *,
        timeout: Timeout = ...,
        with_token: bool = True,
    ) -> R:
        """Send one unary request with failover across endpoints, retrying until the deadline."""
        attempts = Attempts(self, self.settings.command_timeout if timeout is ... else timeout)
        path, data = _path(service, method), request.SerializeToString()
        refreshed = False
        logged = 0  # the warn lines this request has logged: Go numbers them as "attempt"
        while True:
            idx = self._current
            try:
                remaining = attempts.remaining()
            except DeadlineExceeded as expired:
                self._fail(expired, logged)
            try:
                raw = self._transport.unary(
                    idx, path, data, timeout=grpc_timeout(remaining), metadata=self._metadata(with_token)
                )
            except CallError as e:
                if with_token and not refreshed and self._token_rejected(e):
                    refreshed = True
                    self._authenticate(timeout=self.settings.dial_timeout)
                    continue
                failure = attempts.failed(idx, e)
                if failure is None:
                    continue
                if path in REPEATABLE and failure.code == UNAVAILABLE:
                    self._warn(failure, logged)
                    logged += 1
                    attempts.retry_repeatable(idx)
                    continue
                self._fail(failure, logged)
            return resp_type.FromString(raw)

    def _warn(self, err: EtcdError, attempt: int) -> None:
        """The warn line the Go client logs for a failed attempt."""
        if self.warn_logger is not None:
            self.warn_logger(err.go_error, self.endpoints[0].authority, attempt)

    def _fail(self, err: EtcdError, attempt: int = 0) -> NoReturn:
        """End a unary request with `err`, after the warn line the Go client logs for it."""
        self._warn(err, attempt)
        raise err from None

    def open_stream(
        self, service: str, method: str, request: Request, resp_type: Decoder[R], *, timeout: float | None = None
    ) -> Iterator[R]:
        """A server stream opened the way Go's client opens one (Snapshot), returned once the member has answered.

        Connection failures are retried (across endpoints, with backoff) until `timeout` (None = forever), and then
        end as DeadlineExceeded carrying the last dial error, like Go's "streamer failed to create ClientStream".
        Later stream errors surface as EtcdError while iterating."""
        attempts = Attempts(self, timeout)
        path, data = _path(service, method), request.SerializeToString()
        while True:
            idx = self._current
            try:
                it = self._transport.server_stream(
                    idx, path, data, timeout=grpc_timeout(attempts.remaining()), metadata=self._metadata(True)
                )
                first = next(it)
            except StopIteration:
                return iter(())
            except CallError as e:
                err = attempts.failed(idx, e)
                if err is not None:
                    raise err from None
                continue
            return translated(map(resp_type.FromString, it), (resp_type.FromString(first),))

    def stream(
        self, service: str, method: str, request: Request, resp_type: Decoder[R], *, timeout: float | None = None
    ) -> Iterator[R]:
        """A server stream that waits for its member to be reachable (Observe); errors surface as EtcdError while
        iterating."""
        it = self._grpc().server_stream(
            self._current,
            _path(service, method),
            request.SerializeToString(),
            timeout=grpc_timeout(timeout),
            metadata=self._metadata(True),
            wait_for_ready=True,
        )
        return translated(map(resp_type.FromString, it))

    def bidi(
        self,
        service: str,
        method: str,
        requests: Iterable[Request],
        resp_type: Decoder[Any],
        *,
        wait_for_ready: bool,
        require_leader: bool = False,
    ) -> Any:
        """A bidirectional stream on the current endpoint (Watch, LeaseKeepAlive): grpc's call object, which is
        iterated for the responses and cancel()ed to end it. `require_leader`: clientv3's WithRequireLeader."""
        md = self._metadata(True)
        if require_leader:
            md.append(("hasleader", "true"))
        return self._grpc().bidi(
            self._current,
            _path(service, method),
            requests,
            resp_type.FromString,
            metadata=md,
            wait_for_ready=wait_for_ready,
        )

    # ---------------------------------------------------------------- service handles
    @cached_property
    def kv(self) -> KV:
        from etcdctl_py.client.kv import KV

        return KV(self)

    @cached_property
    def maintenance(self) -> Maintenance:
        from etcdctl_py.client.maintenance import Maintenance

        return Maintenance(self)

    @cached_property
    def watch(self) -> Watch:
        from etcdctl_py.client.watch import Watch

        return Watch(self)

    @cached_property
    def lease(self) -> Lease:
        from etcdctl_py.client.lease import Lease

        return Lease(self)

    @cached_property
    def cluster(self) -> Cluster:
        from etcdctl_py.client.cluster import Cluster

        return Cluster(self)

    @cached_property
    def auth(self) -> Auth:
        from etcdctl_py.client.auth import Auth

        return Auth(self)

    @cached_property
    def lock(self) -> Lock:
        from etcdctl_py.client.lock import Lock

        return Lock(self)

    @cached_property
    def election(self) -> Election:
        from etcdctl_py.client.election import Election

        return Election(self)


def _path(service: str, method: str) -> str:
    """The HTTP/2 path of a method: `/etcdserverpb.KV/Range`, `/v3lockpb.Lock/Lock`."""
    pkg = {"Lock": "v3lockpb", "Election": "v3electionpb"}.get(service, "etcdserverpb")
    return f"/{pkg}.{service}/{method}"
