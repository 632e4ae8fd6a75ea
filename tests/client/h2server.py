"""A raw-socket HTTP/2 server on 127.0.0.1 that answers gRPC calls the way a test script says, misbehaving on
purpose: header blocks split into CONTINUATION frames, GOAWAY, RST_STREAM, a tiny flow-control window, a connection
cut mid-response. It speaks just enough HTTP/2 to do that (frames written by hand, request headers decoded with the
client's own HPACK decoder), so what the client under test reports can be checked against what was sent.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable

from etcdctl_py.client.transport import hpack

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED = 0x4, 0x8
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


def grpc_message(data: bytes) -> bytes:
    return b"\x00" + len(data).to_bytes(4, "big") + data


def indexed_literal(name: bytes, value: bytes) -> bytes:
    """A header field as a literal with incremental indexing (it enters the client's dynamic table)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x40" + bytes([len(name)]) + name + bytes([len(value)]) + value


OK_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


class Request:
    """One request as the server saw it."""

    def __init__(self, sid: int, headers: list[tuple[bytes, bytes]], body: bytes):
        self.sid = sid
        self.headers = dict(headers)
        self.body = body


class ServerConn:
    """One accepted connection, with helpers to read requests and write (mis)behaving answers."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.decoder = hpack.Decoder()
        self.frames_seen: list[tuple[int, int, int, bytes]] = []  # every frame the client sent
        self.window = 65535  # what the client may still send on the stream we are reading (our tiny windows)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self, settings: bytes = b"") -> None:
        """Read the client's preface and send our SETTINGS (`settings`: raw id/value pairs)."""
        assert self._read(len(PREFACE)) == PREFACE
        self.send(frame(SETTINGS, 0, 0, settings))

    def read_frame(self) -> tuple[int, int, int, bytes]:
        head = self._read(9)
        length = int.from_bytes(head[:3], "big")
        f = (head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, self._read(length))
        self.frames_seen.append(f)
        kind, flags, _, payload = f
        if kind == SETTINGS and not flags & ACK:
            self.send(frame(SETTINGS, ACK, 0))
        return f

    def read_request(self, on_data: Callable[[ServerConn, int, bytes], None] | None = None) -> Request:
        """Frames until a request's END_STREAM; `on_data(conn, sid, payload)` sees each DATA frame."""
        headers: list[tuple[bytes, bytes]] = []
        block = b""
        body = b""
        while True:
            kind, flags, sid, payload = self.read_frame()
            if kind in (HEADERS, CONTINUATION):
                block += payload
                if flags & END_HEADERS:
                    headers = self.decoder.decode(block)
                    block = b""
            elif kind == DATA:
                body += payload
                if on_data is not None:
                    on_data(self, sid, payload)
            else:
                continue
            if flags & END_STREAM:
                return Request(sid, headers, body)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_headers(self, sid: int, block: bytes, *, end_stream: bool = False, split: int = 0) -> None:
        """A header block, in one HEADERS frame or (`split` > 0) HEADERS plus CONTINUATION frames of `split` bytes."""
        flags = END_STREAM if end_stream else 0
        if not split or len(block) <= split:
            self.send(frame(HEADERS, flags | END_HEADERS, sid, block))
            return
        parts = [block[i : i + split] for i in range(0, len(block), split)]
        out = frame(HEADERS, flags, sid, parts[0])
        for i, part in enumerate(parts[1:], 1):
            out += frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, sid, part)
        self.send(out)

    def answer(self, sid: int, message: bytes, *, status: int = 0, text: bytes = b"") -> None:
        """A whole gRPC answer: headers, one message, trailers."""
        trailers = [(b"grpc-status", str(status).encode())] + ([(b"grpc-message", text)] if text else [])
        self.send_headers(sid, hpack.encode(OK_HEADERS))
        self.send(frame(DATA, 0, sid, grpc_message(message)))
        self.send_headers(sid, hpack.encode(trailers), end_stream=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class H2Server:
    """Listens on 127.0.0.1 (or the unix socket `unix_path`); each accepted connection is handed to
    `script(conn, n)` (n counts connections from 0) on a thread of its own. Errors inside a script are kept in
    `errors` (a test checks it is empty)."""

    def __init__(self, script: Callable[[ServerConn, int], None], unix_path: str = ""):
        self.script = script
        self.unix_path = unix_path
        if unix_path:
            self.listener = socket.socket(socket.AF_UNIX)
            self.listener.bind(unix_path)
        else:
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = 0 if unix_path else self.listener.getsockname()[1]
        self.connections = 0
        self.conns: list[ServerConn] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def endpoint(self) -> str:
        return f"unix://{self.unix_path}" if self.unix_path else f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            conn = ServerConn(sock)
            self.conns.append(conn)
            n = self.connections
            self.connections += 1
            t = threading.Thread(target=self._run, args=(conn, n), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, conn: ServerConn, n: int) -> None:
        try:
            self.script(conn, n)
        except (EOFError, OSError):
            pass  # the client hung up, or the test closed us: fine for every script here
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.errors.append(e)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        if self.unix_path:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)
        for conn in self.conns:
            conn.close()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> H2Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
