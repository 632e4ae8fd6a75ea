"""etcd's request limits on a single member, enforced by etcd-py with etcd's codes and texts.

Real etcdctl 3.5.1 runs the same commands against real etcd 3.5.1 and etcd-py twins started with the same limit
flags (--max-request-bytes, --max-txn-ops, --quota-backend-bytes, or etcd's defaults) and must print the same bytes
and exit codes; what etcdctl cannot send (oversized or malformed messages on any method, stream messages, nested
txns, negative range limits) goes through a raw gRPC channel and must get the same status code and text.
"""

from __future__ import annotations

import json
from concurrent import futures

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import raft_internal_pb2 as ri
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from etcdctl_py.server import services
from etcdctl_py.server.core import EtcdCore, ServerConfig
from tests import etcdproc
from tests.server.servertools import Ctl, both

MAX_REQUEST = 100_000
GRPC_LIMIT = MAX_REQUEST + 512 * 1024  # etcd: grpc's receive limit is max-request-bytes + 512 KiB


def _twins(server_tmp, etcd_py_bin, token: str, extra: list[str]):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token=token, extra=extra)
    try:
        yield real, ours
    finally:
        real.stop()
        ours.stop()


@pytest.fixture(scope="module")
def small(server_tmp, etcd_py_bin):
    """--max-request-bytes 100000: proposals above it, and gRPC messages above it + 512 KiB, are refused (and
    txns may have more ops than the default 128, so that their size is what stops them)."""
    yield from _twins(
        server_tmp, etcd_py_bin, "lim-small", ["--max-request-bytes", str(MAX_REQUEST), "--max-txn-ops", "20000"]
    )


@pytest.fixture(scope="module")
def defaults(server_tmp, etcd_py_bin):
    yield from _twins(server_tmp, etcd_py_bin, "lim-defaults", [])


@pytest.fixture(scope="module")
def many_ops(server_tmp, etcd_py_bin):
    yield from _twins(server_tmp, etcd_py_bin, "lim-ops", ["--max-txn-ops", "20000"])


@pytest.fixture(scope="module")
def quota(server_tmp, etcd_py_bin):
    yield from _twins(server_tmp, etcd_py_bin, "lim-quota", ["--quota-backend-bytes", "300000"])


@pytest.fixture(scope="module")
def tiny_quota(server_tmp, etcd_py_bin):
    """A quota below a fresh db's size: every write (and every txn) is over it."""
    yield from _twins(server_tmp, etcd_py_bin, "lim-tiny", ["--quota-backend-bytes", "1000"])


def _txn_script(n: int, prefix: str = "k") -> str:
    """etcdctl txn's stdin: no compares, n puts on success, no failure ops."""
    return "\n" + "".join(f"put {prefix}{i} v\n" for i in range(n)) + "\n\n"


# ---- --max-request-bytes ----------------------------------------------------------------------------------------
def _ctl_json(endpoint: str, *args: str):
    rc, out, err = Ctl(endpoint)(*args, "-w", "json")
    assert rc == 0, err
    return json.loads(out)


def _member_id(endpoint: str) -> int:
    return _ctl_json(endpoint, "endpoint", "status")[0]["Status"]["header"]["member_id"]


def _put_value_len_at_limit(member_id: int, key: bytes, limit: int) -> int:
    """The value length whose put entry (InternalRaftRequest with etcd's request header) is exactly `limit` bytes.

    The header ID is the member's request-ID generator: its low 16 member-ID bits above 48 bits of time and count,
    so its encoded length is known from the member ID alone."""
    rid = ((member_id & 0xFFFF) << 48) | (1 << 47)

    def size(n: int) -> int:
        return ri.InternalRaftRequest(
            header=ri.RequestHeader(ID=rid), put=pb.PutRequest(key=key, value=b"x" * n)
        ).ByteSize()

    n = limit - 64
    while size(n + 1) <= limit:
        n += 1
    assert size(n) == limit
    return n


def test_put_at_the_request_limit(small):
    """A put whose log entry is exactly --max-request-bytes is accepted, one byte more is 'request is too large'."""
    n = _put_value_len_at_limit(_member_id(small[0].endpoint), b"edge", MAX_REQUEST)
    results = [both(small, "put", "edge", stdin="x" * m) for m in (n - 1, n, n + 1, n + 2)]
    assert [r[0] for r in results] == [0, 0, 1, 1]
    assert results[2][2].endswith("Error: etcdserver: request is too large\n")


def test_grpc_receive_limit(small):
    """A message above max-request-bytes + 512 KiB is refused by grpc (etcd's text, not grpcio's), one at the
    limit reaches etcd and is refused there."""
    at_limit = GRPC_LIMIT - len(pb.PutRequest(key=b"big", value=b"").SerializeToString()) - 4
    assert pb.PutRequest(key=b"big", value=b"x" * at_limit).ByteSize() == GRPC_LIMIT
    rc, _, err = both(small, "put", "big", stdin="x" * 700_000)
    assert rc == 1 and err.endswith(
        "Error: rpc error: code = ResourceExhausted desc = grpc: received message larger than max (700009 vs. 624288)\n"
    )
    rc, _, err = both(small, "put", "big", stdin="x" * (at_limit + 1))
    assert "(624289 vs. 624288)" in err
    rc, _, err = both(small, "put", "big", stdin="x" * at_limit)
    assert err.endswith("Error: etcdserver: request is too large\n")


def test_txn_and_auth_requests_over_the_limit(small):
    rc, _, err = both(small, "txn", stdin=_txn_script(10_000))  # 10,000 puts: ~150 KB
    assert err.endswith("Error: etcdserver: request is too large\n")
    rc, _, err = both(small, "txn", stdin=_txn_script(100))
    assert rc == 0, err
    name = "u" * MAX_REQUEST
    rc, _, err = both(small, "user", "add", name, "--new-user-password", "pw")
    assert err.endswith("Error: etcdserver: request is too large\n")
    rc, _, err = both(small, "role", "add", "r" * MAX_REQUEST)
    assert err.endswith("Error: etcdserver: request is too large\n")
    rc, _, err = both(small, "role", "add", "r" * 1000)
    assert rc == 0, err


def _pad(msg, n: int) -> bytes:
    """msg plus an unknown length-delimited field of n bytes: still a valid message of its type, n bytes bigger."""
    out, v = b"", n
    while True:
        b, v = v & 0x7F, v >> 7
        if v:
            out += bytes([b | 0x80])
        else:
            out += bytes([b])
            break
    return msg.SerializeToString() + b"\xfa\x7f" + out + b"z" * n


def _raw(endpoint: str, method: str, payloads: list[bytes], streaming: bool) -> list:
    """Send serialized requests on `method`; what comes back: response sizes then 'OK' or (code, details)."""

    def ident(b: bytes) -> bytes:
        return b

    out: list = []
    with grpc.insecure_channel(endpoint) as ch:
        try:
            if streaming:
                call = ch.stream_stream(method, request_serializer=ident, response_deserializer=ident)
                for resp in call(iter(payloads), timeout=10):
                    out.append(len(resp))
            else:
                call = ch.unary_unary(method, request_serializer=ident, response_deserializer=ident)
                out.append(len(call(payloads[0], timeout=10)))
            out.append("OK")
        except grpc.RpcError as e:
            out.append((e.code().name, e.details()))
    return out


def _same_raw(pair, method: str, payloads: list[bytes], streaming: bool = False) -> list:
    real, ours = (_raw(s.endpoint, method, payloads, streaming) for s in pair)
    assert ours == real, method
    return real


@pytest.mark.parametrize(
    "method,msg,streaming",
    [
        ("/etcdserverpb.Lease/LeaseGrant", pb.LeaseGrantRequest(TTL=5), False),
        ("/etcdserverpb.Lease/LeaseRevoke", pb.LeaseRevokeRequest(ID=1), False),
        ("/etcdserverpb.Auth/Authenticate", pb.AuthenticateRequest(name="u", password="p"), False),
        ("/etcdserverpb.KV/Range", pb.RangeRequest(key=b"k"), False),
        ("/etcdserverpb.Maintenance/Status", pb.StatusRequest(), False),
        ("/etcdserverpb.Lease/LeaseKeepAlive", pb.LeaseKeepAliveRequest(ID=1), True),
        ("/etcdserverpb.Watch/Watch", pb.WatchRequest(), True),
    ],
)
def test_oversized_message_on_every_kind_of_method(small, method, msg, streaming):
    over = _same_raw(small, method, [_pad(msg, 700_000)], streaming)
    text = f"grpc: received message larger than max ({len(_pad(msg, 700_000))} vs. {GRPC_LIMIT})"
    assert over[-1] == ("RESOURCE_EXHAUSTED", text)


def test_oversized_message_mid_stream(small):
    """A stream that already works ends with grpc's error when a later message is too large."""
    create = pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"a")).SerializeToString()
    # whether the `created` answer goes out before the stream fails is a race on either server: the end must match
    real, ours = (
        _raw(s.endpoint, "/etcdserverpb.Watch/Watch", [create, _pad(pb.WatchRequest(), 700_000)], True) for s in small
    )
    assert ours[-1] == real[-1] and ours[-1][0] == "RESOURCE_EXHAUSTED"
    assert all(isinstance(x, int) for x in ours[:-1] + real[:-1]) and len(ours) <= 2 and len(real) <= 2
    keep = pb.LeaseKeepAliveRequest(ID=1).SerializeToString()
    got = _same_raw(
        small, "/etcdserverpb.Lease/LeaseKeepAlive", [keep, _pad(pb.LeaseKeepAliveRequest(), 700_000)], True
    )
    assert len(got) == 2 and got[1][0] == "RESOURCE_EXHAUSTED"


def test_malformed_message(small):
    """A cut-short message gets grpc-go's unmarshal error (unary and stream receive paths word it apart)."""
    unary = _same_raw(small, "/etcdserverpb.KV/Range", [b"\x0a\xff\xff"])
    assert unary == [("INTERNAL", "grpc: error unmarshalling request: unexpected EOF")]
    stream = _same_raw(small, "/etcdserverpb.Watch/Watch", [b"\x0a\x05\x0a"], True)
    assert stream == [("INTERNAL", "grpc: failed to unmarshal the received message unexpected EOF")]


def test_default_request_limit(defaults):
    """etcd's default --max-request-bytes (1.5 MiB): a 1.6 MB put reaches etcd (under the 2 MiB grpc limit) and is
    refused there; etcdctl itself refuses to send more than 2 MiB."""
    rc, _, err = both(defaults, "put", "big", stdin="x" * 1_600_000)
    assert rc == 1 and err.endswith("Error: etcdserver: request is too large\n")
    rc, _, err = both(defaults, "put", "big", stdin="x" * 1_500_000)
    assert rc == 0, err


# ---- --max-txn-ops ------------------------------------------------------------------------------------------
def test_default_max_txn_ops(defaults):
    rc, out, err = both(defaults, "txn", stdin=_txn_script(128))
    assert rc == 0 and out.count("OK") == 128, err
    rc, _, err = both(defaults, "txn", stdin=_txn_script(129, "t"))
    assert err.endswith("Error: etcdserver: too many operations in txn request\n")
    rc, _, err = both(defaults, "txn", stdin="".join(f'value("c{i}") = "x"\n' for i in range(129)) + "\n\n\n")
    assert err.endswith("Error: etcdserver: too many operations in txn request\n")


def test_max_txn_ops_flag(many_ops):
    rc, out, err = both(many_ops, "txn", stdin=_txn_script(10_000))
    assert rc == 0 and out.count("OK") == 10_000, err
    rc, _, err = both(many_ops, "txn", stdin=_txn_script(20_001, "m"))
    assert err.endswith("Error: etcdserver: too many operations in txn request\n")


def test_nested_txn_ops_count_against_the_parent(defaults):
    """etcd checks a nested txn against max-txn-ops minus the parent's op count."""

    def nested(outer: int, inner: int) -> bytes:
        sub = pb.TxnRequest(success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"n%d" % i)) for i in range(inner)])
        ops = [pb.RequestOp(request_txn=sub)] + [
            pb.RequestOp(request_range=pb.RangeRequest(key=b"o%d" % i)) for i in range(outer - 1)
        ]
        return pb.TxnRequest(success=ops).SerializeToString()

    ok = _same_raw(defaults, "/etcdserverpb.KV/Txn", [nested(64, 64)])
    assert ok[-1] == "OK"
    refused = _same_raw(defaults, "/etcdserverpb.KV/Txn", [nested(64, 65)])
    assert refused == [("INVALID_ARGUMENT", "etcdserver: too many operations in txn request")]


# ---- keys, ranges, lease TTLs -----------------------------------------------------------------------------------
def test_empty_keys(defaults):
    for args, stdin in (
        (["put", "", "v"], None),
        (["get", ""], None),
        (["del", ""], None),
        (["txn"], 'value("") = "x"\n\nput a b\n\n\n'),
        (["txn"], '\nget ""\n\n\n'),
        (["txn"], '\n\ndel ""\n\n'),
    ):  # an empty compare key, success op key, failure op key
        rc, _, err = both(defaults, *args, stdin=stdin)
        assert rc == 1 and err.endswith("Error: etcdserver: key is not provided\n"), (args, stdin)


def test_range_limits(defaults):
    for i in range(5):
        both(defaults, "put", f"rl{i}", str(i))
    for extra in (
        ["--limit", "2"],
        ["--limit", "0"],
        ["--limit", "9"],
        ["--limit", "2", "--sort-by", "VALUE", "--order", "DESCEND"],
        ["--limit", "1", "--count-only"],
        ["--limit", "2", "--keys-only"],
    ):
        for fmt in ("simple", "json"):
            both(defaults, "get", "rl", "--prefix", "-w", fmt, *extra)
    for limit in (-1, 0, 2, 5, 6):  # etcdctl cannot send a negative limit
        for req in (
            pb.RangeRequest(key=b"rl", range_end=b"rm", limit=limit),
            pb.RangeRequest(key=b"rl", range_end=b"rm", limit=limit, sort_order=pb.RangeRequest.DESCEND),
            pb.RangeRequest(key=b"rl", range_end=b"rm", limit=limit, min_mod_revision=2),
        ):
            real, ours = (_range(s.endpoint, req) for s in defaults)
            assert ours == real, req


def _range(endpoint: str, req: pb.RangeRequest) -> bytes:
    with grpc.insecure_channel(endpoint) as ch:
        return pbg.KVStub(ch).Range(req, timeout=10).SerializeToString()


def test_lease_ttl_bounds(defaults):
    rc, _, err = both(defaults, "lease", "grant", "9000000001")
    assert rc == 1 and err.endswith("Error: failed to grant lease (etcdserver: too large lease TTL)\n")
    real, ours = (_ctl_json(s.endpoint, "lease", "grant", "9000000000") for s in defaults)
    assert real["TTL"] == ours["TTL"] == 9_000_000_000
    real, ours = (_ctl_json(s.endpoint, "lease", "grant", "0") for s in defaults)
    assert real["TTL"] == ours["TTL"]  # etcd's minimum TTL


# ---- --quota-backend-bytes ----------------------------------------------------------------------------------
def test_quota_exceeded_raises_the_alarm(quota):
    both(quota, "put", "a", "1")
    big = "q" * 290_000  # its cost (256 + key + value) alone takes the db past the quota
    rc, _, err = both(quota, "put", "", stdin=big)  # the quota is checked before the key
    assert err.endswith("Error: etcdserver: mvcc: database space exceeded\n")
    both(quota, "put", "b", stdin=big)
    both(quota, "txn", stdin=f"\n\nput t1 {'q' * 150_000}\nput t2 {'q' * 150_000}\n\n\n")
    rc, _, err = both(quota, "put", "c", "1")  # small enough, but the raised alarm refuses every write
    assert err.endswith("Error: etcdserver: mvcc: database space exceeded\n")
    both(quota, "lease", "grant", "100")
    rc, out, _ = both(quota, "alarm", "list")
    assert out.endswith("alarm:NOSPACE \n")
    both(quota, "txn", stdin="\n\nget a\n\n\n")  # a read-only txn still works
    both(quota, "get", "a")
    both(quota, "endpoint", "status", "-w", "json")  # raft index: every refusal proposed its own alarm entry
    both(quota, "alarm", "disarm")
    rc, _, err = both(quota, "put", "c", "2")
    assert rc == 0, err
    both(quota, "endpoint", "status", "-w", "json")


def test_quota_below_the_db_size(tiny_quota):
    """Every put, txn (read-only ones too: their cost is 0, the db is already over) and lease grant is refused,
    and each refusal proposes a NOSPACE alarm."""
    for args, stdin in (
        (["put", "a", "1"], None),
        (["txn"], "\n\nget a\n\n\n"),
        (["lease", "grant", "10"], None),
        (["put", "", "1"], None),
    ):
        rc, _, err = both(tiny_quota, *args, stdin=stdin)
        assert "database space exceeded" in err, args
    both(tiny_quota, "get", "a")
    rc, out, _ = both(tiny_quota, "endpoint", "status", "-w", "json")
    assert rc == 0 and "alarm:NOSPACE" in out


# ---- the send limit ------------------------------------------------------------------------------------------
def test_send_limit_text():
    """etcd's send limit is math.MaxInt32, beyond what a test can build; the interceptor that enforces it answers
    like grpc-go when a response is over its limit (here a small one, on a real grpcio server and socket)."""
    assert services.MAX_SEND_BYTES == 2**31 - 1
    core = EtcdCore(ServerConfig())
    core.put(pb.PutRequest(key=b"k", value=b"v" * 300))
    size = len(core.range(pb.RangeRequest(key=b"k")).SerializeToString())
    gs = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[services.MessageLimits(4096, 200)],
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    )
    pbg.add_KVServicer_to_server(services.KVService(core, services.Auth()), gs)
    port = gs.add_insecure_port("127.0.0.1:0")
    gs.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            kv = pbg.KVStub(ch)
            assert kv.Range(pb.RangeRequest(key=b"none"), timeout=10).count == 0
            with pytest.raises(grpc.RpcError) as e:
                kv.Range(pb.RangeRequest(key=b"k"), timeout=10)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert e.value.details() == f"grpc: trying to send message larger than max ({size} vs. 200)"
            put = pb.PutRequest(key=b"k", value=b"v" * 5000)
            with pytest.raises(grpc.RpcError) as e:
                kv.Put(put, timeout=10)
            assert e.value.details() == f"grpc: received message larger than max ({put.ByteSize()} vs. 4096)"
    finally:
        gs.stop(None).wait(5)
