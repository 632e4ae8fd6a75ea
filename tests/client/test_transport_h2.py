"""The standard-library HTTP/2 transport against a server that misbehaves on purpose (tests/client/h2server.py):
what the client reports for CONTINUATION-split header blocks, the HPACK dynamic table, GOAWAY, RST_STREAM, a tiny
flow-control window, PING, a deadline, and a connection cut mid-response."""

from __future__ import annotations

import threading

import pytest

from etcdctl_py.client import Client, DeadlineExceeded, EtcdError
from etcdctl_py.client.transport import hpack
from etcdctl_py.client.transport.h2 import grpc_timeout_header, percent_decode
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.proto.mvccpb import kv_pb2
from tests.client.h2server import (
    DATA,
    GOAWAY,
    HEADERS,
    OK_HEADERS,
    PING,
    RST_STREAM,
    WINDOW_UPDATE,
    H2Server,
    ServerConn,
    frame,
    grpc_message,
    indexed_literal,
)
from tests.etcdproc import wait_until

RANGE = rpc_pb2.RangeResponse(count=1, kvs=[kv_pb2.KeyValue(key=b"k", value=b"v")])


@pytest.fixture(autouse=True)
def _default_transport(monkeypatch):
    monkeypatch.delenv("ETCDCTL_PY_TRANSPORT", raising=False)


def _range(c: Client, timeout: float = 5.0) -> rpc_pb2.RangeResponse:
    return c.unary("KV", "Range", rpc_pb2.RangeRequest(key=b"k"), rpc_pb2.RangeResponse, timeout=timeout)


def _run(script, calls: int = 1, **client_kw):
    """Make `calls` Range calls on a fresh client against a server running `script`; (results, server)."""
    server = H2Server(script)
    results: list[object] = []
    try:
        with Client([server.endpoint], **client_kw) as c:
            assert c.transport_name == "h2"
            for _ in range(calls):
                try:
                    results.append(_range(c))
                except EtcdError as e:
                    results.append(e)
    finally:
        server.close()
    assert server.errors == []
    return results, server


def test_header_blocks_split_into_continuation_frames():
    """Large headers and trailers arrive as HEADERS + CONTINUATION frames: decoded whole, message intact; a large
    error message in a split trailers-only block arrives whole too."""
    big = b"x" * 40_000
    long_message = ("etcdserver: " + "too long " * 3000).encode()

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send_headers(req.sid, hpack.encode([*OK_HEADERS, (b"x-big", big)]), split=1000)
        conn.send(frame(DATA, 0, req.sid, grpc_message(RANGE.SerializeToString())))
        trailers = hpack.encode([(b"grpc-status", b"0"), (b"x-big-trailer", big)])
        conn.send_headers(req.sid, trailers, end_stream=True, split=5000)
        req = conn.read_request()
        block = hpack.encode([*OK_HEADERS, (b"grpc-status", b"9"), (b"grpc-message", long_message)])
        conn.send_headers(req.sid, block, end_stream=True, split=4096)
        conn.read_frame()  # until the client hangs up

    (ok, err), server = _run(script, calls=2)
    assert ok == RANGE
    assert isinstance(err, EtcdError) and err.code == 9 and err.go_desc == long_message.decode()


def test_dynamic_table_kept_across_responses():
    """Fields the server added to the HPACK dynamic table in one response are referenced by index in the next:
    the client decodes every block with one table, so the second call's status and message are read right."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        headers = hpack.encode(OK_HEADERS) + indexed_literal(
            b"grpc-message", b"etcdserver: mvcc: required revision has been compacted"
        )
        headers += indexed_literal(b"grpc-status", b"11")
        conn.send_headers(req.sid, headers)
        conn.send(frame(DATA, 0, req.sid, grpc_message(RANGE.SerializeToString())))
        conn.send_headers(req.sid, indexed_literal(b"grpc-status", b"0"), end_stream=True)
        req = conn.read_request()
        # table now, newest first: 62 grpc-status: 0, 63 grpc-status: 11, 64 grpc-message: ... compacted
        conn.send_headers(req.sid, b"\x88" + bytes([0x80 | 63, 0x80 | 64]), end_stream=True)
        conn.read_frame()

    (ok, err), _ = _run(script, calls=2)
    assert ok == RANGE
    assert (
        isinstance(err, EtcdError)
        and err.code == 11
        and str(err) == "etcdserver: mvcc: required revision has been compacted"
    )


def test_goaway_before_our_stream_is_made_again_on_a_new_connection():
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        if n == 0:
            conn.send(frame(GOAWAY, 0, 0, (0).to_bytes(4, "big") + (0).to_bytes(4, "big")))
            conn.close()
            return
        conn.answer(req.sid, RANGE.SerializeToString())
        conn.read_frame()

    (ok,), server = _run(script)
    assert ok == RANGE and server.connections == 2


def test_goaway_after_our_stream_is_answered_and_the_next_call_dials_again():
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        if n == 0:
            conn.send(frame(GOAWAY, 0, 0, req.sid.to_bytes(4, "big") + (0).to_bytes(4, "big")))
        conn.answer(req.sid, RANGE.SerializeToString())
        conn.read_frame()

    results, server = _run(script, calls=2)
    assert results == [RANGE, RANGE] and server.connections == 2


@pytest.mark.parametrize(
    "code,expected",
    [
        (8, (1, "stream terminated by RST_STREAM with error code: CANCEL")),
        (2, (13, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR")),
        (11, (8, "stream terminated by RST_STREAM with error code: ENHANCE_YOUR_CALM")),
    ],
)
def test_rst_stream_ends_the_call_with_grpc_gos_status(code, expected):
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send(frame(RST_STREAM, 0, req.sid, code.to_bytes(4, "big")))
        conn.read_frame()

    (err,), server = _run(script)
    assert isinstance(err, EtcdError) and (err.code, err.go_desc) == expected
    assert server.connections == 1


def test_refused_stream_is_sent_again():
    """REFUSED_STREAM: the server did not process it, so the call is made again (a new stream)."""
    seen: list[int] = []

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        seen.append(req.sid)
        conn.send(frame(RST_STREAM, 0, req.sid, (7).to_bytes(4, "big")))
        req = conn.read_request()
        seen.append(req.sid)
        conn.answer(req.sid, RANGE.SerializeToString())
        conn.read_frame()

    (ok,), _ = _run(script)
    assert ok == RANGE and seen == [1, 3]


def test_tiny_window_request_waits_for_window_updates():
    """The server allows 100 bytes per stream and the default 65535 per connection, topping both up only as it
    reads: a 200 kB Put is sent in pieces that never exceed either window, and arrives whole."""
    value = bytes(range(256)) * 800
    windows = {"stream": 100, "conn": 65535, "max_frame": 0, "overrun": 0}
    body: list[bytes] = []

    def on_data(conn: ServerConn, sid: int, payload: bytes) -> None:
        windows["stream"] -= len(payload)
        windows["conn"] -= len(payload)
        windows["max_frame"] = max(windows["max_frame"], len(payload))
        if min(windows["stream"], windows["conn"]) < 0:
            windows["overrun"] += 1
        body.append(payload)
        if payload:
            inc = len(payload).to_bytes(4, "big")
            conn.send(frame(WINDOW_UPDATE, 0, sid, inc) + frame(WINDOW_UPDATE, 0, 0, inc))
            windows["stream"] += len(payload)
            windows["conn"] += len(payload)

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake(settings=(4).to_bytes(2, "big") + (100).to_bytes(4, "big"))
        req = conn.read_request(on_data)
        conn.answer(req.sid, rpc_pb2.PutResponse().SerializeToString())
        conn.read_frame()

    server = H2Server(script)
    try:
        with Client([server.endpoint]) as c:
            c.kv.put(b"k", value)
    finally:
        server.close()
    assert server.errors == []
    assert windows["overrun"] == 0 and windows["max_frame"] <= 100
    sent = b"".join(body)
    assert rpc_pb2.PutRequest.FromString(sent[5:]).value == value


@pytest.mark.parametrize("partial", [False, True], ids=["between-frames", "inside-a-frame"])
def test_connection_cut_mid_response(partial):
    """The member's connection goes away after the response headers of a Put: Unavailable with grpc-go's words, and
    the call is not made again (the member may have acted on it: clientv3's write-at-most-once)."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
        if partial:
            conn.send(frame(DATA, 0, req.sid, grpc_message(rpc_pb2.PutResponse().SerializeToString() + b"x" * 20))[:12])
        conn.close()

    server = H2Server(script)
    try:
        with Client([server.endpoint]) as c, pytest.raises(EtcdError) as err:
            c.kv.put(b"k", b"v", timeout=5.0)
    finally:
        server.close()
    assert server.errors == []
    reason = "unexpected EOF" if partial else "EOF"
    assert err.value.go_error == f"rpc error: code = Unavailable desc = error reading from server: {reason}"
    assert server.connections == 1


def test_cut_range_is_made_again_until_the_deadline():
    """A Range is "repeatable" to clientv3: on every Unavailable it is made again (a new connection here, 25 ms
    apart) until the deadline, which then ends it as DeadlineExceeded."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
        conn.close()

    server = H2Server(script)
    try:
        with Client([server.endpoint]) as c, pytest.raises(EtcdError) as err:
            _range(c, timeout=0.6)
    finally:
        server.close()
    assert server.errors == []
    assert err.value.go_error == "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    assert server.connections >= 3


def test_trailers_only_answer_with_percent_encoded_message():
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        block = hpack.encode([*OK_HEADERS, (b"grpc-status", b"5"), (b"grpc-message", b"no%20such%3A %E2%9C%93 100%")])
        conn.send_headers(req.sid, block, end_stream=True)
        conn.read_frame()

    (err,), _ = _run(script)
    assert isinstance(err, EtcdError)
    assert err.go_error == "rpc error: code = NotFound desc = no such: \u2713 100%"


def test_non_grpc_http_status():
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send_headers(req.sid, hpack.encode([(b":status", b"404")]), end_stream=True)
        conn.read_frame()

    (err,), _ = _run(script)
    assert isinstance(err, EtcdError) and err.code_name == "Unimplemented"
    assert err.go_desc == "unexpected HTTP status code received from server: 404 (Not Found)"


def test_ping_is_acked_and_padding_skipped():
    acked = threading.Event()

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send(frame(PING, 0, 0, b"12345678"))
        while True:
            kind, flags, _, payload = conn.read_frame()
            if kind == PING and flags & 1 and payload == b"12345678":
                acked.set()
                break
        conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
        msg = grpc_message(RANGE.SerializeToString())
        conn.send(frame(DATA, 0x8, req.sid, b"\x03" + msg + b"\x00\x00\x00"))  # PADDED, 3 bytes of padding
        conn.send(frame(HEADERS, 0x5, req.sid, hpack.encode([(b"grpc-status", b"0")])))
        conn.read_frame()

    (ok,), _ = _run(script)
    assert ok == RANGE and acked.is_set()


def test_deadline_sends_grpc_timeout_and_cancels_the_stream():
    seen: dict[str, object] = {}

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        seen["timeout"] = req.headers.get(b"grpc-timeout")
        while True:
            kind, _, sid, payload = conn.read_frame()
            if kind == RST_STREAM and sid == req.sid:
                seen["rst"] = int.from_bytes(payload, "big")
                break
        conn.read_frame()

    server = H2Server(script)
    try:
        with Client([server.endpoint]) as c, pytest.raises(DeadlineExceeded) as e:
            _range(c, timeout=0.3)
        wait_until(lambda: "rst" in seen, 5, "the RST_STREAM")
    finally:
        server.close()
    assert str(e.value) == "context deadline exceeded"
    t = seen["timeout"]
    assert isinstance(t, bytes) and t[-1:] in (b"u", b"m") and 0 < int(t[:-1]) <= 300_000
    assert seen["rst"] == 8  # CANCEL


def test_idle_connection_closed_by_server_is_dialed_again():
    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.answer(req.sid, RANGE.SerializeToString())
        if n == 0:
            conn.close()
            return
        conn.read_frame()

    results, server = _run(script, calls=2)
    assert results == [RANGE, RANGE] and server.connections == 2


def test_grpc_timeout_header_units():
    assert grpc_timeout_header(0.3) == b"300000u"
    assert grpc_timeout_header(5) == b"5000000u"
    assert grpc_timeout_header(1000) == b"1000000m"
    assert grpc_timeout_header(10**6) == b"1000000S"
    assert grpc_timeout_header(0) == b"1n"


def test_percent_decode():
    assert percent_decode(b"a%20b") == "a b"
    assert percent_decode(b"100%") == "100%"
    assert percent_decode(b"%zz%E2%9C%93") == "%zz\u2713"


def test_compressed_message_fails_the_call_and_retires_the_connection():
    """A message flagged compressed (we asked for none): Internal, and the next call gets a new connection."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        if n == 0:
            conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
            conn.send(frame(DATA, 0, req.sid, b"\x01" + grpc_message(b"")[1:]))
        else:
            conn.answer(req.sid, RANGE.SerializeToString())
        conn.read_frame()

    (err, ok), server = _run(script, calls=2)
    assert isinstance(err, EtcdError) and err.code_name == "Internal"
    assert ok == RANGE and server.connections == 2


def test_malformed_frame_is_an_error_not_a_crash():
    """A PADDED DATA frame with no room for its pad length: Internal, no exception of ours leaks."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
        conn.send(frame(DATA, 0x8, req.sid, b""))
        conn.read_frame()

    (err,), _ = _run(script)
    assert isinstance(err, EtcdError) and err.code_name == "Internal" and "malformed" in err.go_desc


def test_unix_socket_endpoint(tmp_path):
    """unix:// endpoints are dialed by our HTTP/2 too (with the endpoint's authority)."""
    seen: dict[str, bytes] = {}

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        req = conn.read_request()
        seen["authority"] = req.headers[b":authority"]
        conn.answer(req.sid, RANGE.SerializeToString())
        conn.read_frame()

    server = H2Server(script, unix_path=str(tmp_path / "sock"))
    try:
        with Client([server.endpoint]) as c:
            assert c.transport_name == "h2"
            assert _range(c) == RANGE
    finally:
        server.close()
    assert server.errors == [] and seen["authority"] == str(tmp_path / "sock").encode()
