"""check perf / check datascale through real etcdctl 3.5.1 and etcdctl-py on twin servers: identical error
handling and help; full runs side by side with the same output shape (numbers are measurements and differ)."""

from __future__ import annotations

import re
import subprocess

import pytest

import difftest
from opsdiff import check_masked


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


@pytest.mark.parametrize("sub,prefix", [("perf", "/etcdctl-check-perf/"), ("datascale", "/etcdctl-check-datascale/"),
                                        ("perf", "custom/")])
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
    assert mine.stdout.startswith(b"Start data scale check for work load [10000 key-value pairs, 1024 bytes per "
                                  b"key-value, 50 concurrent clients].\n\r 0 / 10000    0.00%")
    assert b"\r 10000 / 10000  100.00% " in mine.stdout
    assert re.search(rb"PASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$", mine.stdout)
    assert mine.stderr == real.stderr == b""
    # keys are gone and the compaction reached the delete's revision on both
    pair.check(["get", "/etcdctl-check-datascale/", "--prefix", "--count-only", "-w", "fields"])


def test_perf_side_by_side(pair):
    """One full 60 s run of each at the same time, with --auto-compact and --auto-defrag."""
    env = {}
    real_p = subprocess.Popen([pair.etcdctl, "--endpoints", pair.a.endpoint, "check", "perf", "--auto-compact",
                               "--auto-defrag"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mine = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "check", "perf", "--auto-compact",
                         "--auto-defrag"], env=env, timeout=120)
    out, err = real_p.communicate(timeout=120)
    real = difftest.Result(out, err, real_p.returncode)
    assert mine.rc == real.rc == 0, (real, mine)
    ports = (pair.a.client_port, pair.b.client_port)
    shape = _shape(difftest.mask_stderr(mine.stdout, ports))
    assert shape == _shape(difftest.mask_stderr(real.stdout, ports)), (real.stdout[-600:], mine.stdout[-600:])
    assert re.search(rb"\r 30 / 60   50\.00% 00m\d\ds\r", mine.stdout)
    lines = [ln for ln in FRAME.sub(b"", mine.stdout).split(b"\n") if ln]
    assert lines[:4] == [b"Compacting with revision " + lines[0].split()[-1],
                         b"Compacted with revision " + lines[0].split()[-1],
                         f'Defragmenting "{pair.b.endpoint}"'.encode(), f'Defragmented "{pair.b.endpoint}"'.encode()]
    assert lines[-4].startswith(b"PASS: Throughput is 1") and lines[-1] == b"PASS"
    assert re.fullmatch(rb"PASS: Slowest request took \d\.\d{6}s", lines[-3])
    assert re.fullmatch(rb"PASS: Stddev is \d\.\d{6}s", lines[-2])
    assert int(lines[-4].split()[3]) in (150, 151)
    for srv in (pair.a, pair.b):  # the write counts differ (timing), so compare each side with "no keys left"
        left = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", srv.endpoint, "get", "/etcdctl-check-perf/",
                             "--prefix", "--count-only", "-w", "fields"])
        assert b'"Count" : 0\n' in left.stdout
