"""A member's snapshot as it comes off the wire, without grpc or protobuf: the transport's Snapshot stream.

* `parse_snapshot_response`: etcdserverpb.SnapshotResponse decoded by hand (no message object per 32 KiB chunk);
* `open_plain`: the Maintenance/Snapshot call made over a plain-TCP connection of our own, with the client's
  standard-library HTTP/2 transport (h2.Connection, its server-streaming path).

Why: `snapshot save` is a start-up-bound command for snapshots of tens of MB. Importing grpc and protobuf and
starting grpc's channel costs ~60 ms before the first byte (Go's etcdctl needs ~15 ms in all), and grpc-python
spends more CPU per received chunk than the whole Go client, which shows on a loaded 2-core machine.

`open_plain` serves only the simple case (a literal IP endpoint, no TLS, no auth token). Until the first chunk has
arrived it raises `Unsupported` for anything it does not expect (refused connection, a trailers-only error reply,
a non-200 status, ...) so the caller can make the same call through the client, whose errors and retries are the
ones users know; nothing has been consumed by then. `dial` makes its connection (or, for any literal-IP endpoint,
only checks that the member can be reached): refused attempts are tried again until the dial deadline, then
`Unreachable` carries Go's dial error, so that a dead member ends `snapshot save` instead of hanging it. After the
first chunk, a broken connection raises `StreamBroken`/`StreamTimeout`, and a stream the server ends early
(RST_STREAM, or error trailers before the digest) just ends: the caller's sha256 check notices and may fetch again
through the client to learn the server's error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _socket import socket as RawSocket  # what `dial` returns: the C socket, without the socket module

    from etcdctl_py.client.transport.h2 import Connection

# -- SnapshotResponse straight from the wire -------------------------------------------------------------------


class SnapshotChunk:
    """The two SnapshotResponse fields a snapshot download needs. `blob` is a memoryview into the received
    message (no copy); `remaining_bytes` is what the member still has to send after this chunk."""

    __slots__ = ("blob", "remaining_bytes")

    def __init__(self, blob: memoryview | bytes, remaining_bytes: int) -> None:
        self.blob = blob
        self.remaining_bytes = remaining_bytes


class WireError(ValueError):
    """The bytes are not a valid protobuf encoding (what SnapshotResponse.FromString would reject)."""


_MASK64 = (1 << 64) - 1


def parse_snapshot_response(data: bytes) -> SnapshotChunk:
    """Decode an etcdserverpb.SnapshotResponse from its protobuf encoding without building a message.

    Field 2 (remaining_bytes, uint64 varint) and field 3 (blob, bytes) are kept, the last occurrence winning as in
    protobuf; the header (field 1) and every other field (of newer etcd versions, unknown, groups) are checked
    and skipped, so whatever the generated parser rejects is rejected here too (WireError)."""
    n = len(data)
    blob: memoryview | bytes = b""
    remaining = 0
    i = 0
    while i < n:
        key, i = _tag(data, i, n)
        field, wire = key >> 3, key & 7
        if wire == 2:
            size, i = _varint(data, i, n)
            end = i + size
            if end > n:
                raise WireError("truncated length-delimited field")
            if field == 3:
                blob = memoryview(data)[i:end]
            elif field == 1:  # ResponseHeader: protobuf parses it eagerly, so its framing must be valid
                j = i
                while j < end:
                    k, j = _tag(data, j, end)
                    j = _skip(data, j, end, k)
            i = end
        elif wire == 0 and field == 2:
            value, i = _varint(data, i, n)
            remaining = value & _MASK64
        else:
            i = _skip(data, i, n, key)
    return SnapshotChunk(blob, remaining)


def _varint(data: bytes, i: int, n: int) -> tuple[int, int]:
    """A base-128 varint at data[i:n] (at most 10 bytes, as protobuf allows) -> (value, next index)."""
    b = data[i] if i < n else -1
    if 0 <= b < 0x80:
        return b, i + 1
    value = shift = 0
    for j in range(i, min(i + 10, n)):
        b = data[j]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, j + 1
        shift += 7
    raise WireError("truncated or overlong varint")


def _tag(data: bytes, i: int, n: int, in_group: bool = False) -> tuple[int, int]:
    """A field tag: a varint of at most 5 bytes that fits 32 bits, with a field number other than 0 (protobuf
    lets field number 0 pass inside a skipped group, so we do too)."""
    key, j = _varint(data, i, n)
    if j - i > 5 or key >> 32 or (key < 8 and not in_group):
        raise WireError("bad tag")
    return key, j


def _skip(data: bytes, i: int, n: int, key: int) -> int:
    """Skip the value of the field tagged `key` at data[i:n] -> the index after it (a group up to and including
    its matching end-group tag). An end-group tag here has no group to close."""
    wire = key & 7
    if wire == 0:
        return _varint(data, i, n)[1]
    if wire == 1 or wire == 5:
        i += 8 if wire == 1 else 4
    elif wire == 2:
        size, i = _varint(data, i, n)
        i += size
    elif wire == 3:
        while True:
            if i >= n:
                raise WireError("unterminated group")
            k, i = _tag(data, i, n, in_group=True)
            if k & 7 == 4:
                if k >> 3 != key >> 3:
                    raise WireError("mismatched end-group")
                return i
            i = _skip(data, i, n, k)
    else:
        raise WireError(f"wire type {wire}")
    if i > n:
        raise WireError("truncated field")
    return i


# -- the Snapshot call over our own HTTP/2 connection -----------------------------------------------------------

SNAPSHOT_PATH = "/etcdserverpb.Maintenance/Snapshot"


class Unsupported(Exception):
    """The plain path cannot serve this call (before any chunk arrived): make it through grpc instead."""


class StreamBroken(Exception):
    """The connection broke after chunks had arrived; `text` is what Go's client would say."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class StreamTimeout(Exception):
    """The call's deadline passed after chunks had arrived."""


class Unreachable(Exception):
    """No TCP connection before the dial deadline; `text` is Go's error for the last refused attempt
    (`dial tcp 127.0.0.1:9: connect: connection refused`), empty when the attempts only timed out."""

    def __init__(self, text: str) -> None:
        super().__init__(text or "dial timeout")
        self.text = text


def plain_target(endpoint: str, schemes: tuple[str, ...] = ("http://",)) -> tuple[int, str, int, str] | None:
    """(address family, ip, port, authority) for a plain-TCP endpoint written with a literal IP (`IP:port`,
    `http://IP:port`, `[v6]:port`); None for anything else (host names are left to grpc's resolver, TLS and unix
    sockets to grpc). `schemes=("http://", "https://")` also takes TLS endpoints (for `dial`'s reachability check)."""
    import _socket

    rest = endpoint
    for scheme in schemes:
        if endpoint.startswith(scheme):
            rest = endpoint[len(scheme) :]
            break
    if "://" in rest or "/" in rest:
        return None
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host, family = host[1:-1], _socket.AF_INET6
    else:
        family = _socket.AF_INET
    try:
        _socket.inet_pton(family, host)
    except (OSError, ValueError):
        return None
    return family, host, int(port), rest


def _status_200(block: bytes | bytearray) -> bool:
    """Whether an HPACK header block starts with `:status: 200` (static table entry 8), after any dynamic table
    size updates. Servers send :status first and, being in the static table, as the single byte 0x88."""
    i = 0
    while i < len(block) and block[i] & 0xE0 == 0x20:  # dynamic table size update, 5-bit prefix integer
        if block[i] & 0x1F == 0x1F:
            i += 1
            while i < len(block) and block[i] & 0x80:
                i += 1
        i += 1
    return i < len(block) and block[i] == 0x88


def _errno_text(e: OSError) -> str:
    import os

    return os.strerror(e.errno).lower() if e.errno else str(e)


def dial(target: tuple[int, str, int, str], deadline: float, *, retry: bool = True) -> RawSocket:
    """A connected TCP socket to `target`. A refused attempt is made again (after 25 ms, doubling up to 0.5 s, the
    way the grpc client keeps reconnecting) until `deadline`; then, or after the first failure without `retry`,
    Unreachable."""
    # _socket is what the socket module wraps: all we need here (a literal IP, no resolver), without the ~2 ms
    # that importing socket (selectors, enum classes) costs
    import _socket

    family, host, port, authority = target
    backoff = 0.025
    last = ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unreachable(last)
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.settimeout(remaining)
            sock.connect((host, port))
            return sock
        except TimeoutError:
            sock.close()
            raise Unreachable(last) from None
        except OSError as e:
            sock.close()
            last = f"dial tcp {authority}: connect: {_errno_text(e)}"
        if not retry:
            raise Unreachable(last)
        time.sleep(max(0.0, min(backoff, deadline - time.monotonic())))
        backoff = min(backoff * 2, 0.5)


def open_plain(
    target: tuple[int, str, int, str],
    *,
    deadline: float | None,
    connect_timeout: float,
    keepalive: tuple[float, float] = (10.0, 6.0),
    sock: RawSocket | None = None,
) -> Iterator[SnapshotChunk]:
    """Start the Snapshot call on a plain-TCP HTTP/2 connection (`sock`, already connected by `dial`, or a new
    one) and wait for the first chunk.

    Returns an iterator over every chunk (the first included). Raises Unsupported when the call could not get
    that far (nothing consumed: make it through the client); `sock` is closed then."""
    import _socket

    from etcdctl_py.client.transport.base import CallError
    from etcdctl_py.client.transport.h2 import Connection

    if sock is None:
        now = time.monotonic()
        timeout = connect_timeout if deadline is None else min(connect_timeout, deadline - now)
        if timeout <= 0:
            raise Unsupported("no time left")
        try:
            sock = dial(target, time.monotonic() + timeout, retry=False)
        except Unreachable as e:
            raise Unsupported(str(e)) from None
    conn = Connection(sock, target[3].encode(), b"http", keepalive)
    try:
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        conn.start(deadline if deadline is not None else time.monotonic() + connect_timeout)
        messages = conn.call(SNAPSHOT_PATH.encode(), b"", (), deadline)
        first = parse_snapshot_response(next(messages))
    except (OSError, StopIteration, CallError, WireError) as e:
        conn.close()
        raise Unsupported(str(e) or e.__class__.__name__) from None
    return _chunks(conn, first, messages)


def _chunks(conn: Connection, first: SnapshotChunk, messages: Iterator[bytes]) -> Iterator[SnapshotChunk]:
    """The chunks; a broken connection or the deadline raise, a stream the server ended early just ends."""
    from etcdctl_py.client.transport.base import DEADLINE_EXCEEDED, CallError
    from etcdctl_py.client.transport.h2 import connection_lost

    try:
        yield first
        for m in messages:
            yield parse_snapshot_response(m)
    except CallError as e:
        if e.code == DEADLINE_EXCEEDED:
            raise StreamTimeout() from None
        if connection_lost(e):
            raise StreamBroken(e.details) from None
        return  # ended early (RST_STREAM, error trailers): the digest check tells, the caller may ask again
    except WireError:
        return
    finally:
        messages.close()  # type: ignore[attr-defined]
        conn.close()
