"""The HPACK codec of the standard-library gRPC transport: RFC 7541's Appendix C examples, round trips, malformed
blocks, and real header blocks from etcd 3.5.1's grpc-go server (Huffman strings and dynamic indexing)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest

from etcdctl_py.client.transport import hpack
from etcdctl_py.client.transport.hpack import Decoder, HeaderListTooLarge, HpackError, encode
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from tests import etcdproc

Headers = list[tuple[bytes, bytes]]


def _h(*pairs: tuple[str, str]) -> Headers:
    return [(n.encode(), v.encode()) for n, v in pairs]


def _run_series(max_table_size: int, steps: list[tuple[str, Headers, Headers, int]]) -> None:
    """Decode consecutive blocks with one Decoder; after each, check the header list and the dynamic table."""
    d = Decoder(max_table_size)
    for i, (hexblock, want_headers, want_table, want_size) in enumerate(steps):
        assert d.decode(bytes.fromhex(hexblock)) == want_headers, f"step {i}"
        assert d.table == want_table, f"step {i}"
        assert d.table_size == want_size, f"step {i}"


# ---- RFC 7541 Appendix C ----------------------------------------------------------------------------------------


def test_c1_integer_representation_in_size_updates():
    """C.1.1-C.1.2: 10 and 1337 with a 5-bit prefix, carried by dynamic table size updates."""
    d = Decoder(4096)
    assert d.decode(bytes.fromhex("2a")) == []
    assert d.table_capacity == 10
    assert d.decode(bytes.fromhex("3f9a0a")) == []
    assert d.table_capacity == 1337


@pytest.mark.parametrize(
    ("hexblock", "headers", "table", "size"),
    [
        (  # C.2.1 literal with incremental indexing, new name
            "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
            _h(("custom-key", "custom-header")),
            _h(("custom-key", "custom-header")),
            55,
        ),
        ("040c2f73616d706c652f70617468", _h((":path", "/sample/path")), [], 0),  # C.2.2 without indexing
        ("100870617373776f726406736563726574", _h(("password", "secret")), [], 0),  # C.2.3 never indexed
        ("82", _h((":method", "GET")), [], 0),  # C.2.4 indexed
    ],
)
def test_c2_field_representations(hexblock, headers, table, size):
    _run_series(4096, [(hexblock, headers, table, size)])


_C3_C4_WANT = [
    (
        _h((":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")),
        _h((":authority", "www.example.com")),
        57,
    ),
    (
        _h(
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ),
        _h(("cache-control", "no-cache"), (":authority", "www.example.com")),
        110,
    ),
    (
        _h(
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ),
        _h(("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")),
        164,
    ),
]


def test_c3_requests_without_huffman():
    blocks = [
        "828684410f7777772e6578616d706c652e636f6d",
        "828684be58086e6f2d6361636865",
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
    ]
    _run_series(4096, [(b, *want) for b, want in zip(blocks, _C3_C4_WANT, strict=True)])


def test_c4_requests_with_huffman():
    blocks = [
        "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        "828684be5886a8eb10649cbf",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
    ]
    _run_series(4096, [(b, *want) for b, want in zip(blocks, _C3_C4_WANT, strict=True)])


_DATE1 = ("date", "Mon, 21 Oct 2013 20:13:21 GMT")
_DATE2 = ("date", "Mon, 21 Oct 2013 20:13:22 GMT")
_LOCATION = ("location", "https://www.example.com")
_COOKIE = ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
_C5_C6_WANT = [
    (
        _h((":status", "302"), ("cache-control", "private"), _DATE1, _LOCATION),
        _h(_LOCATION, _DATE1, ("cache-control", "private"), (":status", "302")),
        222,
    ),
    (  # ":status 307" evicts ":status 302"
        _h((":status", "307"), ("cache-control", "private"), _DATE1, _LOCATION),
        _h((":status", "307"), _LOCATION, _DATE1, ("cache-control", "private")),
        222,
    ),
    (
        _h((":status", "200"), ("cache-control", "private"), _DATE2, _LOCATION, ("content-encoding", "gzip"), _COOKIE),
        _h(_COOKIE, ("content-encoding", "gzip"), _DATE2),
        215,
    ),
]


def test_c5_responses_without_huffman_with_evictions():
    blocks = [
        "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470"
        "733a2f2f7777772e6578616d706c652e636f6d",
        "4803333037c1c0bf",
        "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48"
        "514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
    ]
    _run_series(256, [(b, *want) for b, want in zip(blocks, _C5_C6_WANT, strict=True)])


def test_c6_responses_with_huffman_with_evictions():
    blocks = [
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        "4883640effc1c0bf",
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27"
        "087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ]
    _run_series(256, [(b, *want) for b, want in zip(blocks, _C5_C6_WANT, strict=True)])


# ---- Huffman code ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sym", "code", "length"),
    # rows of RFC 7541 Appendix B: every length class's neighbourhood, both ends, EOS
    [
        (0, 0x1FF8, 13),
        (1, 0x7FFFD8, 23),
        (10, 0x3FFFFFFC, 30),
        (32, 0x14, 6),
        (48, 0x0, 5),
        (97, 0x3, 5),
        (127, 0xFFFFFFC, 28),
        (128, 0xFFFE6, 20),
        (170, 0x3FFFDE, 22),
        (199, 0x1FFFFEC, 25),
        (200, 0x3FFFFE2, 26),
        (230, 0x1FFFE8, 21),
        (254, 0x7FFFFF0, 27),
        (255, 0x3FFFFEE, 26),
        (256, 0x3FFFFFFF, 30),
    ],
)
def test_huffman_code_rows(sym, code, length):
    """The canonical codes rebuilt from the length table are the RFC's codes."""
    assert hpack.huffman_codes()[sym] == (code, length)


def _huffman_encode(data: bytes) -> bytes:
    """Huffman-code `data`, padded with the most significant bits of EOS (all ones)."""
    codes = hpack.huffman_codes()
    acc = nbits = 0
    for byte in data:
        code, length = codes[byte]
        acc = (acc << length) | code
        nbits += length
    pad = -nbits % 8
    return ((acc << pad) | ((1 << pad) - 1)).to_bytes((nbits + pad) // 8, "big")


def _huffman_literal_block(name: bytes, huffman_value: bytes) -> bytes:
    """A literal-without-indexing field with a raw name and an already Huffman-coded value."""
    out = bytearray(b"\x00")
    hpack._encode_int(out, 0x00, 7, len(name))
    out += name
    hpack._encode_int(out, 0x80, 7, len(huffman_value))
    out += huffman_value
    return bytes(out)


def test_huffman_every_symbol_and_padding_length():
    """Each byte alone (its padding is whatever its code length leaves: 0 to 7 bits) decodes back."""
    for byte in range(256):
        assert hpack.huffman_decode(_huffman_encode(bytes([byte]))) == bytes([byte]), byte
    assert hpack.huffman_decode(b"") == b""


def test_huffman_random_strings_in_blocks():
    rng = random.Random(7541)
    d = Decoder()
    for _ in range(200):
        value = rng.randbytes(rng.randrange(0, 300))
        block = _huffman_literal_block(b"x-bin", _huffman_encode(value))
        assert d.decode(block) == [(b"x-bin", value)]


_DECODERS = pytest.mark.parametrize(
    "decode", [hpack.huffman_decode_canonical, hpack.huffman_decode_table], ids=["canonical", "table"]
)


@_DECODERS
def test_huffman_both_decoders_every_symbol_and_random_strings(decode):
    """The bit-by-bit canonical decoder and the nibble automaton each decode every symbol (0-7 padding bits), the
    longest codes back to back, and random strings, to the bytes that were coded."""
    for byte in range(256):
        assert decode(_huffman_encode(bytes([byte]))) == bytes([byte]), byte
    longest = bytes(range(192, 256)) * 3  # 20-26-bit codes: the accumulator refills across several bytes
    assert decode(_huffman_encode(longest)) == longest
    assert decode(b"") == b""
    rng = random.Random(14)
    for _ in range(100):
        value = rng.randbytes(rng.randrange(0, 120))
        assert decode(_huffman_encode(value)) == value


_BAD_HUFFMAN = [
    (bytes.fromhex("ffffffff"), "EOS"),  # EOS (30 ones) + 2 padding bits
    (bytes.fromhex("1fffffffff"), "EOS"),  # "a" (00011), then EOS
    (bytes.fromhex("1fff"), "padding"),  # "a" (00011) + 11 one bits: padding longer than 7 bits
    (bytes.fromhex("18"), "padding"),  # "a" + padding 000: not EOS's prefix
    (bytes.fromhex("1e"), "padding"),  # "a" + padding 110
    (bytes.fromhex("fe"), "padding"),  # 11111110: an unfinished 10-bit code, not padding
    (bytes.fromhex("ff"), "padding"),  # 8 padding bits
]


@_DECODERS
@pytest.mark.parametrize(("coded", "why"), _BAD_HUFFMAN)
def test_huffman_both_decoders_reject_eos_and_bad_padding(decode, coded, why):
    with pytest.raises(HpackError, match=why):
        decode(coded)


def test_short_strings_do_not_build_the_automaton(monkeypatch):
    """etcd's header values (a few bytes each) are decoded without building the automaton; once the Huffman bytes
    decoded pass the budget, the automaton is built and used, with the same results."""
    monkeypatch.setattr(hpack, "_huffman", None)
    monkeypatch.setattr(hpack, "_canonical_left", hpack._CANONICAL_BUDGET)
    for value in (b"application/grpc", b"0", b"200", b"etcdserver: requested lease not found"):
        assert hpack.huffman_decode(_huffman_encode(value)) == value
    assert hpack._huffman is None
    big = bytes(range(256)) * 40
    coded = _huffman_encode(big)
    assert len(coded) > hpack._CANONICAL_BUDGET
    assert hpack.huffman_decode(coded) == big
    assert hpack._huffman is not None
    assert hpack.huffman_decode(_huffman_encode(b"application/grpc")) == b"application/grpc"


@pytest.mark.parametrize(
    ("coded", "why"),
    [
        (bytes.fromhex("ffffffff"), "EOS"),  # EOS (30 ones) + 2 padding bits
        (bytes.fromhex("1fff"), "padding"),  # "a" (00011) + 11 one bits: padding longer than 7 bits
        (bytes.fromhex("18"), "padding"),  # "a" + padding 000: not EOS's prefix
        (bytes.fromhex("1e"), "padding"),  # "a" + padding 110
        (bytes.fromhex("fe"), "padding"),  # 11111110: an unfinished 10-bit code, not padding
        (bytes.fromhex("ff"), "padding"),  # 8 padding bits
    ],
)
def test_huffman_rejects_eos_and_bad_padding(coded, why):
    with pytest.raises(HpackError, match=why):
        Decoder().decode(_huffman_literal_block(b"k", coded))


# ---- malformed blocks, size updates, the header list bound -------------------------------------------------------


@pytest.mark.parametrize(
    ("hexblock", "why"),
    [
        ("ff", "truncated integer"),  # an index that continues past the end
        ("ff80", "truncated integer"),
        ("41", "truncated header block"),  # :authority literal without its value
        ("00", "truncated header block"),  # new-name literal without its name
        ("400a637573746f6d", "truncated string"),  # a 10-byte name with 6 bytes present
        ("80", "index 0"),
        ("be", "index 62 is out of range"),  # the dynamic table is empty
        ("7e00", "index 62 is out of range"),  # literal naming a dynamic entry that does not exist
        ("0f3000", "index 63 is out of range"),
        ("ff8000", "overlong"),  # 127 with a redundant zero continuation octet
        ("ffffffffffff01", "integer overflow"),  # more continuation octets than a 32-bit value needs
        ("ffffffffff7f", "integer overflow"),  # five octets worth more than 2**32 - 1
        ("8220", "size update after a header field"),
        ("3fe21f", "to 4097 exceeds the maximum 4096"),
    ],
)
def test_malformed_blocks(hexblock, why):
    with pytest.raises(HpackError, match=why):
        Decoder(4096).decode(bytes.fromhex(hexblock))


def test_size_updates_at_block_start_and_eviction():
    d = Decoder(4096)
    assert d.decode(bytes.fromhex("203fe11f82")) == _h((":method", "GET"))  # 0, then 4096, then a field
    assert d.table_capacity == 4096
    d.decode(bytes.fromhex("828684410f7777772e6578616d706c652e636f6d"))  # C.3.1 adds a 57-byte entry
    assert d.table_size == 57
    assert d.decode(bytes.fromhex("3f0a")) == []  # shrink to 41: the entry goes
    assert (d.table, d.table_size, d.table_capacity) == ([], 0, 41)
    with pytest.raises(HpackError, match="index 62"):
        d.decode(bytes.fromhex("be"))


def test_entry_larger_than_the_table_empties_it():
    d = Decoder(4096)
    d.decode(bytes.fromhex("3f13"))  # capacity 50
    d.decode(bytes.fromhex("40026b310376312a"))  # k1: v1* (37 bytes) fits
    assert d.table == _h(("k1", "v1*"))
    got = d.decode(bytes.fromhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"))  # 55 bytes
    assert got == _h(("custom-key", "custom-header"))
    assert (d.table, d.table_size) == ([], 0)


def test_max_header_list_size():
    assert Decoder(max_header_list_size=85).decode(bytes.fromhex("8286")) == _h((":method", "GET"), (":scheme", "http"))
    with pytest.raises(HeaderListTooLarge):  # 42 + 43 bytes
        Decoder(max_header_list_size=84).decode(bytes.fromhex("8286"))


def test_oversized_header_list_still_updates_the_table():
    """The block is decoded to its end, so the next block (which refers to the new entry) still decodes."""
    d = Decoder(max_header_list_size=100)
    with pytest.raises(HeaderListTooLarge):
        d.decode(bytes.fromhex("828684410f7777772e6578616d706c652e636f6d"))
    assert d.table == _h((":authority", "www.example.com"))
    d.max_header_list_size = None
    assert d.decode(bytes.fromhex("828684be58086e6f2d6361636865")) == _C3_C4_WANT[1][0]


# ---- encoder -----------------------------------------------------------------------------------------------------


def test_encode_known_bytes():
    assert encode(_h((":path", "/sample/path"))) == bytes.fromhex("040c2f73616d706c652f70617468")  # as C.2.2
    assert encode(_h(("custom-key", "custom-header"))) == bytes.fromhex(
        "000a637573746f6d2d6b65790d637573746f6d2d686561646572"
    )
    # content-type is static index 31: 15 in the 4-bit prefix plus one continuation octet
    assert encode(_h(("content-type", "application/grpc"))) == b"\x0f\x10\x10application/grpc"
    assert encode([]) == b""


def test_encode_decode_round_trip_random_headers():
    rng = random.Random(1)
    static_names = [b":authority", b":path", b"content-type", b"te", b"www-authenticate", b"grpc-timeout"]
    d = Decoder()
    for _ in range(300):
        headers = []
        for _ in range(rng.randrange(0, 12)):
            name = rng.choice(static_names) if rng.random() < 0.5 else rng.randbytes(rng.randrange(1, 200))
            headers.append((name, rng.randbytes(rng.choice([0, 1, 126, 127, 128, rng.randrange(0, 20000)]))))
        assert d.decode(encode(headers)) == headers
    assert d.table == []  # the encoder never asks the peer to index


# ---- a real HTTP/2 peer: etcd 3.5.1 (grpc-go) ----------------------------------------------------------------------

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x9
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20


def _frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


class _H2Conn:
    """The least HTTP/2 a unary gRPC call needs (a test tool, not a client): one stream at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.decoder = Decoder()
        self.sock.sendall(_PREFACE + _frame(_SETTINGS, 0, 0))

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "server closed the connection"
            buf += chunk
        return buf

    def _frame(self) -> tuple[int, int, int, bytes]:
        head = self._read(9)
        payload = self._read(int.from_bytes(head[:3], "big"))
        return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload

    def call(self, stream: int, path: str, port: int) -> tuple[list[bytes], list[Headers], bytes]:
        """Send one unary request with an empty message; return the raw header blocks, their decoded lists and the
        response DATA, read until the stream ends."""
        request = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", f"127.0.0.1:{port}".encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]
        self.sock.sendall(
            _frame(_HEADERS, _END_HEADERS, stream, encode(request))
            + _frame(_DATA, _END_STREAM, stream, b"\x00\x00\x00\x00\x00")
        )
        raw: list[bytes] = []
        decoded: list[Headers] = []
        data = b""
        while True:
            ftype, flags, sid, payload = self._frame()
            if ftype == _SETTINGS and not flags & _ACK:
                self.sock.sendall(_frame(_SETTINGS, _ACK, 0))
            elif ftype == _PING and not flags & _ACK:
                self.sock.sendall(_frame(_PING, _ACK, 0, payload))
            elif ftype in (_GOAWAY, _RST_STREAM):
                raise AssertionError(f"server sent frame type {ftype}: {payload!r}")
            elif ftype == _HEADERS:
                block = self._header_block(flags, _unpad(flags, payload, _PRIORITY))
                raw.append(block)
                decoded.append(self.decoder.decode(block))
            elif ftype == _DATA:
                data += _unpad(flags, payload, 0)
            if sid == stream and ftype in (_HEADERS, _DATA) and flags & _END_STREAM:
                return raw, decoded, data

    def _header_block(self, flags: int, fragment: bytes) -> bytes:
        """The fragment plus its CONTINUATION frames, up to END_HEADERS."""
        while not flags & _END_HEADERS:
            ftype, flags, _, more = self._frame()
            assert ftype == _CONTINUATION
            fragment += more
        return fragment

    def close(self) -> None:
        self.sock.close()


def _unpad(flags: int, payload: bytes, priority_flag: int) -> bytes:
    """A HEADERS/DATA payload without its padding and priority fields."""
    pad = 0
    if flags & _PADDED:
        pad, payload = payload[0], payload[1:]
    if flags & priority_flag:
        payload = payload[5:]
    return payload[: len(payload) - pad]


@pytest.fixture(scope="module")
def etcd_port(tmp_path_factory, etcd_bin) -> Iterator[int]:
    with etcdproc.scratch_dir(tmp_path_factory, "hpack") as scratch:
        srv = etcdproc.make_server(etcd_bin, str(scratch), name="hpack")
        try:
            srv.start()
            yield srv.client_port
        finally:
            srv.stop()


def test_decodes_grpc_go_responses(etcd_port):
    """Maintenance/Status and then an unknown method on one connection: real grpc-go header blocks (Huffman
    strings, dynamic table entries reused by the second response) decode to the expected fields, and grpc-go's
    own HPACK decoder accepts `encode`'s request blocks."""
    conn = _H2Conn(etcd_port)
    try:
        raw, (headers, trailers), data = conn.call(1, "/etcdserverpb.Maintenance/Status", etcd_port)
        assert dict(headers)[b":status"] == b"200"
        assert dict(headers)[b"content-type"] == b"application/grpc"
        assert dict(trailers)[b"grpc-status"] == b"0"
        # the first block on the connection cannot index: content-type's value came as a Huffman literal
        assert b"application/grpc" not in raw[0]
        assert conn.decoder.table, "grpc-go indexed nothing"
        assert data[0] == 0 and int.from_bytes(data[1:5], "big") == len(data) - 5
        status = rpc_pb2.StatusResponse.FromString(data[5:])
        assert status.version == "3.5.1"

        raw2, blocks, data2 = conn.call(3, "/etcdserverpb.Maintenance/NoSuchMethod", etcd_port)
        fields = dict(h for block in blocks for h in block)
        assert fields[b":status"] == b"200"
        assert fields[b"content-type"] == b"application/grpc"
        assert fields[b"grpc-status"] == b"12"  # Unimplemented
        assert b"NoSuchMethod" in fields[b"grpc-message"]
        assert data2 == b""
        # the second response refers to entries the first one added: a fresh decoder cannot read it
        with pytest.raises(HpackError, match="out of range"):
            Decoder().decode(raw2[0])

        # the same call again: its header blocks are now (mostly) indexes into the dynamic table
        raw3, blocks3, _ = conn.call(5, "/etcdserverpb.Maintenance/Status", etcd_port)
        assert blocks3 == [headers, trailers]
        assert sum(map(len, raw3)) < sum(map(len, raw))
    finally:
        conn.close()
