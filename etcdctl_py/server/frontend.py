"""The client-port front listener: gRPC and HTTP/1.1 on the same port, as etcd serves them.

A connection whose first bytes are the HTTP/2 preface is spliced to the internal grpcio server
(a unix socket in a private 0700 directory, see grpclink: nothing but the configured URLs listens
on TCP), as etcd's cmux hands it to gRPC; anything else is HTTP/1.1 (/health, /version, /metrics,
/v2/...), parsed and framed by h11, with the replies shaped as Go's net/http shapes them (header
order, Date, chunking of bodies over 2 KiB, its error answers; see httpreply). With TLS the handshake
happens here and the decrypted stream is sniffed the same way; the verified client certificate's CN
is registered for the internal connection's own socket path so the gRPC layer can use it as the user
name, and handed to the v2 API for its client-certificate auth.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import struct
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import h11

from etcdctl_py.gofmt import go_json
from etcdctl_py.gofmt import quote as go_quote
from etcdctl_py.server.grpclink import GrpcLink, peer_key
from etcdctl_py.server.httpreply import (
    CHUNKING_THRESHOLD,
    CORS,
    REASONS,
    Headers,
    Reply,
    Result,
    Streamed,
    body_allowed,
    header_block,
    http_error,
    not_allowed,
    not_found,
)
from etcdctl_py.server.zaplog import log

if TYPE_CHECKING:
    from etcdctl_py.server.gateway import Gateway

PREFACE = b"PRI * HTTP/2.0"  # enough of it to tell gRPC apart
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CMUX_LINE_LIMIT = 4096  # cmux's HTTP1 matcher reads at most this much looking for the first request line
MAX_HEADER_BYTES = (1 << 20) + 4096  # net/http's DefaultMaxHeaderBytes and the slack it allows
MAX_BODY_BYTES = 1 << 26
_HTTP1_VERSION = re.compile(rb"HTTP/1\.\d+")
_ERROR_HEADERS = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"


class V2Handler(Protocol):
    """The v2 API as the listener calls it (etcdctl_py.server.v2.mount.V2Mount)."""

    async def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes, peer_cn: str | None
    ) -> Reply: ...


@dataclass(frozen=True)
class Access:
    """etcd's AccessController as --cors and --host-whitelist set it; an empty set or '*' allows all."""

    origins: frozenset[str] = frozenset({"*"})
    hosts: frozenset[str] = frozenset({"*"})

    @classmethod
    def from_flags(cls, cors: str, host_whitelist: str) -> Access:
        """From the flags' values: comma-separated, as etcd's unique-URL and unique-string flags print them."""
        return cls(frozenset(filter(None, cors.split(","))), frozenset(filter(None, host_whitelist.split(","))))

    def host_allowed(self, host: str) -> bool:
        return not self.hosts or "*" in self.hosts or host in self.hosts

    def cors_headers(self, origin: str) -> Headers:
        """The CORS headers of a reply to a request from `origin` (its Origin header, "" without one)."""
        if not self.origins or "*" in self.origins:
            origin = "*"
        elif origin not in self.origins:
            return []
        return [(name, origin if value == "*" else value) for name, value in CORS]


def go_hostname(host: str) -> str:
    """etcd's httputil.GetHostname: the Host header without its port (net.SplitHostPort), or the whole of it."""
    if host.startswith("["):
        end = host.find("]")
        if end > 0 and host[end + 1 : end + 2] == ":" and ":" not in host[end + 2 :]:
            return host[1:end]
        return host
    name, sep, port = host.rpartition(":")
    if sep and ":" not in name and "[" not in name and "]" not in name and "]" not in port:
        return name
    return host


def dns_rebinding_refusal(host: str) -> str:
    """etcd's answer (421) to a plain-HTTP request whose Host is not in --host-whitelist (CVE-2018-5702)."""
    return (
        "\netcd received your request, but the Host header was unrecognized.\n\n"
        "To fix this, choose one of the following options:\n"
        "- Enable TLS, then any HTTPS request will be allowed.\n"
        "- Add the hostname you want to use to the whitelist in settings.\n"
        f"  - e.g. etcd --host-whitelist {go_quote(host)}\n\n"
        'This requirement has been added to help prevent "DNS Rebinding" attacks (CVE-2018-5702).\n'
    )


def with_headers(reply: Reply, extra: Headers) -> Reply:
    """`reply` with `extra` headers added (a streamed reply's too)."""
    if not extra:
        return reply
    if isinstance(reply, Streamed):
        return replace(reply, headers=extra + reply.headers)
    status, headers, body = reply
    return status, extra + headers, body


class HttpApp:
    """The HTTP/1.1 endpoints etcd serves on the client port: /health, /version, /metrics, /v2 when mounted and
    the JSON gateway at /v3/ (server/gateway.py) unless --enable-grpc-gateway=false."""

    def __init__(
        self, core: Any, v2: V2Handler | None = None, gateway: Gateway | None = None, access: Access | None = None
    ) -> None:
        self.core = core
        self.v2 = v2
        self.gateway = gateway  # etcd's grpc-gateway at /v3/ (None: --enable-grpc-gateway=false)
        self.access = access or Access()

    async def answer(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        peer_cn: str | None,
        secure: bool = False,
    ) -> Reply:
        """etcd's accessController in front of its mux: a plain-HTTP request's Host must be whitelisted, a TLS
        one passes the gateway's CN check; then the CORS headers, OPTIONS answered for every path, the rest
        routed. `secure`: the request came over TLS."""
        if not secure:
            host = go_hostname(headers.get("host", ""))
            if not self.access.host_allowed(host):
                log("warn", "rejecting HTTP request to prevent DNS rebinding attacks", host=host)
                return http_error(421, dns_rebinding_refusal(host))
        elif self.gateway is not None:
            refused = self.gateway.refuses_cn(target, peer_cn)
            if refused is not None:
                return refused
        return with_headers(
            await self._route(method, target, headers, body, peer_cn),
            self.access.cors_headers(headers.get("origin", "")),
        )

    async def _route(
        self, method: str, target: str, headers: dict[str, str], body: bytes, peer_cn: str | None
    ) -> Reply:
        if method == "OPTIONS":
            return 200, [], b""
        if self.gateway is not None and self.gateway.handles(target):
            return await self.gateway.serve(method, target, headers, body, peer_cn)
        if self.v2 is not None and is_v2_path(target):
            return await self.v2.serve(method, target, headers, body, peer_cn)
        return await asyncio.get_running_loop().run_in_executor(None, self.handle, method, target)

    def handle(self, method: str, target: str) -> Result:
        """The basic handlers (etcdhttp): each refuses methods but GET as etcd does, except /metrics."""
        path = target.split("?", 1)[0]
        if path == "/health":
            return self.health() if method == "GET" else not_allowed("GET")
        if path == "/version":
            if method != "GET":
                return not_allowed("GET")
            return 200, [("Content-Type", "application/json")], b'{"etcdserver":"3.5.1","etcdcluster":"3.5.0"}'
        if path == "/metrics":
            return 200, [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], self.metrics()
        return not_found()

    def health(self) -> Result:
        """etcdhttp's health handler: an alarm makes it an http.Error 503; a healthy body is sniffed as text."""
        alarms = [a for _, a in self.core.alarms]
        if alarms:
            from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb

            reason = "ALARM " + pb.AlarmType.Name(alarms[0])
            return http_error(503, go_json({"health": "false", "reason": reason}))
        return 200, [], b'{"health":"true","reason":""}'

    def metrics(self) -> bytes:
        c = self.core
        lines = [
            "# TYPE etcd_server_has_leader gauge",
            "etcd_server_has_leader 1",
            "# TYPE etcd_server_is_leader gauge",
            "etcd_server_is_leader 1",
            "# TYPE etcd_mvcc_db_total_size_in_bytes gauge",
            f"etcd_mvcc_db_total_size_in_bytes {c.persister.db_size()}",
            "# TYPE etcd_debugging_mvcc_current_revision gauge",
            f"etcd_debugging_mvcc_current_revision {c.store.current_rev}",
            "# TYPE etcd_debugging_mvcc_watcher_total gauge",  # what a client waits on after starting a watch
            f"etcd_debugging_mvcc_watcher_total {len(c.watch.watchers)}",
            "# TYPE etcd_server_proposals_applied_total gauge",
            f"etcd_server_proposals_applied_total {c.applied_index}",
            "# TYPE etcd_server_version gauge",
            'etcd_server_version{server_version="3.5.1"} 1',
            "",
        ]
        return "\n".join(lines).encode()


def is_v2_path(target: str) -> bool:
    path = target.split("?", 1)[0]
    return path == "/v2" or path.startswith("/v2/")


def cmux_http1(line: bytes) -> bool:
    """cmux's HTTP1 matcher, which etcd puts before its HTTP server on a plain-text port: "METHOD URI HTTP/1.x"
    (Go's ParseHTTPVersion with major version 1). A connection that fails it is closed without an answer."""
    s1 = line.find(b" ")
    s2 = line.find(b" ", s1 + 1) if s1 >= 0 else -1
    if s2 < 0:
        return False
    return _HTTP1_VERSION.fullmatch(line[s2 + 1 :]) is not None


def cmux_consumed(data: bytes, whole: bool) -> int:
    """How much of what a client sent cmux reads before it gives up on a connection: its HTTP/2 matcher's one
    read of the 24-byte preface, and its HTTP/1 matcher's line, up to 4096 bytes."""
    return max(len(H2_PREFACE), data.index(b"\n") + 1 if whole else CMUX_LINE_LIMIT)


def escape_target(line: bytes) -> bytes:
    """Percent-encode the non-ASCII bytes of a request line's target. Go's net/http takes them raw (curl sends a
    UTF-8 key that way); h11 accepts only visible ASCII there. The handlers decode the path and the query, so
    the request means the same."""
    if max(line, default=0) < 0x80:
        return line
    return re.sub(rb"[\x80-\xff]", lambda m: b"%%%02X" % m.group(0)[0], line)


def go_error(err: h11.RemoteProtocolError) -> bytes:
    """What net/http writes, before closing, for a request it cannot read."""
    text = str(err)
    if "Host" in text:
        public = "400 Bad Request: " + (
            "too many Host headers" if "multiple" in text else "missing required Host header"
        )
    elif err.error_status_hint == 431:
        public = "431 Request Header Fields Too Large"
    elif err.error_status_hint == 501:
        return b"HTTP/1.1 501 Not Implemented" + _ERROR_HEADERS + b"Unsupported transfer encoding"
    else:
        public = "400 Bad Request"
    return b"HTTP/1.1 " + public.encode() + _ERROR_HEADERS + public.encode()


def go_framing(block: bytes, http10: bool) -> bytes:
    """h11's response head in net/http's framing order: Connection before Transfer-Encoding, and an HTTP/1.0
    request answered as HTTP/1.0 (no Connection header: 1.0 closes by default)."""
    if http10:
        block = b"HTTP/1.0" + block[len(b"HTTP/1.1") :]
        return block.replace(b"\r\nConnection: close\r\n", b"\r\n", 1)
    te, conn = b"Transfer-Encoding: chunked\r\n", b"Connection: close\r\n"
    if te in block and conn in block:
        block = block.replace(conn, b"", 1).replace(te, conn + te, 1)
    return block


class Http1Conn:
    """One HTTP/1.1 connection: h11 parses requests and frames replies; the replies follow Go's net/http."""

    def __init__(
        self, app: HttpApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer_cn: str | None
    ) -> None:
        self.app, self.reader, self.writer, self.peer_cn = app, reader, writer, peer_cn
        self.secure = writer.get_extra_info("ssl_object") is not None
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.eof = False
        self.fed = 0  # bytes handed to h11 so far
        self.cycle_start = 0  # ... of which the ones before the current request

    async def serve(self, head: bytes, sniff_line: bool) -> None:
        """Answer requests until either side closes. `sniff_line`: apply cmux's matcher first (plain text)."""
        first, whole = await self._request_line(head, CMUX_LINE_LIMIT if sniff_line else MAX_HEADER_BYTES)
        if sniff_line and not (whole and cmux_http1(first.split(b"\n", 1)[0].removesuffix(b"\r"))):
            if len(first) > cmux_consumed(first, whole):
                _reset_on_close(self.writer)  # cmux drops it with bytes it never read: the client sees a reset
            return
        self._feed(escape_target_line(first))
        while True:
            try:
                req = await self._request()
                if req is None:
                    return
                body = await self._body(req)
            except h11.RemoteProtocolError as e:
                if not self.eof:
                    self.writer.write(go_error(e))
                return
            if body is None:
                return
            reply = await self._answer(req, body)
            if reply is None or not await self._send(req, reply) or self.conn.our_state is not h11.DONE:
                return
            self._next_cycle()

    def _next_cycle(self) -> None:
        """Start on the next request. One the client pipelined, already buffered, gets its target escaped as
        escape_target() does for the others: its bytes go to a fresh h11 connection (the same state between two
        requests)."""
        self.conn.start_next_cycle()
        data, closed = self.conn.trailing_data
        escaped = escape_target_line(data)
        if escaped != data:
            self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
            self.fed = 0
            self._feed(escaped)
            if closed:
                self.conn.receive_data(b"")
        self.cycle_start = self.fed - len(self.conn.trailing_data[0])

    def _feed(self, data: bytes) -> None:
        self.fed += len(data)
        self.conn.receive_data(data)

    async def _request(self) -> h11.Request | None:
        """The next request's head; None when the client closed. net/http's limit on a head's size holds even
        when it arrives whole (h11 checks only an incomplete one)."""
        req = await self._next_event()
        if not isinstance(req, h11.Request):
            return None
        if self.fed - len(self.conn.trailing_data[0]) - self.cycle_start > MAX_HEADER_BYTES:
            raise h11.RemoteProtocolError("request head too long", error_status_hint=431)
        return req

    async def _answer(self, req: h11.Request, body: bytes) -> Reply | None:
        """The app's reply; None ends the connection unanswered, as net/http does when a handler panics."""
        try:
            return await self.app.answer(
                req.method.decode("latin-1"),
                req.target.decode("latin-1"),
                _header_dict(req.headers),
                body,
                self.peer_cn,
                self.secure,
            )
        except Exception as e:  # noqa: BLE001 - net/http recovers a handler's panic, logs it and closes the conn
            log("error", "http: panic serving client request", error=f"{type(e).__name__}: {e}")
            return None

    async def _read(self) -> bytes:
        data = await self.reader.read(65536)
        self.eof = self.eof or not data
        return data

    async def _request_line(self, buf: bytes, limit: int) -> tuple[bytes, bool]:
        """Read on until `buf` holds a whole request line within `limit` bytes: (what was read, whether it does)."""
        while b"\n" not in buf[:limit]:
            if len(buf) >= limit:
                return buf, False
            data = await self._read()
            if not data:
                return buf, False
            buf += data
        return buf, True

    async def _next_event(self) -> Any:
        """h11's next event, reading as it needs; a new request's line has its target escaped first."""
        while True:
            ev = self.conn.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            starts_request = self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]
            data = await self._read()
            if starts_request and data:
                data = escape_target_line((await self._request_line(data, MAX_HEADER_BYTES))[0])
            self._feed(data)

    async def _body(self, req: h11.Request) -> bytes | None:
        """The whole request body (net/http answers Expect: 100-continue when a handler reads a body)."""
        lengths = [v for k, v in req.headers if k == b"content-length"]
        if self.conn.they_are_waiting_for_100_continue and lengths != [b"0"]:
            self.writer.write(
                self.conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
            )
        parts: list[bytes] = []
        size = 0
        while True:
            ev = await self._next_event()
            if isinstance(ev, h11.EndOfMessage):
                return b"".join(parts)
            if not isinstance(ev, h11.Data):
                return None
            parts.append(ev.data)
            size += len(ev.data)
            if size > MAX_BODY_BYTES:
                return None

    def _head(self, req: h11.Request, status: int, headers: Headers) -> bytes:
        block = self.conn.send(
            h11.Response(status_code=status, headers=headers, reason=REASONS.get(status, "").encode())
        )
        return go_framing(block, req.http_version == b"1.0")

    async def _send(self, req: h11.Request, reply: Reply) -> bool:
        """Write one reply; False when the connection must end (the client hung up during a stream)."""
        if isinstance(reply, Streamed):
            return await self._send_stream(req, reply)
        status, headers, body = reply
        head = req.method == b"HEAD"
        known = len(body) <= CHUNKING_THRESHOLD  # net/http counts a body only when it fits its buffer
        self.writer.write(self._head(req, status, header_block(status, headers, body, head=head, length_known=known)))
        if body and not head and body_allowed(status):
            self.writer.write(self.conn.send(h11.Data(data=body)))
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        return True

    async def _send_stream(self, req: h11.Request, reply: Streamed) -> bool:
        """Headers at once, then each chunk as it comes; ends early, closing the stream, if the client hangs up
        (Go's CloseNotify)."""
        self.writer.write(
            self._head(
                req, reply.status, header_block(reply.status, reply.headers, b"", head=False, length_known=False)
            )
        )
        await self.writer.drain()
        pump = asyncio.ensure_future(self._pump(reply.chunks))
        hangup = asyncio.ensure_future(self._read_ahead())
        try:
            await asyncio.wait({pump, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, hangup):
                task.cancel()
            await asyncio.gather(pump, hangup, return_exceptions=True)
            reply.close()
        if pump.cancelled() or pump.exception() is not None:
            return False
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        return True

    async def _pump(self, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            self.writer.write(self.conn.send(h11.Data(data=chunk)))
            await self.writer.drain()

    async def _read_ahead(self) -> None:
        """Return when the client hangs up; what it sends meanwhile (a pipelined request) is kept for h11."""
        while True:
            data = await self._read()
            if not data:
                return
            self._feed(data)
            if len(self.conn.trailing_data[0]) > MAX_HEADER_BYTES:
                await asyncio.get_running_loop().create_future()  # stop reading; the stream goes on


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Make the coming close a TCP reset (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def escape_target_line(data: bytes) -> bytes:
    """escape_target() applied to the request line at the start of `data`."""
    line, sep, rest = data.partition(b"\n")
    return escape_target(line) + sep + rest if sep else data


def _header_dict(headers: Any) -> dict[str, str]:
    """Request headers by lower-case name; Go's Header.Get: the first value of a repeated one."""
    out: dict[str, str] = {}
    for name, value in headers:
        out.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return out


class TLSConfigError(ValueError):
    """A client TLS setting etcd refuses at start-up; the text is etcd's (Go's crypto/tls, os)."""


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


def _read(path: str) -> bytes:
    """ioutil.ReadFile with Go's error text."""
    if os.path.isdir(path):
        raise TLSConfigError(f"read {path}: is a directory")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise TLSConfigError(f"open {path}: {(e.strerror or str(e)).lower()}") from None


def _check_key_pair(cert: bytes, key: bytes) -> None:
    """The PEM checks of Go's tls.X509KeyPair, in its order and with its texts."""
    kinds = [m.group(1).decode() for m in _PEM_BLOCK.finditer(cert)]
    if not kinds:
        raise TLSConfigError("tls: failed to find any PEM data in certificate input")
    if "CERTIFICATE" not in kinds:
        if any(k.endswith("PRIVATE KEY") for k in kinds):
            raise TLSConfigError(
                "tls: failed to find certificate PEM data in certificate input, but did find a "
                "private key; PEM inputs may have been switched"
            )
        raise TLSConfigError(
            f'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping '
            f"PEM blocks of the following types: {kinds}"
        )
    kinds = [m.group(1).decode() for m in _PEM_BLOCK.finditer(key)]
    if not kinds:
        raise TLSConfigError("tls: failed to find any PEM data in key input")
    if not any(k == "PRIVATE KEY" or k.endswith(" PRIVATE KEY") for k in kinds):
        if "CERTIFICATE" in kinds:
            raise TLSConfigError("tls: found a certificate rather than a key in the PEM for the private key")
        raise TLSConfigError(
            f'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after '
            f"skipping PEM blocks of the following types: {kinds}"
        )


WEAK_DIGESTS = ("md5", "sha1")  # signatures OpenSSL 3 refuses from security level 1 on; Go 1.16 (etcd 3.5.1) takes them


def weak_signed(pem: bytes) -> list[tuple[str, str]]:
    """(subject, digest) of each certificate in `pem` signed with a WEAK_DIGESTS digest."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm

    out = []
    for m in _PEM_BLOCK.finditer(pem):
        if m.group(1) != b"CERTIFICATE":
            continue
        try:
            cert = x509.load_pem_x509_certificate(m.group(0))
            algo = cert.signature_hash_algorithm
        except (ValueError, UnsupportedAlgorithm):  # not a certificate OpenSSL would load either: its error, later
            continue
        if algo is not None and algo.name in WEAK_DIGESTS:
            out.append((cert.subject.rfc4514_string(), algo.name))
    return out


def _allow_weak_signatures(ctx: ssl.SSLContext, path: str, pem: bytes, log_level: str) -> None:
    """Serve certificates signed with SHA-1 (or MD5) as etcd 3.5.1 does: OpenSSL's security level 0 for this
    server context only, and only when a configured certificate needs it; one warning line for each."""
    weak = weak_signed(pem)
    if weak:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    for subject, digest in weak:
        log(
            "warn",
            "accepting a certificate signed with a weak digest, as etcd 3.5.1 does; re-issue it signed with SHA-256",
            log_level,
            certificate=path,
            subject=subject,
            signature=digest,
        )


def server_ssl_context(
    cert_file: str, key_file: str, trusted_ca_file: str = "", client_cert_auth: bool = False, log_level: str = "info"
) -> ssl.SSLContext:
    """The TLS side of an https client URL, refused at start-up as etcd's transport.TLSInfo refuses it.

    A trusted-CA file without PEM data is an empty pool for etcd (it starts, and no client certificate
    verifies), not an error. log_level: the server's --log-level, for the weak-signature warning."""
    cert, key = _read(cert_file), _read(key_file)
    _check_key_pair(cert, key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _allow_weak_signatures(ctx, cert_file, cert, log_level)  # before loading: OpenSSL checks the digests then
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError("tls: private key does not match public key") from None
        raise TLSConfigError(f"tls: {e.reason or e}") from None
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if trusted_ca_file:
        ca = _read(trusted_ca_file)
        _allow_weak_signatures(ctx, trusted_ca_file, ca, log_level)  # client certificates it signed verify too
        blocks = [m.group(0).decode("ascii", "replace") for m in _PEM_BLOCK.finditer(ca)]
        for block in blocks:
            try:
                ctx.load_verify_locations(cadata=block)
            except (ssl.SSLError, ValueError) as e:
                raise TLSConfigError(f"x509: {getattr(e, 'reason', None) or e}") from None
    if client_cert_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def _pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Copy one direction of a spliced connection, then half-close (or close) the other side."""
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass  # this direction is over (a peer reset, or the server stopping); the other side learns it below
    finally:
        try:
            if w.can_write_eof():
                w.write_eof()
            else:
                w.close()
        except (OSError, RuntimeError):
            pass  # the other side is already closed: nothing left to tell it


def verified_cn(writer: asyncio.StreamWriter) -> str | None:
    """The CN of the client certificate the TLS handshake verified (etcd: VerifiedChains[0]'s CommonName, ""
    when it has none); None without TLS or without a verified certificate."""
    cert = writer.get_extra_info("peercert")
    if not cert:
        return None
    cn = ""
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    return cn


class FrontListener:
    """asyncio loop in its own thread: sniff, splice to gRPC or serve HTTP/1.1."""

    def __init__(
        self,
        host: str,
        port: int,
        link: GrpcLink,
        app: HttpApp,
        ssl_ctx: ssl.SSLContext | None = None,
        on_peer_cn: Callable[[str, str | None], None] | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self.host, self.port, self.link = host, port, link
        self.sock = sock  # already bound and listening (the server binds before it touches the data dir)
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.on_peer_cn = on_peer_cn
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"front-{port}")

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            if self.sock is not None:
                serving = asyncio.start_server(self._conn, sock=self.sock, ssl=self.ssl_ctx, backlog=1024)
            else:
                serving = asyncio.start_server(
                    self._conn, self.host, self.port, ssl=self.ssl_ctx, reuse_address=True, backlog=1024
                )
            self.server = self.loop.run_until_complete(serving)
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self._shutdown())
        finally:
            self.loop.close()

    def stop(self) -> None:
        """Stop serving, as etcd closes its client listeners: no new connections, every open one ends now (an
        open watch or an unanswered request sees its socket close). The loop thread finishes each connection's
        handler and closes the loop itself, so nothing is left pending for interpreter exit to destroy."""
        if self.thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.loop.stop)
            except RuntimeError:  # the loop already closed
                pass
        self.thread.join(5)

    async def _shutdown(self) -> None:
        """Runs on the loop once stop() ended run_forever: close the listener, cancel the connection handlers and
        wait for them (their finally blocks close both sockets), then let running HTTP handlers finish."""
        if self.server is not None:
            self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            done, _ = await asyncio.wait(tasks, timeout=3)
            for t in done:
                if not t.cancelled():
                    t.exception()  # retrieved: no "exception was never retrieved" report at exit
        await asyncio.sleep(0)  # the closed transports' connection_lost callbacks
        await self.loop.shutdown_asyncgens()
        try:
            await asyncio.wait_for(self.loop.shutdown_default_executor(), 3)
        except TimeoutError:
            pass

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = b""
            while len(head) < len(PREFACE):
                chunk = await reader.read(len(PREFACE) - len(head))
                if not chunk:
                    break
                head += chunk
                if not PREFACE.startswith(head[: len(PREFACE)]):
                    break
            if head.startswith(PREFACE):
                await self._splice(head, reader, writer)
            elif head:
                await Http1Conn(self.app, reader, writer, verified_cn(writer)).serve(head, self.ssl_ctx is None)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError, h11.ProtocolError):  # incl. the private socket
            pass  # gone at stop; a reply h11 refuses to frame ends its connection
        except asyncio.CancelledError:  # _shutdown(): the connection ends with the server. Returning (not
            pass  # re-raising) matters: asyncio's done-callback for this task would report a cancelled one
        finally:
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass  # already closed, or the loop is closing: the socket goes either way

    async def _splice(self, head: bytes, reader, writer) -> None:
        """Pass a gRPC connection on to grpcio through the private unix socket (grpclink)."""
        csock = writer.get_extra_info("socket")
        if csock is not None:
            try:
                csock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the unix side has no Nagle to turn off
            except OSError:
                pass
        sock, path = self.link.client_socket()
        key = peer_key(path)
        cn = verified_cn(writer) if self.on_peer_cn is not None else None
        if cn is not None and self.on_peer_cn is not None:
            self.on_peer_cn(key, cn)  # registered before grpcio can see the connection
        try:
            await asyncio.get_running_loop().sock_connect(sock, self.link.server_path)
            ur, uw = await asyncio.open_unix_connection(sock=sock)
        except BaseException:
            sock.close()
            self._forget(key, path, cn)
            raise
        uw.write(head)
        try:
            await asyncio.gather(_pump(reader, uw), _pump(ur, writer))
        finally:
            uw.close()
            self._forget(key, path, cn)

    def _forget(self, key: str, path: str, cn: str | None) -> None:
        if cn is not None and self.on_peer_cn is not None:
            self.on_peer_cn(key, None)
        self.link.release(path)
