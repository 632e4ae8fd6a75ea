"""Large prefix ranges through real etcdctl 3.5.1 and etcdctl-py on twin servers: identical bytes.

A few thousand keys and several MB of values (so `get` prints them in several batches, see
etcdctl_py/output/fastkv.py) with odd bytes in keys and values: invalid UTF-8, quotes, backslashes,
control characters, DEL, `<>&`, U+2028, emoji, empty values; some keys updated, some under a lease.
Both servers get the same writes in the same order, so revisions and IDs agree.
"""

from __future__ import annotations

import random

import pytest

from etcdctl_py.client import Client
from etcdctl_py.proto.etcdserverpb import rpc_pb2

ODD = [
    b"",
    b'"q"',
    b"\\",
    b"<>&",
    "\u2028\u2029".encode(),
    b"\xff\xfe",
    b"\x00\x01\x1f",
    b"\x7f",
    b"\t\n\r",
    "é€😀".encode(),
    b"\xed\xa0\x80",
    b"\xc3",
    b"\xe2\x82",
    "\u00ad\u0085".encode(),
    b"k8s\x00\x0a\x0f",
    b" sp ",
]
LEASE = 0x7E57  # asked for on both servers, so both print the same lease ID


def writes(rng: random.Random) -> list[list[rpc_pb2.RequestOp]]:
    """The txns that fill a server: /a/ regular kvs (every field set), /b/ irregular ones."""

    def put(key: bytes, value: bytes, lease: int = 0) -> rpc_pb2.RequestOp:
        return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, lease=lease))

    ops = []
    for i in range(2000):
        key = b"bulk/a/%05d" % i + ODD[i % len(ODD)]
        value = ODD[(i // 3) % len(ODD)] + rng.randbytes(rng.choice((1, 200, 1500))) + ODD[i % 7]
        ops.append(put(key, value))
    for i in range(1500):
        key = b"bulk/b/" + ODD[i % len(ODD)] + b"%05d" % i
        value = b"" if i % 5 == 0 else ODD[i % len(ODD)] * 3 + rng.randbytes(rng.choice((0, 50, 3000)))
        ops.append(put(key, value, LEASE if i % 4 == 0 else 0))
    for i in range(0, 1500, 7):  # second versions, some now empty
        ops.append(put(b"bulk/b/" + ODD[i % len(ODD)] + b"%05d" % i, b"" if i % 2 else b"v2 \xff"))
    return [ops[i : i + 100] for i in range(0, len(ops), 100)]


@pytest.fixture(scope="module")
def bulk(twin_pair):
    batches = writes(random.Random(17))
    for srv in (twin_pair.a, twin_pair.b):
        c = Client([srv.endpoint], command_timeout=30)
        try:
            c.lease.grant(3600, LEASE)
            for ops in batches:
                c.kv.txn(success=ops)
        finally:
            c.close()
    return twin_pair


FORMATS = ["simple", "json", "fields", "protobuf"]
RANGES = [
    ["get", "bulk/", "--prefix"],
    ["get", "bulk/a/", "--prefix"],
    ["get", "bulk/b/", "--prefix"],
    ["get", "bulk/", "--prefix", "--keys-only"],
    ["get", "bulk/", "--prefix", "--hex"],
    ["get", "bulk/", "--prefix", "--limit", "777"],
    ["get", "bulk/", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND"],
    ["get", "bulk/", "--prefix", "--sort-by", "MODIFY", "--keys-only", "--hex"],
    ["get", "bulk/", "--prefix", "--rev", "20"],
    ["get", "bulk/a/00100", "bulk/b/"],
    ["get", "bulk/", "--from-key", "--limit", "2500", "--order", "DESCEND"],
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", RANGES, ids=lambda a: " ".join(a[1:]))
def test_large_range_every_format(bulk, args, fmt):
    out = bulk.check([*args, "-w", fmt])
    assert len(out.stdout) > 1000  # a large range, not an error line


SIMPLE_ONLY = [
    ["get", "bulk/", "--prefix", "--print-value-only"],
    ["get", "bulk/", "--prefix", "--print-value-only", "--hex"],
    ["get", "bulk/b/", "--prefix", "--print-value-only", "--keys-only"],
    ["get", "bulk/", "--prefix", "--print-value-only", "--limit", "10", "--sort-by", "CREATE"],
]


@pytest.mark.parametrize("args", SIMPLE_ONLY, ids=lambda a: " ".join(a[1:]))
def test_large_range_value_only(bulk, args):
    bulk.check(args)


@pytest.mark.parametrize(
    "args",
    [
        ["get", "bulk/", "--prefix", "-w", "table"],
        ["get", "bulk/", "--prefix", "--print-value-only", "-w", "json"],
        ["get", "bulk/", "--prefix", "--count-only", "-w", "fields"],
        ["get", "bulk/", "--prefix", "--count-only", "-w", "json"],
    ],
    ids=lambda a: " ".join(a[1:]),
)
def test_large_range_refusals_and_counts(bulk, args):
    bulk.check(args)


def _reader_stops_early(argv: list[str]) -> tuple[int, bytes]:
    """`argv | head -c 100`: the reader takes 100 bytes and goes away; (exit status, stderr)."""
    import subprocess

    from tests import difftest

    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=difftest.child_env(argv)
    ) as p:
        assert p.stdout is not None and p.stderr is not None
        assert len(p.stdout.read(100)) == 100
        p.stdout.close()
        err = p.stderr.read()
        return p.wait(timeout=30), err


@pytest.mark.parametrize("fmt", ["simple", "json"])
def test_large_range_into_a_reader_that_stops_early(bulk, fmt):
    """Like etcdctl, which dies of SIGPIPE, a large `get` whose reader goes away ends at once, with no message."""
    from tests import difftest

    args = ["get", "bulk/", "--prefix", "-w", fmt]
    real = _reader_stops_early([bulk.etcdctl, "--endpoints", bulk.a.endpoint, *args])
    ours = _reader_stops_early([*difftest.ETCDCTL_PY, "--endpoints", bulk.b.endpoint, *args])
    assert ours == real
