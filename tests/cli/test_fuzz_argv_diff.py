"""Generated argument lists (tests/cli/argvgen.py) through real etcdctl 3.5.1 and etcdctl-py, on twin servers.

Exit code, stdout and the `Error:` lines must match unless docs/compatibility.md allows the difference
(tests/cli/fuzz_allowed.py). The seed is FUZZ_ARGV_SEED (default 12) and is printed, so a failing run can be
repeated; the case count is FUZZ_ARGV_CASES (default 520 against etcd 3.5.1, a third of it against Debian's
etcd 3.4.23). Each worker thread owns a twin pair and runs its cases in order, the two tools side by side, so
the twins see the same writes in the same order and their revisions stay equal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import difftest, etcdproc
from tests.cli import argvgen, fuzz_allowed

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("FUZZ_ARGV_SEED", "12"))
CASES = int(os.environ.get("FUZZ_ARGV_CASES", "520"))
WORKERS = 2
CASE_TIMEOUT = 20.0

_DUR = re.compile(rb"([0-9]+(\.[0-9]+)?(ns|\xc2\xb5s|ms|s|m|h))+")
_BIG = re.compile(rb"\b[0-9]{12,20}\b")  # lease IDs in decimal (random per server)
_HEX16 = re.compile(rb"\b[0-9a-f]{16}\b")  # lease IDs in %016x
_NUMS = re.compile(rb"[0-9]+")


def _pairs(binary: str, base: str, n: int) -> list[difftest.Pair]:
    pairs = []
    try:
        for i in range(n):
            a, b = etcdproc.twins(binary, binary, os.path.join(base, f"p{i}"), token=f"fuzz-{i}")
            pairs.append(difftest.Pair(a, b))
    except BaseException:
        _stop(pairs)
        raise
    return pairs


def _stop(pairs: list[difftest.Pair]) -> None:
    for p in pairs:
        p.a.stop()
        p.b.stop()


@pytest.fixture(scope="module", params=["3.5.1", "3.4.23"])
def fuzz_pairs(request, tmp_path_factory, etcd_bin):
    """WORKERS twin pairs of one server version: real etcdctl 3.5.1 on A, etcdctl-py on B (identical IDs)."""
    binary = etcd_bin if request.param == "3.5.1" else etcdproc.debian_etcd34()
    assert binary, "Debian's etcd 3.4 (/usr/bin/etcd) is needed for the 3.4.23 twins"
    base = str(tmp_path_factory.mktemp(f"fuzz-{request.param}"))
    for i in range(WORKERS):
        os.makedirs(os.path.join(base, f"p{i}"))
    pairs = _pairs(binary, base, WORKERS)
    yield request.param, pairs
    _stop(pairs)
    shutil.rmtree(base, ignore_errors=True)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ETCDCTL_", "FUZZ_"))}


def _run_both(pair: difftest.Pair, case: argvgen.Case) -> tuple[difftest.Result, difftest.Result]:
    """Both tools at once (each on its own twin); a process still running after CASE_TIMEOUT is killed by pid."""
    argv_real = [pair.etcdctl, *case.render(pair.a.endpoint, pair.a.client_port)]
    argv_ours = [*difftest.ETCDCTL_PY, *case.render(pair.b.endpoint, pair.b.client_port)]
    procs = [
        subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT
        )
        for argv in (argv_real, argv_ours)
    ]
    deadline = time.monotonic() + CASE_TIMEOUT
    results = []
    for p in procs:
        try:
            out, err = p.communicate(case.stdin, timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            err += b"\n<still running after %ds>" % CASE_TIMEOUT
        results.append(difftest.Result(out, err, p.returncode))
    return results[0], results[1]


def mask(data: bytes, ports: tuple[int, ...]) -> bytes:
    """What legitimately differs between the twins: client ports, lease IDs, durations."""
    for p in ports:
        data = data.replace(str(p).encode(), b"PORT")
    data = _BIG.sub(b"NUM", data)
    data = _HEX16.sub(b"HEX", data)
    return _DUR.sub(b"DUR", data)


def error_lines(stderr: bytes, debug: bool) -> list[bytes]:
    """The stderr lines that are etcdctl's own words: not the zap JSON log lines (timestamps, Go's transport
    texts) and, with --debug, only the `Error:` lines (Go's grpc logger speaks then)."""
    lines = [ln for ln in stderr.split(b"\n") if not ln.startswith(b"{")]
    if debug:
        lines = [ln for ln in lines if ln.startswith(b"Error:")]
    return lines


def _status_case(argv: list[str]) -> bool:
    """`endpoint status`: its raft index and db size follow the servers' own timing (leases expire, bbolt grows)."""
    return "status" in argv and any(len(a) >= 2 and "endpoint".startswith(a) for a in argv)


def differences(case: argvgen.Case, pair: difftest.Pair, real: difftest.Result, mine: difftest.Result) -> list[str]:
    ports = (pair.a.client_port, pair.b.client_port)
    out = []
    if mine.rc != real.rc:
        out.append(f"exit code: real {real.rc}, ours {mine.rc}")
    stdout = (
        (lambda r: _NUMS.sub(b"N", mask(r.stdout, ports)))
        if _status_case(case.argv)
        else (lambda r: mask(r.stdout, ports))
    )
    if stdout(mine) != stdout(real):
        out.append(f"stdout:\n  real {real.stdout[:600]!r}\n  ours {mine.stdout[:600]!r}")
    debug = any(a.startswith("--debug") for a in case.argv)
    re_, me = (error_lines(mask(r.stderr, ports), debug) for r in (real, mine))
    if me != re_:
        out.append(f"stderr:\n  real {real.stderr[-600:]!r}\n  ours {mine.stderr[-600:]!r}")
    return out


def run_cases(pairs: list[difftest.Pair], cases: list[argvgen.Case]) -> tuple[list[str], list[str]]:
    """Run every case; returns (unexplained differences, differences allowed by a documented rule)."""

    def worker(i: int) -> tuple[list[str], list[str]]:
        bad, ok = [], []
        pair = pairs[i]
        for case in cases[i :: len(pairs)]:
            real, mine = _run_both(pair, case)
            diffs = differences(case, pair, real, mine)
            if not diffs:
                continue
            text = f"case {case.index} {case.argv!r} stdin={case.stdin!r}\n" + "\n".join(diffs)
            rule = fuzz_allowed.allowed(case.argv, case.stdin)
            (ok if rule else bad).append(text)
        return bad, ok

    with ThreadPoolExecutor(len(pairs)) as ex:
        results = list(ex.map(worker, range(len(pairs))))
    return [t for b, _ in results for t in b], [t for _, o in results for t in o]


def test_generated_argv_match_etcdctl(fuzz_pairs):
    version, pairs = fuzz_pairs
    n = CASES if version == "3.5.1" else max(CASES // 3, 1)
    seed = SEED if version == "3.5.1" else SEED + 1
    print(f"\nfuzz: seed {seed} ({n} cases) against etcd {version} twins (FUZZ_ARGV_SEED={SEED})", file=sys.stderr)
    cases = argvgen.ArgvGen(seed).cases(n)
    bad, allowed = run_cases(pairs, cases)
    print(f"fuzz: {len(allowed)} documented differences, {len(bad)} others", file=sys.stderr)
    assert not bad, f"seed {seed}, etcd {version}: {len(bad)} of {n} cases differ\n\n" + "\n\n".join(bad[:15])


def test_allowed_rules_are_documented():
    """Every rule that excuses a difference stands for a row of docs/compatibility.md's named section."""
    doc = (ROOT / "docs" / "compatibility.md").read_text()
    sections = {}
    for part in doc.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = body
    for rule in fuzz_allowed.RULES:
        assert rule.section in sections, rule.section
        assert rule.row in sections[rule.section], rule.row


def test_generator_is_seeded_and_never_names_a_host():
    """Same seed, same cases; no endpoint would make either tool look a name up."""
    a = [(c.argv, c.stdin) for c in argvgen.ArgvGen(5).cases(300)]
    b = [(c.argv, c.stdin) for c in argvgen.ArgvGen(5).cases(300)]
    assert a == b
    verbs = {
        c.argv[c.argv.index(v)]
        for c in argvgen.ArgvGen(5).cases(300)
        for v in c.argv
        if v
        in (
            "get",
            "put",
            "del",
            "txn",
            "compaction",
            "alarm",
            "defrag",
            "endpoint",
            "member",
            "lease",
            "user",
            "role",
            "auth",
            "move-leader",
            "version",
            "snapshot",
        )
    }
    assert len(verbs) == 16
