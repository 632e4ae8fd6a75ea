"""The batch printers of large ranges (etcdctl_py.output.fastkv) against the protobuf module.

Every check decodes the same wire bytes two ways: the generated protobuf module's whole-message
parse (and the per-KeyValue printers that the differential suites hold to real etcdctl), and
fastkv's top-level walk plus column decoding. Messages are random (seeded), then edited on the wire:
unknown fields, fields out of order or repeated, non-minimal and 10-byte varints, truncation.
"""

from __future__ import annotations

import io
import random

import pytest
from google.protobuf.message import DecodeError

from etcdctl_py.gofmt import quote
from etcdctl_py.output import fastkv, new_printer
from etcdctl_py.output.fields import quote_bytes
from etcdctl_py.output.simple import hex_escape
from etcdctl_py.proto.etcdserverpb import rpc_pb2

INT64 = (0, 1, 127, 128, 16383, 16384, 2**31, 2**63 - 1, -1, -(2**63))
ODD = [
    b"",
    b"a",
    b'"q"',
    b"\\",
    b"<>&",
    "\u2028\u2029".encode(),
    b"\xff\xfe",
    b"\x00\x01\x1f\x7f",
    b"\t\n\r",
    "é€😀".encode(),
    b"\xed\xa0\x80",
    b"\xc3",
    b"\xe2\x82",
    "\u00ad\u0085\u00a0".encode(),
    b"k8s\x00\x0a\x0f",
]


def varint(v: int) -> bytes:
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num: int, wire: int, payload: bytes | int) -> bytes:
    tag = varint(num << 3 | wire)
    if wire == 0:
        return tag + varint(payload)  # type: ignore[arg-type]
    return tag + varint(len(payload)) + payload  # type: ignore[arg-type]


def rand_bytes(rng: random.Random, big: bool = False) -> bytes:
    r = rng.random()
    if r < 0.3:
        return rng.choice(ODD)
    if r < 0.5:
        return b"".join(rng.choice(ODD) for _ in range(rng.randrange(1, 6)))
    n = rng.choice((1, 2, 3, 30, 127, 128, 512, 20000 if big else 700))
    return rng.randbytes(n)


def rand_int(rng: random.Random) -> int:
    return rng.choice(INT64) if rng.random() < 0.4 else rng.randrange(1, 1 << rng.choice((7, 14, 21, 40)))


def rand_response(rng: random.Random, n: int | None = None, *, regular: bool = False) -> rpc_pb2.RangeResponse:
    """A RangeResponse from the protobuf module; `regular`: every field set in every kv (etcd's shape)."""
    r = rpc_pb2.RangeResponse()
    if rng.random() < 0.8:
        r.header.SetInParent()
        for f in ("cluster_id", "member_id", "revision", "raft_term"):
            if rng.random() < 0.8:
                setattr(
                    r.header,
                    f,
                    rng.choice((1, 2**64 - 1, 2**63, 12345))
                    if f.endswith("id")
                    else min(abs(rand_int(rng)), 2**63 - 1),
                )
    for _ in range(rng.randrange(0, 200) if n is None else n):
        kv = r.kvs.add(key=rand_bytes(rng) or b"k", value=rand_bytes(rng, big=rng.random() < 0.05))
        for f in ("create_revision", "mod_revision", "version", "lease"):
            setattr(kv, f, rand_int(rng) or 1 if regular else rand_int(rng))
        if regular and not kv.value:
            kv.value = b"v"
        if not regular and rng.random() < 0.05:
            kv.key = b""
    r.more = rng.random() < 0.5
    r.count = min(abs(rand_int(rng)), 2**63 - 1)
    return r


def rows(kvs) -> list[tuple]:
    return [tuple(getattr(kv, f) for f in fastkv.FIELDS) for kv in kvs]


def check_parts(raw: bytes, chunk: int | None = None) -> fastkv.RangeParts | None:
    """split_range + columns decode exactly what the protobuf module decodes (or defer to it)."""
    try:
        whole = rpc_pb2.RangeResponse.FromString(raw)
    except DecodeError:
        whole = None
    parts = fastkv.split_range(raw, chunk)
    if parts is None:
        return None
    if whole is None:  # a broken KeyValue inside a span: reported while printing that span
        with pytest.raises(DecodeError):
            list(parts.columns())
        return parts
    got = [row for cols in parts.columns() for row in zip(*cols, strict=True)]
    assert got == rows(whole.kvs)
    assert parts.count == len(whole.kvs)
    assert [row for cols in parts.columns(("value", "key")) for row in zip(*cols, strict=True)] == [
        (kv.value, kv.key) for kv in whole.kvs
    ]
    assert parts.head.HasField("header") == whole.HasField("header")
    assert parts.head.header == whole.header
    assert (parts.head.more, parts.head.count) == (whole.more, whole.count)
    return parts


@pytest.mark.parametrize("seed", range(40))
def test_random_responses_split_and_columns(seed):
    rng = random.Random(seed)
    r = rand_response(rng, regular=seed % 2 == 0)
    raw = r.SerializeToString()
    for chunk in (None, 1, 700, 5000):
        parts = check_parts(raw, chunk)
        assert parts is not None
        assert (
            parts.head.SerializeToString()
            == rpc_pb2.RangeResponse(
                header=r.header if r.HasField("header") else None, more=r.more, count=r.count
            ).SerializeToString()
        )


def kv_bytes(key=b"k", create=2, mod=3, version=1, value=b"v", lease=0, extra=b"") -> bytes:
    body = field(1, 2, key) if key else b""
    for num, v in ((2, create), (3, mod), (4, version)):
        body += field(num, 0, v) if v else b""
    body += field(5, 2, value) if value else b""
    body += (field(6, 0, lease) if lease else b"") + extra
    return field(2, 2, body)


HEADER = field(1, 2, field(1, 0, 2**64 - 1) + field(3, 0, 7))

EDGE_CASES = {
    "empty message": b"",
    "header only": HEADER,
    "empty header": field(1, 2, b""),
    "kvs without header": kv_bytes() + kv_bytes(b"k2"),
    "header after kvs": kv_bytes() + HEADER + kv_bytes(b"k2") + field(3, 0, 1),
    "header twice merges": HEADER + kv_bytes() + field(1, 2, field(2, 0, 9)),
    "top-level unknown fields": HEADER
    + field(99, 0, 5)
    + kv_bytes()
    + field(15, 2, b"xyz")
    + varint(7 << 3 | 1)
    + b"\x01" * 8
    + varint(8 << 3 | 5)
    + b"\x02" * 4
    + field(4, 0, 3),
    "unknown field inside a kv": kv_bytes(extra=field(7, 0, 5)) + kv_bytes(b"k2", extra=field(9, 2, b"zz")),
    "kv fields out of order": field(2, 2, field(5, 2, b"val") + field(4, 0, 1) + field(1, 2, b"key")) + kv_bytes(),
    "a field twice in one kv (last wins)": field(2, 2, field(1, 2, b"a") + field(1, 2, b"b") + field(5, 2, b"v"))
    + kv_bytes(),
    "explicit zero lease in one kv": kv_bytes(extra=field(6, 0, 0)) + kv_bytes(b"k2"),
    "explicit zero lease in every kv": kv_bytes(extra=field(6, 0, 0)) + kv_bytes(b"k2", extra=field(6, 0, 0)),
    "empty values and keys": kv_bytes(value=b"") + kv_bytes(key=b"", value=b"x") + kv_bytes(b"k3"),
    "all values empty (keys-only)": kv_bytes(value=b"") + kv_bytes(b"k2", value=b""),
    "some leases": kv_bytes(lease=5) + kv_bytes(b"k2") + kv_bytes(b"k3", lease=-1),
    "huge and negative varints": kv_bytes(create=2**63 - 1, mod=-(2**63), version=-1, lease=2**62),
    "record length over 16 KiB": kv_bytes(value=b"x" * 40000) + kv_bytes(),
    "non-minimal length varint": b"\x12\x85\x80\x80\x80\x00" + kv_bytes()[2:] + kv_bytes(),
    "zero-length kv": b"\x12\x00" + kv_bytes(),
    "more and count": kv_bytes() + field(3, 0, 1) + field(4, 0, 2**40),
    # what the walk refuses: the whole-message parse decides
    "truncated last kv": kv_bytes() + kv_bytes()[:-2],
    "length past the end": kv_bytes() + b"\x12\xff\xff\xff\xff\x0f" + b"x" * 10,
    "11-byte varint": kv_bytes() + b"\x12" + b"\x80" * 10 + b"\x00",
    "group at top level": kv_bytes() + b"\x2b\x2c",
    "field number 0": kv_bytes() + b"\x00\x01",
    "broken header": field(1, 2, b"\xff") + kv_bytes(),
    "broken kv inside a span": kv_bytes() + field(2, 2, b"\x0a\x05ab"),
    "wrong wire type for key": field(2, 2, field(1, 0, 5) + field(5, 2, b"v")) + kv_bytes(),
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_edge_case_wire_bytes(name):
    raw = EDGE_CASES[name]
    for chunk in (None, 1):
        check_parts(raw, chunk)


def test_walk_refuses_what_etcd_never_sends():
    for name in (
        "truncated last kv",
        "length past the end",
        "11-byte varint",
        "group at top level",
        "field number 0",
        "broken header",
    ):
        assert fastkv.split_range(EDGE_CASES[name]) is None, name


def test_random_mutations_never_disagree():
    """Bytes flipped, cut or inserted anywhere: the parts decode like the whole message, or defer."""
    rng = random.Random(7)
    for _i in range(300):
        raw = bytearray(rand_response(rng, rng.randrange(0, 12), regular=True).SerializeToString())
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(raw) + 1)
            op = rng.random()
            if op < 0.4 and pos < len(raw):
                raw[pos] = rng.randrange(256)
            elif op < 0.7:
                raw[pos:pos] = rng.randbytes(rng.randrange(1, 4))
            else:
                del raw[pos : pos + rng.randrange(1, 4)]
        check_parts(bytes(raw), rng.choice((None, 1, 100)))


# ---------------------------------------------------------------- printers


@pytest.fixture
def batch_everything(monkeypatch):
    """Send even tiny responses through the batch printers (they start at BATCH_MIN_BYTES)."""
    from etcdctl_py.output import printer

    monkeypatch.setattr(printer, "BATCH_MIN_BYTES", 0)


def render(fmt: str, is_hex: bool, method: str, arg, value_only: bool = False) -> bytes:
    p = new_printer(fmt, is_hex)
    p.out = io.BytesIO()
    getattr(p, method)(arg, value_only=value_only)
    return p.out.getvalue()


VARIANTS = [
    ("simple", False, False),
    ("simple", True, False),
    ("simple", False, True),
    ("simple", True, True),
    ("json", False, False),
    ("json", True, False),
    ("fields", False, False),
    ("protobuf", False, False),
]


@pytest.mark.parametrize("fmt,is_hex,value_only", VARIANTS)
def test_printers_match_the_per_kv_printers(fmt, is_hex, value_only, monkeypatch, batch_everything):
    """get_raw (batches) prints the very bytes get (one decoded message) prints, span sizes aside."""
    rng = random.Random(hash(fmt) % 1000 + is_hex * 10 + value_only)
    cases = [rand_response(rng, regular=i % 2 == 0).SerializeToString() for i in range(12)]
    cases += [
        raw
        for name, raw in EDGE_CASES.items()
        if not name.startswith(("broken", "truncated", "length", "11-byte", "group", "field number"))
    ]
    for chunk in (1 << 20, 1, 3000):
        monkeypatch.setattr(fastkv, "CHUNK_BYTES", chunk)
        for raw in cases:
            whole = rpc_pb2.RangeResponse.FromString(raw)
            assert render(fmt, is_hex, "get_raw", raw, value_only) == render(fmt, is_hex, "get", whole, value_only)


def test_protobuf_printer_rewrites_the_message_as_the_runtime_does(batch_everything):
    raw = EDGE_CASES["header after kvs"] + field(99, 0, 1)
    whole = rpc_pb2.RangeResponse.FromString(raw)
    assert render("protobuf", False, "get_raw", raw) == whole.SerializeToString(deterministic=True)


@pytest.mark.parametrize("fmt", ["simple", "json", "fields", "protobuf"])
def test_undecodable_response_fails_like_the_whole_parse(fmt, batch_everything):
    for name in ("truncated last kv", "broken header", "length past the end"):
        with pytest.raises(DecodeError):
            render(fmt, False, "get_raw", EDGE_CASES[name])


def test_small_responses_are_decoded_whole(monkeypatch):
    """Below BATCH_MIN_BYTES no walk happens (and `get foo` imports nothing more than before)."""

    def no_split(*_a, **_k):
        raise AssertionError("split_range called for a small response")

    monkeypatch.setattr(fastkv, "split_range", no_split)
    raw = EDGE_CASES["kvs without header"]
    assert render("simple", False, "get_raw", raw) == b"k\nv\nk2\nv\n"


def test_table_format_still_unsupported_for_get(batch_everything):
    from etcdctl_py.output.printer import UnsupportedFormat

    with pytest.raises(UnsupportedFormat, match="table not supported as output format"):
        render("table", False, "get_raw", EDGE_CASES["kvs without header"])


def test_json_batch_shapes(batch_everything):
    """One template per batch: members set everywhere, nowhere, or in some kvs only."""
    r = rpc_pb2.RangeResponse()
    r.kvs.add(key=b"a", create_revision=2, mod_revision=2, version=1, value=b"x", lease=7)
    r.kvs.add(key=b"b", create_revision=3, mod_revision=4, version=2)
    r.kvs.add(key=b"c", create_revision=5, mod_revision=5, version=1, value=b"<>&\xff")
    raw = r.SerializeToString()
    assert render("json", False, "get_raw", raw) == (
        b'{"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":2,"version":1,"value":"eA==","lease":7},'
        b'{"key":"Yg==","create_revision":3,"mod_revision":4,"version":2},'
        b'{"key":"Yw==","create_revision":5,"mod_revision":5,"version":1,"value":"PD4m/w=="}]}\n'
    )


# ---------------------------------------------------------------- escaping helpers


def test_quote_bytes_is_gofmt_quote():
    rng = random.Random(3)
    samples = list(ODD) + [bytes([b]) for b in range(256)] + [rng.randbytes(rng.randrange(0, 64)) for _ in range(3000)]
    samples += [b"".join(rng.choice(ODD) for _ in range(rng.randrange(1, 8))) for _ in range(2000)]
    samples += [rng.choice(ODD) + bytes(rng.choice(b'abc\\"\x7f\x00\n') for _ in range(5)) for _ in range(500)]
    # what the escaper-and-fix-up path must not confuse: literal `\x..` text, quotes, named controls
    samples += [
        rng.choice((b"\\x", b"\\", b"'", b"\\'", b"x", b"\\xc3\\xa9", b"\\u007f")) + rng.randbytes(8) + rng.choice(ODD)
        for _ in range(3000)
    ]
    samples += [rng.randbytes(512) for _ in range(300)]  # binary values full of runes and controls
    for s in samples:
        assert quote_bytes(s) == quote(s).encode("utf-8", "surrogateescape"), s


def test_quote_follows_go_1_16():
    """etcdctl 3.5.1's Go quotes DEL as a rune and has Unicode 13 tables (Python 3.11 has 14)."""
    assert quote(b"a\x7fb") == '"a\\u007fb"'
    assert quote("\u061d\U00012f93\u0600é".encode()) == '"\\u061d\\U00012f93\\u0600é"'
    assert quote_bytes("\u061dé".encode()) == b'"\\u061d\xc3\xa9"'


def test_hex_escape():
    assert hex_escape(b"") == b""
    assert hex_escape(b"\x00\\x\xff") == b"\\x00\\x5c\\x78\\xff"
    data = bytes(range(256))
    assert hex_escape(data) == "".join(f"\\x{b:02x}" for b in data).encode()
