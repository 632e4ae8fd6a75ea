"""The connection to an etcd cluster: endpoints with failover, TLS, auth token, timeouts.

A thin layer over grpcio: requests and responses are the generated protobuf messages of
`etcdctl_py.proto`, so everything etcd's API can express is reachable. Service handles
(`client.kv`, `client.maintenance`, ...) add a typed, keyword-argument surface on top.

Behaviour copied from etcd's Go client because users can see it:
* dialing is lazy: a dead endpoint shows up as `context deadline exceeded` once the request's
  timeout has passed, while the request is retried against every endpoint in turn;
* with a user, the token is fetched when the client is built (bounded by the dial timeout) and
  sent as `token` metadata on every call, and refreshed once when the server says it is invalid.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Sequence

import grpc

from etcdctl_py.client.endpoints import CREDS_DROP, CREDS_OPTIONAL, Endpoint, parse_endpoint
from etcdctl_py.client.errors import (
    TOKEN_RETRY_MESSAGES,
    AuthenticationFailed,
    ConfigError,
    DeadlineExceeded,
    EtcdError,
    NoAvailableEndpoints,
)

MAX_RECV = 2**31 - 1  # the Go client's default MaxCallRecvMsgSize (math.MaxInt32)

# Go's grpc.DialContext fails when its (non-blocking) dial context is already over by the time it returns:
# always below ~5µs, by chance up to ~100µs. Below this many seconds we fail the same way, every time.
DIAL_TIMEOUT_FLOOR = 5e-6

# Timeouts past this many seconds (a Go duration reaches 292 years) are no deadline at all for grpc,
# whose C core would overflow and expire the call at once.
NO_DEADLINE_PAST = 10 * 365 * 86400.0


def grpc_timeout(seconds: float | None) -> float | None:
    """A timeout grpc can take: None for none, or for one too far away to matter."""
    if seconds is None or seconds > NO_DEADLINE_PAST:
        return None
    return seconds


class TLSConfig:
    """TLS settings (etcdctl's --cacert/--cert/--key/--insecure-skip-tls-verify)."""

    def __init__(self, ca_file: str = "", cert_file: str = "", key_file: str = "",
                 insecure_skip_verify: bool = False, server_name: str = ""):
        self.ca_file, self.cert_file, self.key_file = ca_file, cert_file, key_file
        self.insecure_skip_verify, self.server_name = insecure_skip_verify, server_name


# A logger receives (go_error_text, endpoint_authority) for every failed unary request, so the
# CLI can print the Go client's warn line; library users get silence by default.
WarnLogger = Callable[[str, str], None]


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
        self.dial_timeout = dial_timeout
        self.command_timeout = command_timeout
        self.keepalive_time = keepalive_time
        self.keepalive_timeout = keepalive_timeout
        self.tls = tls
        self.warn_logger = warn_logger
        # etcdctl reads the TLS files before clientv3.New looks at the endpoints
        self._tls_credentials = self._make_credentials(tls) if tls is not None else None
        if not self.endpoints:
            raise NoAvailableEndpoints()
        self._credentials = self._endpoint_credentials(self.endpoints[0])
        if 0 < dial_timeout < DIAL_TIMEOUT_FLOOR:
            raise DeadlineExceeded()
        self._channels: dict[int, grpc.Channel] = {}
        self._methods: dict[tuple[int, str, str], Any] = {}
        self._current = 0
        self._lock = threading.Lock()
        self._user = user
        self._password = password
        self._token: str | None = None
        self._handles: dict[str, Any] = {}
        # Like the Go client: a token is fetched only when both name and password are non-empty.
        if user and password:
            self._authenticate(timeout=dial_timeout)

    # ---------------------------------------------------------------- setup
    @staticmethod
    def _make_credentials(tls: TLSConfig | None) -> grpc.ChannelCredentials:
        tls = tls or TLSConfig()

        def read(path: str) -> bytes:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as e:
                raise ConfigError(_read_error(path, e)) from None

        # Go's TLSInfo.ClientConfig order: both halves of the key pair named, cert read, key read, then the CA
        cert = key = None
        if tls.cert_file or tls.key_file:
            if not (tls.cert_file and tls.key_file):
                raise ConfigError(f"KeyFile and CertFile must both be present[key: {tls.key_file or ''}, "
                                  f"cert: {tls.cert_file or ''}]")
            cert, key = read(tls.cert_file), read(tls.key_file)
            from etcdctl_py.client.pemcheck import key_pair_error

            bad = key_pair_error(cert, key)
            if bad:
                raise ConfigError(bad)
        ca = read(tls.ca_file) if tls.ca_file else None
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)

    def _endpoint_credentials(self, ep: Endpoint) -> grpc.ChannelCredentials | None:
        """clientv3's credentialsForEndpoint, which it applies to the first endpoint for every connection:
        http:// drops TLS, https:// and unixs:// require it (system roots without --cacert), others use --cacert &c."""
        if ep.creds == CREDS_DROP:
            return None
        if ep.creds == CREDS_OPTIONAL or self._tls_credentials is not None:
            return self._tls_credentials
        return self._make_credentials(TLSConfig())

    def _channel(self, idx: int) -> grpc.Channel:
        ch = self._channels.get(idx)
        if ch is None:
            ep = self.endpoints[idx]
            opts = [
                ("grpc.max_receive_message_length", MAX_RECV),
                ("grpc.max_send_message_length", MAX_RECV),
                ("grpc.keepalive_time_ms", _option_ms(max(self.keepalive_time, 10.0))),
                ("grpc.keepalive_timeout_ms", _option_ms(self.keepalive_timeout)),
                ("grpc.enable_retries", 0),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ]
            creds = self._credentials
            if creds is not None:
                if self.tls is not None and self.tls.server_name:
                    opts.append(("grpc.ssl_target_name_override", self.tls.server_name))
                elif ep.target.startswith("unix:") and ep.server_name:
                    opts.append(("grpc.ssl_target_name_override", ep.server_name))
                if self.tls is not None and self.tls.insecure_skip_verify:
                    creds = self._trust_server_certificate(ep)
                ch = grpc.secure_channel(ep.target, creds, options=opts)
            else:
                ch = grpc.insecure_channel(ep.target, options=opts)
            self._channels[idx] = ch
        return ch

    def _trust_server_certificate(self, ep: Endpoint) -> grpc.ChannelCredentials:
        """--insecure-skip-tls-verify: grpcio cannot skip verification, so trust what the server shows."""
        import ssl

        try:
            pem = ssl.get_server_certificate((ep.host, ep.port), timeout=self.dial_timeout) if ep.host else ""
        except (OSError, ValueError):
            pem = ""
        tls = self.tls or TLSConfig()
        cert = open(tls.cert_file, "rb").read() if tls.cert_file else None
        key = open(tls.key_file, "rb").read() if tls.key_file else None
        return grpc.ssl_channel_credentials(root_certificates=pem.encode() or None, private_key=key,
                                            certificate_chain=cert)

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()
        self._methods.clear()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- auth
    def _authenticate(self, timeout: float | None) -> None:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        req = rpc_pb2.AuthenticateRequest(name=self._user or "", password=self._password or "")
        try:
            resp = self.unary("Auth", "Authenticate", req, rpc_pb2.AuthenticateResponse, timeout=timeout,
                              with_token=False)
        except EtcdError as e:
            if isinstance(e, DeadlineExceeded):
                raise
            if e.message == "etcdserver: authentication is not enabled":
                return  # the Go client carries on without a token
            raise AuthenticationFailed(e.code, e.message, e.go_desc) from None
        self._token = resp.token

    def _metadata(self, with_token: bool) -> list[tuple[str, str]] | None:
        if with_token and self._token:
            return [("token", self._token)]
        return None

    # ---------------------------------------------------------------- calls
    def _method(self, idx: int, service: str, method: str, resp_type: Any, kind: str) -> Any:
        key = (idx, service + "/" + method, kind, resp_type)  # KV.range_raw keeps Range's wire bytes
        m = self._methods.get(key)
        if m is None:
            pkg = "etcdserverpb"
            if service == "Lock":
                pkg = "v3lockpb"
            elif service == "Election":
                pkg = "v3electionpb"
            path = f"/{pkg}.{service}/{method}"
            ch = self._channel(idx)
            ser = _serialize
            if kind == "unary_unary":
                m = ch.unary_unary(path, request_serializer=ser, response_deserializer=resp_type.FromString)
            elif kind == "unary_stream":
                m = ch.unary_stream(path, request_serializer=ser, response_deserializer=resp_type.FromString)
            else:
                m = ch.stream_stream(path, request_serializer=ser, response_deserializer=resp_type.FromString)
            self._methods[key] = m
        return m

    def unary(self, service: str, method: str, request: Any, resp_type: Any, *,
              timeout: float | None | object = ..., with_token: bool = True) -> Any:
        """Send one unary request with failover across endpoints, retrying until the deadline."""
        if timeout is ...:
            timeout = self.command_timeout
        deadline = None if timeout is None else time.monotonic() + float(timeout)  # type: ignore[arg-type]
        refreshed = False
        last_unavailable = ""
        n = len(self.endpoints)
        tried = 0
        backoff = 0.025
        while True:
            idx = self._current
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                err = DeadlineExceeded(_deadline_desc(last_unavailable))
                self._warn(err)
                raise err
            fn = self._method(idx, service, method, resp_type, "unary_unary")
            try:
                return fn(request, timeout=grpc_timeout(remaining), metadata=self._metadata(with_token),
                          wait_for_ready=False)
            except grpc.RpcError as e:
                code = e.code()
                details = e.details() or ""
                if code == grpc.StatusCode.UNAVAILABLE and _is_connection_error(details):
                    last_unavailable = _dial_error_text(self.endpoints[idx], details)
                    with self._lock:
                        self._current = (idx + 1) % n
                    tried += 1
                    if tried % n == 0:
                        pause = backoff if remaining is None else min(backoff, max(remaining, 0))
                        time.sleep(pause)
                        backoff = min(backoff * 2, 0.5)
                    continue
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    err = DeadlineExceeded(_deadline_desc(last_unavailable) if last_unavailable
                                           else "context deadline exceeded")
                    self._warn(err)
                    raise err
                # clientv3 matches the error text whatever the code: v3lock/v3election relay an expired
                # token as code Unknown, and the unlock after a long hold must still sign in again
                if (details in TOKEN_RETRY_MESSAGES
                        and with_token and self._user is not None and not refreshed):
                    refreshed = True
                    self._authenticate(timeout=self.dial_timeout)
                    continue
                err = EtcdError.from_status(code.value[0], details)
                self._warn(err)
                raise err

    def stream(self, service: str, method: str, request: Any, resp_type: Any, *,
               timeout: float | None = None) -> Iterator[Any]:
        """A server-streaming request (e.g. Snapshot); errors surface as EtcdError while iterating."""
        fn = self._method(self._current, service, method, resp_type, "unary_stream")
        it = fn(request, timeout=grpc_timeout(timeout), metadata=self._metadata(True), wait_for_ready=True)
        return _translate_stream(it)

    def bidi(self, service: str, method: str, requests: Iterator[Any], resp_type: Any) -> Iterator[Any]:
        """A bidirectional stream (Watch, LeaseKeepAlive)."""
        fn = self._method(self._current, service, method, resp_type, "stream_stream")
        it = fn(requests, metadata=self._metadata(True), wait_for_ready=True)
        return it

    def _warn(self, err: EtcdError) -> None:
        if self.warn_logger is not None:
            self.warn_logger(err.go_error, self.endpoints[0].authority)

    # ---------------------------------------------------------------- handles
    @property
    def kv(self) -> "Any":
        h = self._handles.get("kv")
        if h is None:
            from etcdctl_py.client.kv import KV

            h = self._handles["kv"] = KV(self)
        return h

    @property
    def maintenance(self) -> "Any":
        h = self._handles.get("maintenance")
        if h is None:
            from etcdctl_py.client.maintenance import Maintenance

            h = self._handles["maintenance"] = Maintenance(self)
        return h

    def _handle(self, name: str, module: str, cls: str) -> Any:
        h = self._handles.get(name)
        if h is None:
            import importlib

            h = self._handles[name] = getattr(importlib.import_module(module), cls)(self)
        return h

    @property
    def watch(self) -> "Any":
        """Watch handle (etcdctl_py.client.watch.Watch)."""
        return self._handle("watch", "etcdctl_py.client.watch", "Watch")

    @property
    def lease(self) -> "Any":
        """Lease handle (etcdctl_py.client.lease.Lease)."""
        return self._handle("lease", "etcdctl_py.client.lease", "Lease")

    @property
    def cluster(self) -> "Any":
        """Cluster handle (etcdctl_py.client.cluster.Cluster)."""
        return self._handle("cluster", "etcdctl_py.client.cluster", "Cluster")

    @property
    def auth(self) -> "Any":
        """Auth handle (etcdctl_py.client.auth.Auth)."""
        return self._handle("auth", "etcdctl_py.client.auth", "Auth")

    @property
    def lock(self) -> "Any":
        """Lock handle (etcdctl_py.client.lock.Lock)."""
        return self._handle("lock", "etcdctl_py.client.lock", "Lock")

    @property
    def election(self) -> "Any":
        """Election handle (etcdctl_py.client.election.Election)."""
        return self._handle("election", "etcdctl_py.client.election", "Election")


def load_tls(tls: TLSConfig) -> grpc.ChannelCredentials:
    """Read and check the TLS files (Go's TLSInfo.ClientConfig); raises ConfigError with Go's text."""
    return Client._make_credentials(tls)


def _option_ms(seconds: float) -> int:
    """A duration as a grpc channel option (a C int of milliseconds): Go durations reach 292 years."""
    return max(0, min(int(seconds * 1000), 2**31 - 1))


def _serialize(msg: Any) -> bytes:
    return msg.SerializeToString()


def _translate_stream(it: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from it
    except grpc.RpcError as e:
        code = e.code()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise DeadlineExceeded() from None
        raise EtcdError.from_status(code.value[0], e.details() or "") from None


def _is_connection_error(details: str) -> bool:
    d = details.lower()
    return any(s in d for s in ("failed to connect", "connection refused", "connect failed", "dns resolution",
                                "name resolution", "no such file", "socket closed", "connection reset",
                                "handshake", "unavailable", "failed to pick", "empty address list",
                                "ssl_error", "ipv4:", "ipv6:", "unix:"))


def _dial_error_text(ep: Endpoint, details: str) -> str:
    """Go's text for a failed dial of `ep`, from grpc-core's `details`."""
    if ep.dial_error:
        return ep.dial_error
    d = details.lower()
    for needle, errno_text in (("connection refused", "connection refused"),
                               ("no such file", "no such file or directory"),
                               ("permission denied", "permission denied")):
        if needle in d:
            return f"dial {ep.dial_addr}: connect: {errno_text}"
    return details


def _deadline_desc(last: str) -> str:
    if not last:
        return "context deadline exceeded"
    return ('latest balancer error: last connection error: connection error: desc = '
            f'"transport: Error while dialing {last}"')


def _os_error_text(e: OSError) -> str:
    import errno

    return {errno.ENOENT: "no such file or directory", errno.EACCES: "permission denied",
            errno.EISDIR: "is a directory"}.get(e.errno or 0, (e.strerror or str(e)).lower())


def _read_error(path: str, e: OSError) -> str:
    """Go's ioutil.ReadFile error: a directory opens fine and fails on read."""
    import errno

    op = "read" if e.errno == errno.EISDIR else "open"
    return f"{op} {path}: {_os_error_text(e)}"
