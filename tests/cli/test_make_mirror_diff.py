"""make-mirror through real etcdctl 3.5.1 and etcdctl-py: real etcdctl mirrors source twin A into destination twin
X, etcdctl-py mirrors source twin B into destination twin Y. The destinations must end up byte-identical (keys,
values and revisions, in every output format), and stdout (the 30 s count), stderr and exit codes must match.
Then our additions: --until-synced, --checkpoint (resume, compaction fallback, mismatch), --max-txn-ops."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from tests import difftest, etcdproc
from tests.cli.opsdiff import check_masked, help_without, put_both
from tests.cli.verbdiff import Proc

EXTRA = ("max-txn-ops", "until-synced", "checkpoint")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env())


def _count(endpoint: str, prefix: str) -> int:
    r = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", endpoint, "get", prefix, "--prefix", "--count-only", "-w", "fields"]
    )
    return int(r.stdout.split(b'"Count" : ')[1].split(b"\n")[0])


def _wait_count(endpoint: str, prefix: str, n: int, timeout: float = 20.0) -> None:
    etcdproc.wait_until(
        lambda: _count(endpoint, prefix) == n, timeout, f"{n} keys under {prefix!r} on {endpoint}", step=0.1
    )


def _value(endpoint: str, key: str) -> bytes:
    """The value of one key as real etcdctl prints it (`--print-value-only`; b"" when absent)."""
    return difftest.run(
        [etcdproc.distro_bin("etcdctl"), "--endpoints", endpoint, "get", key, "--print-value-only"]
    ).stdout


def _stop(p: subprocess.Popen) -> difftest.Result:
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=15)
    return difftest.Result(out, err, p.returncode)


def _same_dest(x, y, prefix: str) -> None:
    for fmt in ("json", "simple", "fields"):
        a = difftest.run(
            [etcdproc.distro_bin("etcdctl"), "--endpoints", x.endpoint, "get", prefix, "--prefix", "-w", fmt]
        )
        b = difftest.run(
            [etcdproc.distro_bin("etcdctl"), "--endpoints", y.endpoint, "get", prefix, "--prefix", "-w", fmt]
        )
        assert a.stdout == b.stdout and a.rc == 0, (fmt, a, b)


def mirror_both(
    quad,
    args: list[str],
    dest_prefix: str,
    expect: int,
    writes: list[list[str]] = (),
    expect_after: int | None = None,
    min_seconds: float = 0.0,
    landed: Callable[[str], bool] | None = None,
) -> tuple[difftest.Result, difftest.Result]:
    """Mirror on both sides; `expect_after` (a key count) or `landed` (a check of one destination endpoint) tells
    when the `writes` have reached both destinations (writes are mirrored in order: the last one suffices)."""
    pair, x, y = quad
    t0 = time.monotonic()
    real = _start([pair.etcdctl, "--endpoints", pair.a.endpoint, "make-mirror", x.endpoint, *args])
    ours = _start([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "make-mirror", y.endpoint, *args])
    try:
        _wait_count(x.endpoint, dest_prefix, expect)
        _wait_count(y.endpoint, dest_prefix, expect)
        for w in writes:
            pair.check(w)
        if expect_after is not None:
            _wait_count(x.endpoint, dest_prefix, expect_after)
            _wait_count(y.endpoint, dest_prefix, expect_after)
        if landed is not None:
            for dest in (x, y):
                etcdproc.wait_until(
                    functools.partial(landed, dest.endpoint), 20, f"the last write on {dest.endpoint}", step=0.1
                )
        time.sleep(max(0.0, min_seconds - (time.monotonic() - t0)))  # deliberate: a run at least this long
    finally:
        r, m = _stop(real), _stop(ours)
    assert m.rc == r.rc == -signal.SIGINT, (r, m)  # killed by SIGINT (130 in a shell)
    assert m.stdout == r.stdout, (r, m)
    assert m.stderr == r.stderr == b"", (r, m)
    _same_dest(x, y, dest_prefix)
    return r, m


ERRORS = [
    ["make-mirror"],
    ["make-mirror", "a", "b"],
    ["make-mirror", "--help"],
    ["make-mirror", "--nosuch", "x"],
    ["make-mirror", "x", "--no-dest-prefix=maybe"],
    ["make-mirror", "127.0.0.1:1", "--dest-cacert", "/nonexistent.pem"],
    ["make-mirror", "127.0.0.1:1", "--dest-cert", "/nonexistent.pem", "--dest-key", "/nonexistent.pem"],
]


@pytest.mark.parametrize("args", ERRORS, ids=" ".join)
def test_make_mirror_errors(quad, args):
    check_masked(quad[0], args, extra_flags=EXTRA)


def test_dest_prefix_conflict(quad):
    pair, x, _ = quad
    check_masked(
        pair,
        ["make-mirror", x.endpoint, "--dest-prefix", "x", "--no-dest-prefix", "--prefix", "mm/"],
        extra_flags=EXTRA,
    )


def test_help(quad):
    real, mine = quad[0].run(["make-mirror", "--help"])
    help_without(real.stdout, mine.stdout, list(EXTRA))


def test_mirror_everything_then_updates_with_30s_count(quad):
    """Full copy of the keyspace, then puts, deletes, a multi-op txn and a range delete through the watch; after
    30 s both print the same running count."""
    pair = quad[0]
    put_both(pair, [(f"all/{i:02d}", f"value {i}") for i in range(25)])
    base = _count(pair.b.endpoint, "")
    txn = b"\nput all/t1 one\nput all/t2 two\ndel all/0\n\n\n"
    writes = [["put", "all/new", "n"], ["del", "all/01"], ["put", "all/02", "changed"], ["del", "all/1", "--prefix"]]
    r, m = mirror_both(quad, [], "", base, writes=writes, expect_after=base + 1 - 1 - 10, min_seconds=0)
    del r, m
    # the txn path (several ops in one revision) and the count line, in a run longer than 30 s
    pair.check(["del", "", "--from-key"])
    put_both(pair, [(f"long/{i}", "x") for i in range(5)])

    def txn_write() -> None:
        pair.check(["txn"], stdin=txn.replace(b"all/", b"long/"))

    pair_writes = [["put", "long/a", "1"]]
    real = Proc([pair.etcdctl, "--endpoints", pair.a.endpoint, "make-mirror", quad[1].endpoint, "--prefix", "long/"])
    ours = Proc(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "make-mirror", quad[2].endpoint, "--prefix", "long/"]
    )
    try:
        _wait_count(quad[1].endpoint, "long/", 5)
        _wait_count(quad[2].endpoint, "long/", 5)
        for w in pair_writes:
            pair.check(w)
        txn_write()
        _wait_count(quad[1].endpoint, "long/", 7)
        _wait_count(quad[2].endpoint, "long/", 7)
        # make-mirror prints its running count 30 s after it started
        etcdproc.wait_until(
            lambda: real.out.endswith(b"\n") and ours.out.endswith(b"\n"), 45, "the 30 s count line of both", step=0.2
        )
    finally:
        r, m = real.finish(), ours.finish()
    assert r.stdout == b"9\n" and m.stdout == r.stdout, (r, m)
    assert m.rc == r.rc == -signal.SIGINT and m.stderr == r.stderr == b""
    _same_dest(quad[1], quad[2], "long/")


@pytest.mark.parametrize(
    "args,src,dst",
    [
        (["--prefix", "p1/"], "p1/", "p1/"),
        (["--prefix", "p2/", "--dest-prefix", "q2/"], "p2/", "q2/"),
        (["--prefix", "p3/", "--no-dest-prefix"], "p3/", ""),
        (["--prefix", "p4"], "p4", "p4"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_prefix_rewrites(quad, args, src, dst):
    pair = quad[0]
    for k in ("a", "b/c", "dp4x"):  # "dp4x": the rewrite replaces the first occurrence anywhere in the key
        pair.check(["put", f"{src}{k}", f"v-{src}{k}"])
    writes = [["put", f"{src}late", "L"], ["del", f"{src}a"]]
    if dst == "":
        dest_count_prefix = "late"
        before, after = 0, 1
    else:
        dest_count_prefix = dst
        before = _count(quad[0].b.endpoint, src)
        after = before  # +late -a
    mirror_both(
        quad,
        args,
        dest_count_prefix,
        before,
        writes=writes,
        expect_after=after,
        landed=lambda ep: _value(ep, f"{dst}late") == b"L\n" and _value(ep, f"{dst}a") == b"",
    )
    if dst == "":
        _same_dest(quad[1], quad[2], "b/c")


# ------------------------------------------------------------------ ours: --until-synced, --checkpoint, --max-txn-ops


def _ours(src: str, dst: str, *args: str, timeout: float = 60) -> difftest.Result:
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", src, "make-mirror", dst, *args], timeout=timeout)


@pytest.fixture()
def fresh(tmp_path, etcd_bin):
    """A private source and destination (real etcd), for tests that compact or check revisions."""
    src = etcdproc.make_server(etcd_bin, str(tmp_path), name="src").start()
    dst = etcdproc.make_server(etcd_bin, str(tmp_path), name="dst").start()
    from etcdctl_py.client import Client

    c = Client([src.endpoint])
    yield src, dst, c
    c.close()
    src.stop()
    dst.stop()


def test_until_synced(fresh):
    src, dst, c = fresh
    for i in range(30):
        c.kv.put(f"u/{i}".encode(), b"v")
    c.kv.put(b"other", b"x")
    r = _ours(src.endpoint, dst.endpoint, "--prefix", "u/", "--until-synced")
    rev = c.kv.range(b"u/0").header.revision
    assert (r.rc, r.stderr) == (0, b""), r
    assert r.stdout == f"in sync at source revision {rev}: 30 operations mirrored\n".encode()
    assert _count(dst.endpoint, "u/") == 30 and _count(dst.endpoint, "other") == 0


def test_max_txn_ops_splits_a_revision(fresh):
    """A 5-op source txn becomes destination txns of at most 2 ops: 3 destination revisions instead of 1."""
    src, dst, c = fresh
    c.kv.put(b"t/seed", b"s")
    p = _start([*difftest.ETCDCTL_PY, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--max-txn-ops", "2"])
    try:
        _wait_count(dst.endpoint, "t/", 1)
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        ops = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=f"t/{i}".encode(), value=b"x")) for i in range(5)]
        c.kv.txn(success=ops)
        _wait_count(dst.endpoint, "t/", 6)
    finally:
        res = _stop(p)
    assert res.rc == -signal.SIGINT
    from etcdctl_py.client import Client

    with Client([dst.endpoint]) as d:
        mods = sorted({kv.mod_revision for kv in d.kv.range(b"t/", b"t0").kvs if kv.key != b"t/seed"})
    assert len(mods) == 3 and mods == list(range(mods[0], mods[0] + 3))
    bad = _ours(src.endpoint, dst.endpoint, "--max-txn-ops", "0")
    assert (bad.rc, bad.stderr) == (128, b"Error: --max-txn-ops must be at least 1\n")


def test_checkpoint_resume_and_compaction_fallback(fresh, tmp_path):
    src, dst, c = fresh
    ck = str(tmp_path / "mirror.ckpt")
    for i in range(10):
        c.kv.put(f"c/{i}".encode(), b"v1")
    r = _ours(src.endpoint, dst.endpoint, "--checkpoint", ck, "--until-synced")
    assert r.rc == 0, r
    saved = json.loads(open(ck).read())
    assert saved["revision"] == c.kv.range(b"c/0").header.revision and saved["prefix"] == ""
    # while the mirror is down: one update and one delete, which a plain restart (full copy) would miss
    c.kv.put(b"c/1", b"v2")
    c.kv.delete(b"c/2")
    r = _ours(src.endpoint, dst.endpoint, "--checkpoint", ck, "--until-synced")
    assert r.rc == 0, r
    assert r.stdout.endswith(b": 2 operations mirrored\n"), r  # resumed: only the two events, no full copy
    assert _count(dst.endpoint, "c/") == 9
    with_value = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", dst.endpoint, "get", "c/1", "--print-value-only"])
    assert with_value.stdout == b"v2\n"
    assert json.loads(open(ck).read())["revision"] == c.kv.range(b"c/0").header.revision
    # the checkpoint's revision is compacted away: full sync instead, and a clear note on stderr
    c.kv.put(b"c/3", b"v3")
    c.kv.put(b"c/4", b"v4")
    cur = c.kv.range(b"c/0").header.revision
    c.kv.compact(cur)
    r = _ours(src.endpoint, dst.endpoint, "--checkpoint", ck, "--until-synced")
    assert r.rc == 0, r
    assert (
        r.stderr
        == (
            f"checkpoint revision {cur - 2} was compacted on the source (compacted revision {cur}); "
            "falling back to a full sync\n"
        ).encode()
    )
    assert r.stdout == f"in sync at source revision {cur}: 9 operations mirrored\n".encode()
    assert json.loads(open(ck).read())["revision"] == cur
    # a checkpoint of another mirror (different prefix) is refused, not silently reused
    r = _ours(src.endpoint, dst.endpoint, "--checkpoint", ck, "--prefix", "c/", "--until-synced")
    assert r.rc == 1 and r.stderr.startswith(f"Error: checkpoint {ck} belongs to another mirror".encode()), r
    (tmp_path / "junk").write_text("not json")
    r = _ours(src.endpoint, dst.endpoint, "--checkpoint", str(tmp_path / "junk"), "--until-synced")
    assert r.rc == 1 and r.stderr.startswith(b"Error: cannot read checkpoint "), r


def test_checkpoint_saved_on_sigterm(fresh, tmp_path):
    src, dst, c = fresh
    ck = str(tmp_path / "ck")
    c.kv.put(b"s/0", b"x")
    p = _start([*difftest.ETCDCTL_PY, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--checkpoint", ck])
    try:
        _wait_count(dst.endpoint, "s/", 1)
        c.kv.put(b"s/1", b"x")
        last = c.kv.put(b"s/2", b"x").header.revision
        _wait_count(dst.endpoint, "s/", 3)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=15)
    assert p.returncode == -signal.SIGTERM
    assert json.loads(open(ck).read())["revision"] == last
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_progress_bar_on_tty(fresh, tmp_path):
    import pty

    src, dst, c = fresh
    for i in range(100):
        c.kv.put(f"b/{i}".encode(), b"v")
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [*difftest.ETCDCTL_PY, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--until-synced"],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=_env(),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = p.communicate(timeout=30)
    os.close(master)
    tty = b"".join(chunks)
    assert p.returncode == 0 and out.endswith(b": 100 operations mirrored\n")
    assert b"initial sync" in tty and b"100/100" in tty, tty
