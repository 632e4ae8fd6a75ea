"""make-mirror's initial copy across several 1000-key pages, through real etcdctl 3.5.1 and etcdctl-py: keys with
empty, long (multi-byte length) and 20 KiB values, bytes that are not UTF-8, the prefix twice in one key, and a
--dest-prefix rewrite. The copy reads only the key and value columns of each page (etcdctl_py/output/fastkv.py)
and sends one Put per key, each after the one before has completed: both destinations must come out identical,
revisions included, with one revision per key in key order, as etcdctl writes them."""

from __future__ import annotations

import os
import signal
import subprocess

from tests import difftest, etcdproc

N = 2345  # three pages
PREFIX, DEST = "pg/", "pq/"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}


def _items() -> list[tuple[bytes, bytes]]:
    items = []
    for i in range(N):
        key = b"pg/%05d" % i + (b"\xff\xfe" if i % 13 == 0 else b"") + (b"/pg/" if i % 17 == 0 else b"")
        if i % 7 == 0:
            value = b""
        elif i % 11 == 0:
            value = bytes(range(256)) + b"x" * (i % 200)
        else:
            value = b"v%d" % i
        items.append((key, value))
    items[1000] = (items[1000][0], os.urandom(20 * 1024))  # the first key of the second page
    return items


def _fill(endpoint: str, items: list[tuple[bytes, bytes]]) -> None:
    """Txns of 100 puts, then a few single puts and a delete: the same revisions on both twins."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    with Client([endpoint]) as c:
        for start in range(0, len(items), 100):
            ops = [
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=v)) for k, v in items[start : start + 100]
            ]
            c.kv.txn(success=ops)
        c.kv.put(items[5][0], b"changed")
        c.kv.delete(items[6][0])
        c.kv.put(b"outside", b"not mirrored")


def _dump(endpoint: str, prefix: bytes) -> list[tuple[bytes, bytes, int, int, int]]:
    from etcdctl_py.client import Client
    from etcdctl_py.client.kv import prefix_end

    with Client([endpoint]) as c:
        resp = c.kv.range(prefix, prefix_end(prefix))
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) for kv in resp.kvs]


def _count(endpoint: str, prefix: bytes) -> int:
    from etcdctl_py.client import Client
    from etcdctl_py.client.kv import prefix_end

    with Client([endpoint]) as c:
        return c.kv.range(prefix, prefix_end(prefix), count_only=True).count


def test_copy_of_three_pages_matches_etcdctl(quad):
    pair, x, y = quad
    items = _items()
    for srv in (pair.a, pair.b):
        _fill(srv.endpoint, items)
    expect = N - 1  # one key deleted
    sides = [([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y)]
    procs: list[subprocess.Popen] = []
    try:
        for argv, src, dst in sides:
            procs.append(
                subprocess.Popen(
                    [*argv, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--prefix", PREFIX]
                    + ["--dest-prefix", DEST],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    env=_env(),
                )
            )
        for dst in (x, y):
            etcdproc.wait_until(
                lambda dst=dst: _count(dst.endpoint, DEST.encode()) == expect, 60, f"the copy on {dst.endpoint}"
            )
    finally:
        results = []
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            results.append(difftest.Result(out, err, p.returncode))
    real, ours = results
    assert (ours.rc, ours.stdout, ours.stderr) == (real.rc, real.stdout, real.stderr) == (-signal.SIGINT, b"", b"")
    got_x, got_y = _dump(x.endpoint, DEST.encode()), _dump(y.endpoint, DEST.encode())
    assert got_x == got_y
    assert len(got_y) == expect
    # the prefix is replaced once, at its first occurrence; values arrive whole, the empty ones included
    src = {k.replace(b"pg/", b"pq/", 1): v for k, v, *_ in _dump(pair.b.endpoint, PREFIX.encode())}
    assert {k: v for k, v, *_ in got_y} == src
    assert any(k.endswith(b"/pg/") for k in src) and any(v == b"" for v in src.values())
    # one Put per key, in key order: consecutive revisions
    mods = [mod for _, _, _, mod, _ in got_y]
    assert mods == list(range(mods[0], mods[0] + expect))
