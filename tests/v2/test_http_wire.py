"""HTTP/1.1 on the client port, byte for byte: the same raw requests to real etcd 3.5.1 `--enable-v2` and to
etcd-py `--enable-v2` (twins) get the same status lines, header blocks (net/http's order, CORS, Date placement,
sniffed Content-Type), framing (Content-Length, chunked bodies over 2 KiB and waits, 100 Continue, HTTP/1.0),
bodies (encoding/json's escaping) and closes (cmux's silent close or reset, net/http's own 400 answers). Only the
Date and the raft numbers are masked."""

from __future__ import annotations

import re
import socket

import pytest

from tests import etcdproc
from tests.v2.v2tools import v2_watchers

HOST = b"Host: x\r\n"
CLOSE = b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"  # ends a keep-alive exchange
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"


def _get(target: bytes, extra: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\n" + HOST + extra + b"\r\n"


def _put_form(key: bytes, form: bytes, extra: bytes = b"") -> bytes:
    return (
        b"PUT /v2/keys/"
        + key
        + b" HTTP/1.1\r\n"
        + HOST
        + FORM
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(form)
        + form
    )


# (id, bytes sent on one connection); run in this order on both servers, so the v2 indexes stay equal
CASES = [
    ("health", _get(b"/health") + CLOSE),
    ("version", _get(b"/version") + CLOSE),
    ("not-found", _get(b"/nope") + CLOSE),
    ("head-version-405", b"HEAD /version HTTP/1.1\r\n" + HOST + b"\r\n" + CLOSE),
    ("post-health-405", b"POST /health HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\n\r\n" + CLOSE),
    ("options", b"OPTIONS /v2/keys/a HTTP/1.1\r\n" + HOST + b"\r\n" + CLOSE),
    ("connection-close", CLOSE),
    ("http-1.0", b"GET /version HTTP/1.0\r\n\r\n"),
    ("put-form", _put_form(b"a", b"value=1") + CLOSE),
    (
        "put-chunked",
        b"PUT /v2/keys/b HTTP/1.1\r\n" + HOST + FORM + b"Transfer-Encoding: chunked\r\n\r\n"
        b"3\r\nval\r\n4\r\nue=2\r\n0\r\n\r\n" + CLOSE,
    ),
    ("put-expect-100", _put_form(b"c", b"value=3", b"Expect: 100-continue\r\n") + CLOSE),
    ("get", _get(b"/v2/keys/a") + CLOSE),
    ("head-counts-body", b"HEAD /v2/keys/a HTTP/1.1\r\n" + HOST + b"\r\n" + CLOSE),
    ("json-escapes", _put_form(b"u", b"value=%FF%3C%26%E2%80%A8%08%0C") + _get(b"/v2/keys/u") + CLOSE),
    ("escaped-missing-key", _get(b"/v2/keys/%FF%3C") + CLOSE),
    (
        "raw-utf8-target",
        "PUT /v2/keys/ключ?value=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        + "GET /v2/keys/ключ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        + CLOSE,
    ),
    ("chunked-over-2k", _put_form(b"big", b"value=" + b"v" * 3000) + _get(b"/v2/keys/big") + CLOSE),
    ("missing-key-2k", _get(b"/v2/keys/" + b"k" * 3000) + CLOSE),
    (
        "update-dir-cause",
        b"PUT /v2/keys/dir?dir=true HTTP/1.1\r\n"
        + HOST
        + b"Content-Length: 0\r\n\r\n"
        + _put_form(b"dir", b"prevExist=true")
        + CLOSE,
    ),
    ("method-405", b"PATCH /v2/keys/a HTTP/1.1\r\n" + HOST + b"\r\n" + CLOSE),
    ("members-405-cluster-id", b"DELETE /v2/members HTTP/1.1\r\n" + HOST + b"\r\n" + CLOSE),
    ("auth-enable", _get(b"/v2/auth/enable") + CLOSE),
    ("stats-404", _get(b"/v2/stats/nope") + CLOSE),
    ("wait-from-history", _get(b"/v2/keys/a?wait=true&waitIndex=1") + CLOSE),
    ("wait-connection-close", _get(b"/v2/keys/a?wait=true&waitIndex=1", b"Connection: close\r\n")),
    ("wait-http-1.0", b"GET /v2/keys/a?wait=true&waitIndex=1 HTTP/1.0\r\n\r\n"),
    ("wait-bad-index", _get(b"/v2/keys/a?wait=true&waitIndex=abc") + CLOSE),
    ("garbage-closed-by-cmux", b"GARBAGE\r\n\r\n"),
    ("http2-line-reset-by-cmux", b"GET /version HTTP/2.0\r\nHost: x\r\n\r\n"),
    ("line-over-4k-reset-by-cmux", _get(b"/v2/keys/" + b"a" * 5000)),
    ("bad-header-400", b"GET /version HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n"),
    ("missing-host-400", b"GET / HTTP/1.1\r\n\r\n"),
    ("two-hosts-400", b"GET /version HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("gzip-transfer-encoding-501", _get(b"/version", b"Transfer-Encoding: gzip\r\n")),
    ("header-just-under-limit", _get(b"/version", b"X: " + b"a" * (1 << 20) + b"\r\n") + CLOSE),
]


def exchange(port: int, data: bytes) -> bytes:
    """Send `data`, read until the server closes; a reset before any answer is `<reset>`."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            out += b"" if out else b"<reset>"
    return out


def normalize(raw: bytes) -> bytes:
    raw = re.sub(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n", b"Date: <date>\r\n", raw)
    return re.sub(rb"X-Raft-(Index|Term): \d+", rb"X-Raft-\1: <n>", raw)


@pytest.mark.parametrize("name,data", CASES, ids=[c[0] for c in CASES])
def test_same_bytes_as_etcd(etcdpy_pair, name, data):
    real, ours = etcdpy_pair.servers
    want, got = normalize(exchange(real.client_port, data)), normalize(exchange(ours.client_port, data))
    assert got == want


def test_update_dir_cause_has_no_index(etcdpy_pair):
    """The cause of a failed update of a directory is the text etcd wraps with fmt.Errorf: no store index."""
    sent = _put_form(b"dir2", b"dir=true") + _put_form(b"dir2", b"prevExist=true") + CLOSE
    real, ours = (normalize(exchange(srv.client_port, sent)) for srv in etcdpy_pair.servers)
    assert ours == real
    assert b'"cause":"nodePath /1/dir2 : Not a file ()","index":0}\n' in ours


def test_header_over_limit_is_431(etcdpy_pair):
    """Over net/http's 1 MiB + 4 KiB head limit: its own 431 answer, then the close (real etcd's close races its
    reset, so this one is checked against net/http's text)."""
    _, ours = etcdpy_pair.servers
    got = exchange(ours.client_port, _get(b"/version", b"X: " + b"a" * ((1 << 20) + 8000) + b"\r\n"))
    assert got == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\n431 Request Header Fields Too Large"
    )


def _open_stream(port: int, target: bytes) -> tuple[socket.socket, bytes]:
    """Start a wait; return the socket and the header block, which both servers send before any event."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(_get(target))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        assert chunk, head
        head += chunk
    return s, head


def _read_chunks(s: socket.socket, buf: bytes, count: int) -> bytes:
    """Read until `count` chunks of a chunked body are whole; return the raw bytes."""
    while len(re.findall(rb"[0-9a-f]+\r\n[^\r]*\r\n", buf)) < count:
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    return buf


def test_stream_watch_same_bytes_and_hangup(etcdpy_pair):
    """?wait=true&stream=true: headers at once, then one chunk per event; a hung-up stream leaves no watcher."""
    streams = [
        _open_stream(srv.client_port, b"/v2/keys/st?wait=true&stream=true&recursive=true")
        for srv in etcdpy_pair.servers
    ]
    try:
        heads = [normalize(h) for _, h in streams]
        assert heads[1].split(b"\r\n\r\n")[0] == heads[0].split(b"\r\n\r\n")[0], heads
        assert b"Transfer-Encoding: chunked\r\n\r\n" in heads[0]
        etcdpy_pair.same(["set", "/st/a", "1"])
        etcdpy_pair.same(["set", "/st/b", "2"])
        bodies = [_read_chunks(s, h.split(b"\r\n\r\n", 1)[1], 2) for s, h in streams]
        assert bodies[1] == bodies[0]
        assert b'"key":"/st/b","value":"2"' in bodies[0]
    finally:
        for s, _ in streams:
            s.close()
    url = etcdpy_pair.b.url
    etcdproc.wait_until(lambda: v2_watchers(url) == 0, 10, "the hung-up stream's watcher to go")
    assert etcdpy_pair.b.run(["get", "/st/a"]).out == "1\n"
