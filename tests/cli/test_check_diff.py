"""check perf / check datascale through real etcdctl 3.5.1 and etcdctl-py on twin servers: identical error
handling and help; full runs side by side with the same output shape (numbers are measurements and differ)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests import difftest
from tests.cli.opsdiff import check_masked


@pytest.fixture(scope="module")
def pair(twin_pair):
    return twin_pair


CASES = [
    ["check"],
    ["check", "--help"],
    ["check", "perf", "--help"],
    ["check", "datascale", "--help"],
    ["check", "perf", "--load", "huge"],
    ["check", "datascale", "--load=xxl"],
    ["check", "perf", "--load", "xlarge"],  # aliases are case-sensitive: xLarge only
    ["check", "perf", "--auto-compact=maybe"],
    ["check", "nosuch"],
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_check_cases(pair, args):
    check_masked(pair, args)


@pytest.mark.parametrize(
    "sub,prefix", [("perf", "/etcdctl-check-perf/"), ("datascale", "/etcdctl-check-datascale/"), ("perf", "custom/")]
)
def test_prefix_has_keys(pair, sub, prefix):
    pair.check(["put", prefix + "x", "1"])
    try:
        check_masked(pair, ["check", sub, "--prefix", prefix])
    finally:
        pair.check(["del", prefix + "x"])


FRAME = re.compile(rb"\r \d+ / \d+ +\d+\.\d\d%(?: \d\dm\d\ds| \d+s)?")


def _shape(stdout: bytes) -> list[bytes]:
    """The output without progress frames (which interleave with other lines at random), numbers masked."""
    assert FRAME.match(stdout) or stdout.startswith(b"Start data scale"), stdout[:100]
    text = FRAME.sub(b"", stdout)
    # etcdctl's bar goroutine keeps redrawing during cleanup, leaving fragments such as " 00m02s": keep text lines
    return [re.sub(rb"\d+(\.\d+)?", b"N", ln) for ln in text.split(b"\n") if re.match(rb"[A-Za-z]", ln)]


def test_datascale_side_by_side(pair):
    real, mine = pair.run(["check", "datascale", "--auto-compact", "--auto-defrag"])
    assert mine.rc == real.rc == 0, (real, mine)
    ports = (pair.a.client_port, pair.b.client_port)
    assert _shape(difftest.mask_stderr(mine.stdout, ports)) == _shape(difftest.mask_stderr(real.stdout, ports))
    assert mine.stdout.startswith(
        b"Start data scale check for work load [10000 key-value pairs, 1024 bytes per "
        b"key-value, 50 concurrent clients].\n\r 0 / 10000    0.00%"
    )
    assert b"\r 10000 / 10000  100.00% " in mine.stdout
    assert re.search(rb"PASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$", mine.stdout)
    assert mine.stderr == real.stderr == b""
    # keys are gone and the compaction reached the delete's revision on both
    pair.check(["get", "/etcdctl-check-datascale/", "--prefix", "--count-only", "-w", "fields"])


# check perf's three measured verdicts, passed or failed: which one a run gets depends on the machine's load
_VERDICTS = [
    (re.compile(rb"(?:PASS: Throughput is|FAIL: Throughput too low:) N writes/s"), b"<throughput> N writes/s"),
    (re.compile(rb"(?:PASS: Slowest request took|Slowest request took too long:) Ns"), b"<slowest> Ns"),
    (re.compile(rb"(?:PASS: Stddev is|Stddev too high:) Ns"), b"<stddev> Ns"),
    (re.compile(rb"PASS|FAIL"), b"<verdict>"),
]
_PASSED = [
    re.compile(rb"PASS: Throughput is \d+ writes/s"),
    re.compile(rb"PASS: Slowest request took \d\.\d{6}s"),
    re.compile(rb"PASS: Stddev is \d\.\d{6}s"),
]
_FAILED = [
    re.compile(rb"FAIL: Throughput too low: \d+ writes/s"),
    re.compile(rb"Slowest request took too long: \d+\.\d{6}s"),
    re.compile(rb"Stddev too high: \d+\.\d{6}s"),
]


def _unjudged(shape: list[bytes]) -> list[bytes]:
    """The output shape with each pass/fail verdict line replaced by what it reports, whatever the verdict."""
    out = []
    for ln in shape:
        for rx, kind in _VERDICTS:
            if rx.fullmatch(ln):
                ln = kind
                break
        out.append(ln)
    return out


def _check_verdicts(run: difftest.Result) -> None:
    """The last four lines are the three measured verdicts and the overall one; the overall verdict and the exit
    code follow from the three (speed decides each of them, not their consistency)."""
    lines = [ln for ln in FRAME.sub(b"", run.stdout).split(b"\n") if ln]
    measured = lines[-4:-1]
    passed = [bool(ok.fullmatch(ln)) for ok, ln in zip(_PASSED, measured, strict=True)]
    for ok, bad, ln, p in zip(_PASSED, _FAILED, measured, passed, strict=True):
        assert p or bad.fullmatch(ln), (ok.pattern, ln)
    errors = any(ln == b"FAIL: too many errors" for ln in lines)
    verdict = b"PASS" if all(passed) and not errors else b"FAIL"
    assert lines[-1] == verdict, lines[-5:]
    assert run.rc == (0 if verdict == b"PASS" else 1), (run.rc, lines[-5:])


def test_perf_side_by_side(pair):
    """One full 60 s run of each at the same time, with --auto-compact and --auto-defrag. Throughput and latency
    are measurements of this machine: each side must print its verdicts and exit as they say, not pass."""
    env = {}
    real_p = subprocess.Popen(
        [pair.etcdctl, "--endpoints", pair.a.endpoint, "check", "perf", "--auto-compact", "--auto-defrag"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    mine = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "check", "perf", "--auto-compact", "--auto-defrag"],
        env=env,
        timeout=120,
    )
    out, err = real_p.communicate(timeout=120)
    real = difftest.Result(out, err, real_p.returncode)
    for run in (real, mine):
        _check_verdicts(run)
    ports = (pair.a.client_port, pair.b.client_port)
    shape = _unjudged(_shape(difftest.mask_stderr(mine.stdout, ports)))
    assert shape == _unjudged(_shape(difftest.mask_stderr(real.stdout, ports))), (
        real.stdout[-600:],
        mine.stdout[-600:],
    )
    assert re.search(rb"\r 30 / 60   50\.00% 00m\d\ds\r", mine.stdout)
    lines = [ln for ln in FRAME.sub(b"", mine.stdout).split(b"\n") if ln]
    assert lines[:4] == [
        b"Compacting with revision " + lines[0].split()[-1],
        b"Compacted with revision " + lines[0].split()[-1],
        f'Defragmenting "{pair.b.endpoint}"'.encode(),
        f'Defragmented "{pair.b.endpoint}"'.encode(),
    ]
    for srv in (pair.a, pair.b):  # the write counts differ (timing), so compare each side with "no keys left"
        left = difftest.run(
            [
                *difftest.ETCDCTL_PY,
                "--endpoints",
                srv.endpoint,
                "get",
                "/etcdctl-check-perf/",
                "--prefix",
                "--count-only",
                "-w",
                "fields",
            ]
        )
        assert b'"Count" : 0\n' in left.stdout
