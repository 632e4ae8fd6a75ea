"""One HTTP round trip to one v2 endpoint on http.client, with Go-worded failures.

Why not urllib: we need separate connect / header / total deadlines and the exact
error texts of Go's net/http client (`dial tcp H:P: connect: connection refused`,
`client: endpoint U exceeded header timeout`, `context deadline exceeded`).
"""

from __future__ import annotations

import errno
import functools
import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, urlsplit

from etcdctl_py.client.tls import TLSConfig
from etcdctl_py.client.transport.gotls import fetch_peer_certificate, tls_error_text
from etcdctl_py.gofmt import go_json

from .errors import PlainError, V2Error, deadline_exceeded

DEFAULT_DIAL_TIMEOUT = 30.0


@dataclass
class Request:
    """A prepared HTTP request, relative to an endpoint (path already escaped, query encoded)."""

    method: str
    path: str
    query: str = ""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    wait: bool = False  # long-poll: no header timeout

    def url(self, endpoint: str) -> str:
        base = endpoint.rstrip("/") if self.path.startswith("/") else endpoint
        return base + self.path + (("?" + self.query) if self.query else "")


JSON_TYPE = {"Content-Type": "application/json"}


def json_body(obj: object) -> bytes:
    """A request body as client/v2 marshals it (Go's encoding/json)."""
    return go_json(obj).encode("utf-8", "surrogateescape")


def escape_path(p: str) -> str:
    """url.URL.EscapedPath for a plain path."""
    return quote(p.encode("utf-8", "surrogateescape"), safe="/$&+,:;=@-_.~")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> object:
        """The body decoded; PlainError with encoding/json's message (which client/v2 returns as is) if not JSON."""
        try:
            return json.loads(self.body.decode("utf-8", "replace"))
        except ValueError:
            raise PlainError(_json_error(self.body)) from None

    def check_status(self, *want: int) -> None:
        """client/v2's assertStatusCode."""
        if self.status not in want:
            raise PlainError(f"unexpected status code {self.status}")


def _json_error(body: bytes) -> str:
    if not body.strip():
        return "unexpected end of JSON input"
    return f"invalid character {body[:1].decode('latin-1')!r} looking for beginning of value"


class Doer(Protocol):
    """What the keys, members and auth APIs need of a client (cluster.Client): one request under a deadline."""

    def do(self, req: Request, deadline: Deadline, one_shot: bool = False) -> Response: ...


class Deadline:
    """An absolute monotonic deadline (Go's context.WithTimeout); None means no deadline."""

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def expired(self) -> bool:
        r = self.remaining()
        return r is not None and r <= 0


def _hostport(endpoint: str) -> tuple[str, str, int]:
    u = urlsplit(endpoint)
    scheme = u.scheme or "http"
    host = u.hostname or ""
    port = u.port or (443 if scheme == "https" else 80)
    return scheme, host, port


def _tls_error(
    exc: ssl.SSLError, server_name: str, peer_certificate: Callable[[], bytes | None] | None = None
) -> V2Error:
    """The message Go's crypto/tls and crypto/x509 give for the same failure (etcdctl exits 4, not 2, on it); the
    texts are the v3 client's (client/transport/gotls.py), without grpc's dial wrapping."""
    return PlainError(tls_error_text(exc, server_name, peer_certificate), connection=False)


def _dial_error(host: str, port: int, exc: BaseException) -> V2Error:
    addr = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if isinstance(exc, ssl.SSLError):
        return _tls_error(exc, host)
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return PlainError(f"dial tcp {addr}: connect: connection refused", connection=True)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return PlainError(f"dial tcp {addr}: i/o timeout", connection=True)
    if isinstance(exc, ConnectionResetError):
        return PlainError(f"read tcp {addr}: read: connection reset by peer", connection=True)
    if isinstance(exc, OSError) and exc.strerror:
        return PlainError(f"dial tcp {addr}: connect: {exc.strerror.lower()}", connection=True)
    return PlainError(f"dial tcp {addr}: {exc}", connection=True)


def _left(limit: float | None) -> float | None:
    """Seconds until a monotonic time limit (None: no limit)."""
    return None if limit is None else limit - time.monotonic()


def _timeout(*lefts: float | None) -> float | None:
    """A socket timeout for the nearest of the limits left (None: block), never zero (that would mean non-blocking)."""
    known = [x for x in lefts if x is not None]
    return max(min(known), 0.001) if known else None


class Transport:
    """Opens one connection per request (etcdctl runs a handful of requests per process)."""

    def __init__(
        self, tls: TLSConfig | None = None, dial_timeout: float = DEFAULT_DIAL_TIMEOUT, header_timeout: float = 0.0
    ) -> None:
        self.tls = tls or TLSConfig()
        self.dial_timeout = dial_timeout
        self.header_timeout = header_timeout
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = self.tls.ssl_context()
        return self._ssl

    def open(
        self, endpoint: str, req: Request, deadline: Deadline
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send the request and read the status line + headers; the caller reads the body."""
        if deadline.expired():
            raise deadline_exceeded()
        header_limit = None if (req.wait or self.header_timeout <= 0) else time.monotonic() + self.header_timeout
        conn = self._connect(endpoint, deadline, header_limit)
        resp = self._send(conn, endpoint, req, deadline, header_limit)
        # After the headers only the total deadline applies (a long poll may wait forever).
        conn.sock.settimeout(_timeout(deadline.remaining()))
        return conn, resp

    def _connect(self, endpoint: str, deadline: Deadline, header_limit: float | None) -> http.client.HTTPConnection:
        """Dial (and the TLS handshake) within the dial timeout, the total deadline and the header timeout."""
        scheme, host, port = _hostport(endpoint)
        dial = min([self.dial_timeout, *(x for x in (deadline.remaining(), _left(header_limit)) if x is not None)])
        try:
            sock = socket.create_connection((host, port), timeout=max(dial, 0.001))
        except OSError as e:
            if isinstance(e, TimeoutError):
                if deadline.expired():
                    raise deadline_exceeded() from None
                if header_limit is not None and time.monotonic() >= header_limit:
                    raise PlainError(f"client: endpoint {endpoint} exceeded header timeout") from None
            raise _dial_error(host, port, e) from None
        if scheme != "https":
            conn = http.client.HTTPConnection(host, port)
        else:
            server_name = self.tls.server_name or host
            try:
                sock = self._ssl_context().wrap_socket(sock, server_hostname=server_name)
            except ssl.SSLError as e:
                sock.close()
                cert = functools.partial(fetch_peer_certificate, (host, port), server_name, dial)
                raise _tls_error(e, server_name, cert) from None
            except OSError as e:
                sock.close()
                raise _dial_error(host, port, e) from None
            conn = http.client.HTTPSConnection(host, port)
        conn.sock = sock
        return conn

    def _send(
        self,
        conn: http.client.HTTPConnection,
        endpoint: str,
        req: Request,
        deadline: Deadline,
        header_limit: float | None,
    ) -> http.client.HTTPResponse:
        """Write the request as Go's client does and wait for the status line and headers."""
        try:
            conn.sock.settimeout(_timeout(deadline.remaining(), _left(header_limit)))
            headers = {"Host": f"{conn.host}:{conn.port}", "User-Agent": "Go-http-client/1.1", **req.headers}
            if req.body is not None:
                headers["Content-Length"] = str(len(req.body))
            conn.putrequest(
                req.method,
                req.path + (("?" + req.query) if req.query else ""),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(req.body)
            return conn.getresponse()
        except TimeoutError:
            conn.close()
            if deadline.expired():
                raise deadline_exceeded() from None
            raise PlainError(f"client: endpoint {endpoint} exceeded header timeout") from None
        except OSError as e:
            conn.close()
            raise _dial_error(conn.host, conn.port, e) from None
        except http.client.HTTPException as e:
            conn.close()
            raise PlainError(f"malformed HTTP response: {e}", connection=True) from None

    def round_trip(self, endpoint: str, req: Request, deadline: Deadline) -> Response:
        conn, resp = self.open(endpoint, req, deadline)
        try:
            body = resp.read()
        except TimeoutError:
            raise deadline_exceeded() from None
        except (OSError, http.client.HTTPException) as e:
            raise PlainError(f"unexpected EOF: {e}", connection=True) from None
        finally:
            conn.close()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
