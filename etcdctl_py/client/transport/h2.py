"""A small HTTP/2 + gRPC client on the standard library: unary and server-streaming calls without grpcio.

Why: importing grpc costs more than everything else a short `etcdctl-py get` does. Plain connections need only
`_socket` (the C half of `socket`); TLS adds `socket` and `ssl` (ALPN `h2`, the same verification as the grpcio
path: CA or system roots, client key pair, --insecure-skip-tls-verify, the server name).

One connection per endpoint, opened on first use and kept for the client's next calls; unary calls take turns on
it (a lock), a server stream gets a connection of its own. What the peer may send is handled: SETTINGS (acked;
the initial window and frame size kept), PING (acked), WINDOW_UPDATE (our request bodies wait for window),
GOAWAY (a call the server did not take is made again on a new connection, as grpc-go does), RST_STREAM, header
blocks split into CONTINUATION frames (decoded with a full HPACK decoder, so the connection's dynamic table stays
in step), trailers-only responses and padding. Our receive windows are raised to the maximum up front and topped
up, so a large Range never waits on us.

Failures are CallError with the status grpc-go would report: `grpc-status`/`grpc-message` from the trailers, a
RST_STREAM's code, `unexpected EOF` for a stream that ends inside a message (whatever status it ends with),
`error reading from server: EOF` for a connection cut mid-response, `context deadline exceeded`
at the deadline (which is also sent as `grpc-timeout`). A member that cannot be reached (refused dial, failed TLS
handshake) raises CallError with `dial_error`, Go's text, so that the client moves on to the next endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from etcdctl_py.client.transport import hpack
from etcdctl_py.client.transport.base import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    INTERNAL,
    UNAVAILABLE,
    UNKNOWN,
    CallError,
    Metadata,
)

if TYPE_CHECKING:
    import ssl

    from etcdctl_py.client.endpoints import Endpoint
    from etcdctl_py.client.tls import KeyMaterial, TLSConfig

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
SETTINGS_HEADER_TABLE_SIZE, SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 1, 2, 4, 5
DEFAULT_WINDOW = 65535
WINDOW = 2**31 - 1  # our receive windows, connection and stream: the server never waits for us
REFILL = 2**30  # top the windows up again after this many bytes
MIN_KEEPALIVE = 10.0  # grpc-go's floor for a client's keepalive time

# RST_STREAM error codes: Go's names and the gRPC status grpc-go turns them into
RST_NAMES = (
    "NO_ERROR PROTOCOL_ERROR INTERNAL_ERROR FLOW_CONTROL_ERROR SETTINGS_TIMEOUT STREAM_CLOSED FRAME_SIZE_ERROR "
    "REFUSED_STREAM CANCEL COMPRESSION_ERROR CONNECT_ERROR ENHANCE_YOUR_CALM INADEQUATE_SECURITY HTTP_1_1_REQUIRED"
).split()
RST_STATUS = {7: UNAVAILABLE, 8: CANCELLED, 3: 8, 11: 8, 12: 7}  # others: Internal

# HTTP statuses of a non-gRPC answer -> gRPC codes (grpc-go's HTTPStatusConvTab), and their reason phrases
HTTP_STATUS = {400: INTERNAL, 401: 16, 403: 7, 404: 12, 429: UNAVAILABLE, 502: UNAVAILABLE, 503: UNAVAILABLE, 504: 14}
HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


def grpc_timeout_header(seconds: float) -> bytes:
    """A `grpc-timeout` value: at most 8 digits, in the finest unit that fits (as grpc-go encodes it)."""
    for unit, scale in ((b"n", 1e9), (b"u", 1e6), (b"m", 1e3), (b"S", 1.0), (b"M", 1 / 60), (b"H", 1 / 3600)):
        n = int(max(seconds, 0.0) * scale)
        if n < 10**8:
            return str(max(n, 1)).encode() + unit
    return b"99999999H"


def percent_decode(raw: bytes) -> str:
    """grpc-message's percent-encoding undone (a malformed escape is kept as is, as grpc-go does)."""
    if b"%" not in raw:
        return raw.decode("utf-8", "replace")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and all(c in b"0123456789abcdefABCDEF" for c in two)


def _errno_text(e: OSError) -> str:
    import os

    return os.strerror(e.errno).lower() if e.errno else str(e)


def _op_addrs(sock: Any) -> str:
    """What Go's net.OpError names before a socket error: `tcp 127.0.0.1:40112->127.0.0.1:2379`, `unix @->/path`."""
    import _socket

    def show(addr: Any) -> str:
        if isinstance(addr, tuple):
            return f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}"
        return addr or "@"

    try:
        unix = sock.family == _socket.AF_UNIX
        return f"{'unix' if unix else 'tcp'} {show(sock.getsockname())}->{show(sock.getpeername())}"
    except OSError:
        return "tcp"


# ---------------------------------------------------------------- dialing


def _address(ep: Endpoint) -> tuple[int, Any]:
    """(address family, socket address) of an endpoint's gRPC target: ipv4:H:P, ipv6:[H]:P or unix:PATH."""
    import _socket

    t = ep.target
    if t.startswith("unix:"):
        return _socket.AF_UNIX, t[len("unix:") :]
    kind, _, hostport = t.partition(":")
    host, _, port = hostport.rpartition(":")
    if kind == "ipv6":
        return _socket.AF_INET6, (host.strip("[]"), int(port))
    return _socket.AF_INET, (host, int(port))


def serves(ep: Endpoint) -> bool:
    """Whether this transport can dial `ep` (literal IPs, unix sockets and endpoints that never dial; host names
    are left to grpc's resolver)."""
    return bool(ep.dial_error) or ep.target.startswith(("ipv4:", "ipv6:", "unix:"))


class Dialer:
    """How to reach the client's members: the TLS context (None: plaintext) and the name certificates are checked
    against."""

    def __init__(self, tls: TLSConfig | None, files: KeyMaterial | None):
        self.tls = tls
        self.files = files
        self._ctx: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._ctx is None:
            import ssl

            assert self.tls is not None
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # Go's client default
            ctx.hostname_checks_common_name = False  # Go 1.16 ignores the Common Name (x509ignoreCN=1)
            if self.tls.insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.files is not None and self.files.ca:
                ctx.load_verify_locations(cadata=self.files.ca.decode("latin-1"))
            else:
                ctx.load_default_certs()
            if self.tls.cert_file:
                ctx.load_cert_chain(self.tls.cert_file, self.tls.key_file or None, password=lambda: b"")
            ctx.set_alpn_protocols(["h2"])
            self._ctx = ctx
        return self._ctx

    def dial(self, ep: Endpoint, timeout: float | None) -> Connection:
        """A connection to `ep` whose server has sent its SETTINGS; CallError (with dial_error) when none can be
        had, DEADLINE_EXCEEDED when `timeout` passes first."""
        if ep.dial_error:
            raise CallError(UNAVAILABLE, ep.dial_error, dial_error=ep.dial_error)
        deadline = None if timeout is None else time.monotonic() + timeout
        family, addr = _address(ep)
        if self.tls is None:
            import _socket

            sock: Any = _socket.socket(family, _socket.SOCK_STREAM)
        else:
            import socket

            sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
        except TimeoutError:
            sock.close()
            raise CallError(DEADLINE_EXCEEDED, "context deadline exceeded") from None
        except OSError as e:
            sock.close()
            text = f"dial {ep.dial_addr}: connect: {_errno_text(e)}"
            raise CallError(UNAVAILABLE, text, dial_error=text) from None
        import _socket

        if family != _socket.AF_UNIX:  # a unix socket has no Nagle to turn off
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        scheme = b"http"
        if self.tls is not None:
            sock, scheme = self._handshake(sock, ep, deadline), b"https"
        conn = Connection(sock, ep.authority.encode(), scheme)
        try:
            conn.start(deadline)
        except BaseException:
            conn.close()
            raise
        return conn

    def _handshake(self, sock: Any, ep: Endpoint, deadline: float | None) -> Any:
        import ssl

        assert self.tls is not None
        name = self.tls.server_name or ep.server_name or ep.host
        try:
            return self._context().wrap_socket(sock, server_hostname=name or None)
        except TimeoutError:
            sock.close()
            raise CallError(DEADLINE_EXCEEDED, "context deadline exceeded") from None
        except ssl.SSLError as e:
            sock.close()
            from etcdctl_py.client.transport.gotls import fetch_peer_certificate

            left = 1.0 if deadline is None else deadline - time.monotonic()
            raise handshake_failed(e, name, lambda: fetch_peer_certificate(_address(ep)[1], name, left)) from None
        except OSError as e:
            sock.close()
            text = f"read {ep.dial_addr}: {_errno_text(e)}"
            raise CallError(UNAVAILABLE, text, dial_error=text) from None


def handshake_failed(
    e: ssl.SSLError, name: str, peer_certificate: Callable[[], bytes | None] | None = None
) -> CallError:
    from etcdctl_py.client.transport.gotls import HANDSHAKE_FAILED, tls_error_text

    text = HANDSHAKE_FAILED + tls_error_text(e, name, peer_certificate)
    return CallError(UNAVAILABLE, text, dial_error=text)


# ---------------------------------------------------------------- one connection


class _Lost(CallError):
    """The connection failed; `answered` tells whether the stream had seen anything of its response."""

    def __init__(self, details: str, answered: bool):
        super().__init__(UNAVAILABLE, details)
        self.answered = answered


class _Refused(Exception):
    """The server did not take the stream (GOAWAY below its id, REFUSED_STREAM): safe to send again elsewhere."""


LARGE_MESSAGE = 1 << 20


class _Stream:
    __slots__ = (
        "id",
        "window",
        "headers",
        "trailers",
        "messages",
        "prefix",
        "body",
        "filled",
        "ended",
        "rst",
        "answered",
        "refused",
    )

    def __init__(self, sid: int, window: int):
        self.id = sid
        self.window = window  # how much request body the server takes now
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.messages: list[bytes] = []
        self.prefix = bytearray()  # the 5-byte gRPC message prefix being read
        self.body: bytearray | None = None  # the message being read, allocated whole once its size is known
        self.filled = 0  # ... and how much of it has arrived
        self.ended = False
        self.rst: int | None = None
        self.answered = False
        self.refused = False

    def data(self, payload: memoryview) -> None:
        """Split DATA into gRPC's length-prefixed messages. A message is copied once, into a buffer of its size:
        a large Range response (one message of 100+ MB) never regrows a buffer frame by frame."""
        pos, end = 0, len(payload)
        while pos < end:
            body = self.body
            if body is None:
                take = min(5 - len(self.prefix), end - pos)
                self.prefix += payload[pos : pos + take]
                pos += take
                if len(self.prefix) < 5:
                    return
                if self.prefix[0] != 0:
                    raise CallError(INTERNAL, "grpc: compressed flag set with identity or empty encoding")
                body = self.body = bytearray(int.from_bytes(self.prefix[1:5], "big"))
                self.filled = 0
                self.prefix.clear()
            take = min(len(body) - self.filled, end - pos)
            body[self.filled : self.filled + take] = payload[pos : pos + take]
            self.filled += take
            pos += take
            if self.filled == len(body):
                # a large message is handed on as the bytearray it was read into: bytes() would copy (and fault in)
                # another 100+ MB for a big Range; every reader of a response takes any bytes-like object
                self.messages.append(body if len(body) >= LARGE_MESSAGE else bytes(body))  # type: ignore[arg-type]
                self.body = None


class Connection:
    """One HTTP/2 connection: streams one at a time, frames read and answered as they come."""

    def __init__(self, sock: Any, authority: bytes, scheme: bytes, keepalive: tuple[float, float] = (10.0, 20.0)):
        self.sock = sock
        self.op_addrs = _op_addrs(sock)  # for Go's read errors, which name both ends (gone after a reset)
        self.authority = authority
        self.scheme = scheme
        self.keepalive_time = max(keepalive[0], MIN_KEEPALIVE)
        self.keepalive_timeout = keepalive[1]
        self.decoder = hpack.Decoder(4096)
        self.path_headers: dict[bytes, bytes] = {}  # HPACK blocks of the fixed request headers, per path
        self.meta_headers: dict[tuple[tuple[str, str], ...], bytes] = {}  # ... of the metadata (the token)
        self.next_id = 1
        self.send_window = DEFAULT_WINDOW
        self.peer_initial_window = DEFAULT_WINDOW
        self.max_frame = 16384
        self.goaway: int | None = None  # the last stream id a GOAWAY promised to handle
        self.dead = ""  # why no new stream may start here
        self.stream: _Stream | None = None
        self.buf = bytearray()
        self.scratch = bytearray(1 << 18)
        self.unacked = 0
        self.settings_seen = False
        self.block: bytearray | None = None  # a header block being collected across CONTINUATION frames
        self.block_sid = 0
        self.block_flags = 0
        self._timeout = -1.0

    # ---------------------------------------------------------------- I/O
    def start(self, deadline: float | None) -> None:
        """Send our preface and SETTINGS, and wait for the server's SETTINGS (a TLS alert about our certificate
        arrives here, after TLS 1.3's handshake)."""
        settings = b"".join(
            k.to_bytes(2, "big") + v.to_bytes(4, "big")
            for k, v in ((SETTINGS_ENABLE_PUSH, 0), (SETTINGS_INITIAL_WINDOW_SIZE, WINDOW))
        )
        self._send(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, (WINDOW - DEFAULT_WINDOW).to_bytes(4, "big"))
        )
        while not self.settings_seen:
            self._pump(deadline)

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.dead = "write"
            raise self._lost(f"error writing to server: {_errno_text(e)}") from None

    def _lost(self, text: str) -> CallError:
        """The error for a connection that failed: before the server's SETTINGS, a failed dial (try another
        endpoint); later, _Lost."""
        if not self.settings_seen:
            return CallError(UNAVAILABLE, text, dial_error=text)
        st = self.stream
        return _Lost(text, st is not None and st.answered)

    def _recv(self, deadline: float | None) -> None:
        """Append what the socket has to self.buf, keeping the deadline and the keepalive."""
        ping_sent: float | None = None
        while True:
            now = time.monotonic()
            wait = self.keepalive_time if ping_sent is None else ping_sent + self.keepalive_timeout - now
            if deadline is not None:
                if deadline <= now:
                    raise CallError(DEADLINE_EXCEEDED, "context deadline exceeded")
                wait = min(wait, deadline - now)
            wait = max(wait, 0.001)
            if abs(wait - self._timeout) > 0.005:  # a syscall; a few ms late is fine for keepalive and deadline
                self.sock.settimeout(wait)
                self._timeout = wait
            try:
                n = self.sock.recv_into(self.scratch)
            except TimeoutError:
                now = time.monotonic()
                if deadline is not None and deadline <= now:
                    raise CallError(DEADLINE_EXCEEDED, "context deadline exceeded") from None
                if ping_sent is not None:
                    self.dead = "keepalive"
                    raise self._lost("keepalive ping failed to receive ACK within timeout") from None
                self._send(frame(PING, 0, 0, b"etcdctlp"))
                ping_sent = now
                continue
            except OSError as e:
                self.dead = "read"
                if not self.settings_seen and self.scheme == b"https":
                    import ssl  # already loaded: the socket is an SSLSocket

                    if isinstance(e, ssl.SSLError):  # TLS 1.3: the server refuses our certificate after the handshake
                        raise handshake_failed(e, "") from None
                raise self._lost(f"error reading from server: read {self.op_addrs}: read: {_errno_text(e)}") from None
            if n == 0:  # Go's framer: EOF between frames, "unexpected EOF" inside one
                self.dead = "eof"
                raise self._lost("error reading from server: " + ("unexpected EOF" if self.buf else "EOF"))
            self.buf += memoryview(self.scratch)[:n]
            return

    def _pump(self, deadline: float | None) -> None:
        """Read what has come and act on every complete frame."""
        self._recv(deadline)
        buf = self.buf
        pos = 0
        try:
            while len(buf) - pos >= 9:
                length = int.from_bytes(buf[pos : pos + 3], "big")
                if len(buf) - pos < 9 + length:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                sid = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                try:
                    self._frame(kind, flags, sid, memoryview(buf)[pos + 9 : pos + 9 + length])
                except (IndexError, ValueError) as e:  # a frame too short for what its type and flags say
                    self.dead = "protocol"
                    raise CallError(INTERNAL, f"transport: malformed HTTP/2 frame of type {kind}: {e}") from None
                except BaseException:
                    self.dead = self.dead or "error"  # a frame we could not take: no further use
                    raise
                pos += 9 + length
        finally:
            self.buf = buf[pos:]  # a copy: a traceback may still hold a view of `buf`, which `del` would refuse

    # ---------------------------------------------------------------- frames
    def _frame(self, kind: int, flags: int, sid: int, payload: memoryview) -> None:
        st = self.stream if self.stream is not None and self.stream.id == sid else None
        if kind == DATA:
            self._data(st, sid, flags, payload)
        elif kind in (HEADERS, CONTINUATION):
            self._header_fragment(kind, flags, sid, payload)
        elif kind == RST_STREAM:
            if st is not None:
                st.rst = int.from_bytes(payload[:4], "big")
                st.refused = st.rst == 7 and not st.answered  # REFUSED_STREAM: never processed
                st.ended = True
        elif kind == SETTINGS:
            if not flags & ACK:
                self._settings(payload)
                self._send(frame(SETTINGS, ACK, 0))
                self.settings_seen = True
        elif kind == PING:
            if not flags & ACK:
                self._send(frame(PING, ACK, 0, bytes(payload)))
        elif kind == GOAWAY:
            self.goaway = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            self.dead = "goaway"
            if st is None and self.stream is not None and self.stream.id > self.goaway:
                self.stream.refused = self.stream.ended = True
        elif kind == WINDOW_UPDATE:
            inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if sid == 0:
                self.send_window += inc
            elif st is not None:
                st.window += inc
        elif kind == PUSH_PROMISE:
            self.dead = "push"
            raise self._lost("transport: received a PUSH_PROMISE after disabling push")
        # PRIORITY, unknown types, frames of streams that are over: nothing to do

    def _data(self, st: _Stream | None, sid: int, flags: int, payload: memoryview) -> None:
        self.unacked += len(payload)
        if self.unacked >= REFILL:
            inc = self.unacked.to_bytes(4, "big")
            self._send(frame(WINDOW_UPDATE, 0, 0, inc) + (frame(WINDOW_UPDATE, 0, sid, inc) if st else b""))
            self.unacked = 0
        if st is None:
            return
        st.answered = True
        if flags & PADDED:
            payload = payload[1 : len(payload) - payload[0]]
        st.data(payload)
        if flags & END_STREAM:
            st.ended = True

    def _header_fragment(self, kind: int, flags: int, sid: int, payload: memoryview) -> None:
        if kind == HEADERS:
            start, end = 0, len(payload)
            if flags & PADDED:
                start, end = 1, end - payload[0]
            if flags & PRIORITY_FLAG:
                start += 5
            self.block, self.block_sid, self.block_flags = bytearray(payload[start:end]), sid, flags
        elif self.block is None or sid != self.block_sid:
            self.dead = "protocol"
            raise self._lost("transport: CONTINUATION without HEADERS")
        else:
            self.block += payload
        if flags & END_HEADERS:
            block, self.block = self.block, None
            try:
                headers = self.decoder.decode(bytes(block))
            except hpack.HpackError as e:
                self.dead = "hpack"
                raise CallError(INTERNAL, f"transport: hpack: {e}") from None
            st = self.stream if self.stream is not None and self.stream.id == sid else None
            if st is not None:
                st.answered = True
                if st.headers is None:
                    st.headers = headers
                    if self.block_flags & END_STREAM:
                        st.trailers = headers  # trailers-only
                else:
                    st.trailers = headers
                if self.block_flags & END_STREAM or st.trailers is not None:
                    st.ended = True

    def _settings(self, payload: memoryview) -> None:
        for i in range(0, len(payload) - 5, 6):
            key = int.from_bytes(payload[i : i + 2], "big")
            value = int.from_bytes(payload[i + 2 : i + 6], "big")
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if self.stream is not None:
                    self.stream.window += value - self.peer_initial_window
                self.peer_initial_window = value
            elif key == SETTINGS_MAX_FRAME_SIZE:
                self.max_frame = value

    # ---------------------------------------------------------------- calls
    def call(self, path: bytes, request: bytes, metadata: Metadata, deadline: float | None) -> Iterator[bytes]:
        """The response messages of one call; CallError at its failure. Raises _Refused when the server did not
        take it. The stream ends (and the connection is free) when the iterator is exhausted or closed."""
        st = self.stream = _Stream(self.next_id, self.peer_initial_window)
        self.next_id += 2
        try:
            self._send_request(st, path, request, metadata, deadline)
            while True:
                if st.messages:
                    msgs, st.messages = st.messages, []
                    yield from msgs
                if st.ended:
                    break
                self._pump(deadline)
            if st.refused:
                raise _Refused()
            if st.body is not None or st.prefix:
                # the stream ended (trailers, END_STREAM, RST_STREAM) inside a message: grpc-go's reader meets EOF
                # there and reports that, whatever status came
                raise CallError(INTERNAL, "unexpected EOF")
            check_status(st)
        except CallError as e:
            if e.code == DEADLINE_EXCEEDED and not self.dead and not st.ended:
                self._cancel(st)
            raise
        except GeneratorExit:
            if not self.dead and not st.ended:
                self._cancel(st)
            raise
        finally:
            self.stream = None

    def _cancel(self, st: _Stream) -> None:
        try:
            self._send(frame(RST_STREAM, 0, st.id, (8).to_bytes(4, "big")))
        except CallError:
            pass

    def _send_request(
        self, st: _Stream, path: bytes, request: bytes, metadata: Metadata, deadline: float | None
    ) -> None:
        # our encoder keeps no table, so a field encodes the same every time: the fixed part of the block is
        # encoded once per path and per metadata (the token), only grpc-timeout each call
        fixed = self.path_headers.get(path)
        if fixed is None:
            fixed = self.path_headers[path] = hpack.encode(
                [
                    (b":method", b"POST"),
                    (b":scheme", self.scheme),
                    (b":path", path),
                    (b":authority", self.authority),
                    (b"content-type", b"application/grpc"),
                    (b"user-agent", b"etcdctl-py"),
                    (b"te", b"trailers"),
                ]
            )
        meta_key = tuple(metadata)
        meta = self.meta_headers.get(meta_key)
        if meta is None:
            meta = self.meta_headers[meta_key] = hpack.encode([(k.encode(), v.encode()) for k, v in metadata])
        if deadline is not None:
            timeout = hpack.encode([(b"grpc-timeout", grpc_timeout_header(deadline - time.monotonic()))])
            block = fixed + timeout + meta
        else:
            block = fixed + meta
        n = self.max_frame
        out = [frame(HEADERS, END_HEADERS if len(block) <= n else 0, st.id, block[:n])]
        for i in range(n, len(block), n):
            out.append(frame(CONTINUATION, END_HEADERS if i + n >= len(block) else 0, st.id, block[i : i + n]))
        body = memoryview(b"\x00" + len(request).to_bytes(4, "big") + request)
        sent = 0
        while True:
            room = min(self.send_window, st.window, self.max_frame, len(body) - sent)
            if room > 0 or (sent == len(body)):
                chunk = bytes(body[sent : sent + max(room, 0)])
                sent += len(chunk)
                last = sent == len(body)
                out.append(frame(DATA, END_STREAM if last else 0, st.id, chunk))
                self.send_window -= len(chunk)
                st.window -= len(chunk)
                if last:
                    self._send(b"".join(out))
                    return
                continue
            self._send(b"".join(out))  # out of window: wait for the server's WINDOW_UPDATE
            out = []
            while not st.ended and min(self.send_window, st.window) <= 0:
                self._pump(deadline)
            if st.ended:
                return  # answered (an error, a RST_STREAM) before taking the whole request

    def close(self) -> None:
        self.dead = self.dead or "closed"
        try:
            self.sock.close()
        except OSError:
            pass


def connection_lost(e: CallError) -> bool:
    """Whether `e` is the connection failing (cut, reset, keepalive), not a status the server sent."""
    return isinstance(e, _Lost)


def check_status(st: _Stream) -> None:
    """CallError unless the stream ended with grpc-status 0."""
    trailers = st.trailers
    if trailers is None:
        if st.rst is not None:
            name = RST_NAMES[st.rst] if st.rst < len(RST_NAMES) else f"unknown error code 0x{st.rst:x}"
            raise CallError(
                RST_STATUS.get(st.rst, INTERNAL), f"stream terminated by RST_STREAM with error code: {name}"
            )
        raise CallError(INTERNAL, "server closed the stream without sending trailers")
    status = message = None
    http = next((v for k, v in st.headers or () if k == b":status"), b"")
    for k, v in trailers:  # the trailers (of a trailers-only answer: its one header block)
        if k == b"grpc-status":
            status = v
        elif k == b"grpc-message":
            message = v
    if http != b"200" and status is None:
        code = int(http) if http.isdigit() else 0
        raise CallError(
            HTTP_STATUS.get(code, UNKNOWN),
            f"unexpected HTTP status code received from server: {code} ({HTTP_REASONS.get(code, '')})",
        )
    if status is None:
        raise CallError(INTERNAL, "server closed the stream without sending trailers")
    code = int(status) if status.isdigit() else UNKNOWN
    if code != 0:
        raise CallError(code, percent_decode(message or b""))


# ---------------------------------------------------------------- the transport


class H2Transport:
    """The client's connections over this module's HTTP/2, one per endpoint."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        tls: TLSConfig | None,
        files: KeyMaterial | None,
        *,
        keepalive: tuple[float, float] = (10.0, 20.0),
    ):
        self.endpoints = endpoints
        self.dialer = Dialer(tls, files)
        self.keepalive = keepalive
        self._conns: dict[int, Connection] = {}
        self._lock = threading.Lock()

    def _connect(self, idx: int, deadline: float | None) -> Connection:
        conn = self.dialer.dial(self.endpoints[idx], None if deadline is None else deadline - time.monotonic())
        conn.keepalive_time = max(self.keepalive[0], MIN_KEEPALIVE)
        conn.keepalive_timeout = self.keepalive[1]
        return conn

    def unary(self, idx: int, path: str, request: bytes, *, timeout: float | None, metadata: Metadata) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            for _ in range(3):  # a stale connection and a GOAWAY'd call are each made again once, like grpc-go
                conn = self._conns.get(idx)
                fresh = conn is None or bool(conn.dead)
                if conn is None or conn.dead:
                    if conn is not None:
                        conn.close()
                    conn = self._conns[idx] = self._connect(idx, deadline)
                try:
                    msgs = list(conn.call(path.encode(), request, metadata, deadline))
                except _Refused:
                    continue
                except _Lost as e:
                    if fresh or e.answered:
                        raise CallError(e.code, e.details) from None
                    continue  # the kept connection died while idle: dial again
                if len(msgs) != 1:
                    raise CallError(INTERNAL, f"grpc: {len(msgs)} response messages for a unary call")
                return msgs[0]
            raise CallError(UNAVAILABLE, "the connection is draining")

    def server_stream(
        self, idx: int, path: str, request: bytes, *, timeout: float | None, metadata: Metadata
    ) -> Iterator[bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        conn = self._connect(idx, deadline)  # a connection of its own: unary calls go on meanwhile
        return _streamed(conn, conn.call(path.encode(), request, metadata, deadline))

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()


def _streamed(conn: Connection, messages: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from messages
    except (_Lost, _Refused) as e:
        raise CallError(UNAVAILABLE, str(e) or "the connection is draining") from None
    finally:
        conn.close()
