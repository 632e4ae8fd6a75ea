"""snapshot save reads SnapshotResponse straight from the wire (client.maintenance.parse_snapshot_response) instead
of building a protobuf message per 32 KiB chunk. The hand parser must agree with the generated protobuf parser on
every input (same fields, or both reject), and a save through it must give real etcdctl 3.5.1's bytes."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdctl_py.client import Client
from etcdctl_py.client.maintenance import open_snapshot
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.snapshot_wire import WireError, parse_snapshot_response
from tests import difftest, etcdproc

# -- a protobuf encoder for the test inputs (independent of both parsers) -------------------------------------


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


# SNAPSHOT_WIRE_EXAMPLES=20000 for a longer soak; the default keeps the file at a few seconds
EXAMPLES = int(os.environ.get("SNAPSHOT_WIRE_EXAMPLES", "400"))
U64 = st.integers(min_value=0, max_value=2**64 - 1)
FIELD = st.integers(min_value=4, max_value=2**29 - 1)


def _unknown(depth: int = 0) -> st.SearchStrategy[bytes]:
    """One field of any wire type under a number SnapshotResponse does not declare (or a declared number with the
    wrong wire type, which protobuf keeps as an unknown field too)."""
    number = st.one_of(st.integers(min_value=4, max_value=40), FIELD)
    wrong = st.sampled_from([(1, 0), (1, 1), (1, 5), (2, 1), (2, 2), (2, 5), (3, 0), (3, 1), (3, 5)])
    plain = st.one_of(
        st.tuples(number, st.just(0), U64).map(lambda t: _tag(t[0], 0) + _varint(t[2])),
        st.tuples(number, st.binary(min_size=8, max_size=8)).map(lambda t: _tag(t[0], 1) + t[1]),
        st.tuples(number, st.binary(min_size=4, max_size=4)).map(lambda t: _tag(t[0], 5) + t[1]),
        st.tuples(number, st.binary(max_size=40)).map(lambda t: _tag(t[0], 2) + _varint(len(t[1])) + t[1]),
        wrong.flatmap(
            lambda fw: (
                U64.map(_varint)
                if fw[1] == 0
                else st.binary(min_size=8, max_size=8)
                if fw[1] == 1
                else st.binary(min_size=4, max_size=4)
                if fw[1] == 5
                else st.binary(max_size=20).map(lambda b: _varint(len(b)) + b)
            ).map(lambda body, fw=fw: _tag(*fw) + body)
        ),
    )
    if depth >= 2:
        return plain
    group = st.tuples(number, st.lists(_unknown(depth + 1), max_size=3)).map(
        lambda t: _tag(t[0], 3) + b"".join(t[1]) + _tag(t[0], 4)
    )
    return st.one_of(plain, group)


def _header() -> st.SearchStrategy[bytes]:
    """A ResponseHeader (cluster_id, member_id, revision, raft_term) as field 1."""
    fields = st.lists(
        st.one_of(st.tuples(st.integers(1, 4), U64).map(lambda t: _tag(t[0], 0) + _varint(t[1])), _unknown(1)),
        max_size=5,
    )
    return fields.map(lambda fs: b"".join(fs)).map(lambda body: _tag(1, 2) + _varint(len(body)) + body)


FIELDS = st.one_of(
    U64.map(lambda v: _tag(2, 0) + _varint(v)),
    st.binary(max_size=300).map(lambda b: _tag(3, 2) + _varint(len(b)) + b),
    _header(),
    _unknown(),
)
MESSAGES = st.lists(FIELDS, max_size=8).map(b"".join)


def _pb(data: bytes) -> tuple[bytes, int] | None:
    try:
        m = rpc_pb2.SnapshotResponse.FromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError
        return None
    return m.blob, m.remaining_bytes


def _raw(data: bytes) -> tuple[bytes, int] | None:
    try:
        c = parse_snapshot_response(data)
    except WireError:
        return None
    return bytes(c.blob), c.remaining_bytes


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES)
def test_valid_encodings_parse_like_protobuf(data):
    expected = _pb(data)
    assert expected is not None  # the strategy only builds valid messages
    assert _raw(data) == expected


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, st.data())
def test_damaged_encodings_are_rejected_like_protobuf(data, draw):
    """Truncated, cut and bit-flipped encodings: accepted with the same fields, or rejected by both."""
    if data:
        how = draw.draw(st.sampled_from(["cut", "flip", "splice"]))
        i = draw.draw(st.integers(0, len(data) - 1))
        if how == "cut":
            data = data[:i]
        elif how == "flip":
            data = data[:i] + bytes([data[i] ^ (1 << draw.draw(st.integers(0, 7)))]) + data[i + 1 :]
        else:
            data = data[:i] + draw.draw(st.binary(max_size=6)) + data[i:]
    assert _raw(data) == _pb(data)


@settings(max_examples=EXAMPLES * 4, deadline=None, database=None)
@given(st.binary(max_size=24))
def test_arbitrary_bytes_like_protobuf(data):
    assert _raw(data) == _pb(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x10" + b"\xff" * 9 + b"\x01",  # remaining_bytes = 2**64 - 1 in the full 10 bytes
        b"\x10" + b"\x80" * 10 + b"\x00",  # an 11-byte varint
        b"\x1a\x05abc",  # blob longer than the message
        b"\x0b\x10\x01\x0c",  # a group under the header's field number (wrong wire type: unknown)
        b"\x0b\x10\x01\x14",  # a group closed by the wrong end tag
        b"\x0a\x01\x00",  # a header whose content is not a message
        b"\x0a\x02\x08\x80",  # a header with a truncated varint
        b"\x0a\x03\x0b\x0c\x00",  # a header whose length splits a field
        b"\x0c",  # an end-group tag with no group
        b"#\x00\x00$",  # field number 0 inside a group (protobuf lets it pass there)
        b"#\x00$",  # ... and then the group is not closed
        b"\n\x04\x0b\x00\x00\x0c",  # the same inside the header
        b"#\x80\x80\x80\x80\x10\x00$",  # a tag beyond 32 bits inside a group
        b"\x00\x01",  # field number 0
        b"\x80\x80\x80\x80\x10\x00",  # a tag beyond 32 bits
        b"\x88\x80\x80\x80\x00\x00",  # a 5-byte tag that fits 32 bits (field 1, varint: unknown)
        b"\x88\x80\x80\x80\x80\x00\x00",  # a 6-byte tag
        b"\x1e",  # wire type 6
    ],
)
def test_edge_cases_like_protobuf(data):
    assert _raw(data) == _pb(data)


def test_blob_is_a_view_not_a_copy():
    data = _tag(3, 2) + _varint(40000) + os.urandom(40000) + _tag(2, 0) + _varint(7)
    chunk = parse_snapshot_response(data)
    assert isinstance(chunk.blob, memoryview) and chunk.blob.obj is data
    assert (bytes(chunk.blob), chunk.remaining_bytes) == (data[4:40004], 7)


# -- against a real etcd 3.5.1 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def member(tmp_path_factory, etcd_bin):
    """One real etcd with about 3 MB of keys: some hundred 32 KiB chunks."""
    with etcdproc.scratch_dir(tmp_path_factory, "wire") as scratch:
        srv = etcdproc.make_server(etcd_bin, str(scratch), name="wire")
        srv.start()
        value = os.urandom(500).hex().encode()
        with Client([srv.endpoint]) as c:
            for start in range(0, 3000, 100):
                c.kv.txn(
                    success=[
                        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k%06d" % i, value=value))
                        for i in range(start, start + 100)
                    ]
                )
        yield srv
        srv.stop()


def test_raw_stream_equals_protobuf_stream(member):
    """Chunk by chunk, the raw parse of what etcd sends equals the generated protobuf message."""
    with Client([member.endpoint]) as c:
        raw = [(bytes(x.blob), x.remaining_bytes) for x in open_snapshot(c, timeout=30, raw=True)]
        pb = [(x.blob, x.remaining_bytes) for x in c.maintenance.snapshot(timeout=30)]
    assert len(raw) > 50
    assert raw == pb
    assert raw[-1][1] == 0 and all(len(b) == 32 * 1024 for b, _ in raw[:-2])


def test_save_byte_identical_to_etcdctl(member, tmp_path):
    """The same member, no write in between: etcdctl-py's file is real etcdctl's, byte for byte."""
    real = difftest.run(
        [etcdproc.distro_bin("etcdctl"), "--endpoints", member.endpoint, "snapshot", "save", str(tmp_path / "real.db")]
    )
    mine = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", member.endpoint, "snapshot", "save", str(tmp_path / "ours.db")]
    )
    assert real.rc == mine.rc == 0, mine
    ours = (tmp_path / "ours.db").read_bytes()
    assert len(ours) > 3_000_000 and len(ours) % 512 == 32
    assert ours == (tmp_path / "real.db").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["ours.db", "real.db"]
