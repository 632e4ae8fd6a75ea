"""compaction through real etcdctl 3.5.1 and etcdctl-py on twin servers: identical bytes; plus --keep-revisions."""

from __future__ import annotations

import pytest

from tests import difftest
from tests.cli.opsdiff import check_masked, help_without


@pytest.fixture(scope="module")
def pair(twin_pair):
    for i in range(12):
        twin_pair.check(["put", f"c{i % 3}", f"v{i}"])  # revisions 2..13 on both sides
    return twin_pair


STEPS = [
    ["compaction", "5"],
    ["compaction", "5"],  # already compacted
    ["compaction", "3"],
    ["compaction", "8", "--physical"],
    ["compaction", "--physical=false", "9"],
    ["compaction", "100000"],  # future revision
    ["compaction", "abc"],
    ["compaction", "-1"],
    ["compaction", "+10"],
    ["compaction", "99999999999999999999"],
    ["compaction", ""],
    ["compaction"],
    ["compaction", "1", "2"],
    ["compaction", "-w", "json", "11"],
    ["compaction", "12", "-w", "table"],
    ["compaction", "--physical=maybe", "13"],
    ["get", "c", "--prefix", "--rev", "11"],
    ["get", "c", "--prefix", "--rev", "12", "-w", "json"],
]


def test_compaction_sequence(pair):
    for args in STEPS:
        check_masked(pair, args, extra_flags=("keep-revisions",))


def test_compaction_dead_endpoint(pair):
    real, mine = pair.run(["--endpoints", "127.0.0.1:1", "--command-timeout", "1s", "compaction", "3"], endpoints=False)
    assert (mine.rc, mine.stdout) == (real.rc, real.stdout) == (1, b"")
    assert difftest.mask_stderr(mine.stderr) == difftest.mask_stderr(real.stderr)


def test_compaction_help(pair):
    real, mine = pair.run(["compaction", "--help"])
    assert mine.rc == real.rc == 0
    help_without(real.stdout, mine.stdout, ["keep-revisions"])


def _ours(pair, *args: str) -> difftest.Result:
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, *args])


def test_keep_revisions(twin_pair):
    """--keep-revisions N compacts to current-N; idempotent when nothing new was written; refuses a revision arg."""
    b = twin_pair.b
    for i in range(5):
        assert _ours(twin_pair, "put", "kr", str(i)).rc == 0
    cur = int(_ours(twin_pair, "get", "kr", "-w", "fields").stdout.split(b'"Revision" : ')[1].split(b"\n")[0])
    r = _ours(twin_pair, "compaction", "--keep-revisions", "2")
    assert (r.rc, r.stdout, r.stderr) == (0, f"compacted revision {cur - 2}\n".encode(), b"")
    # the revision just before the kept window is gone, the window itself is readable
    gone = _ours(twin_pair, "get", "kr", "--rev", str(cur - 3))
    assert gone.rc == 1 and b"required revision has been compacted" in gone.stderr
    assert _ours(twin_pair, "get", "kr", "--rev", str(cur - 1), "--print-value-only").stdout == b"3\n"
    again = _ours(twin_pair, "compaction", "--keep-revisions=2", "--physical")
    assert again.rc == 0
    assert again.stdout == f"revision {cur - 2} is already compacted (current revision {cur})\n".encode()
    assert again.stderr == b""
    none = _ours(twin_pair, "compaction", "--keep-revisions", str(cur + 5))
    assert none.rc == 0
    assert none.stdout == f"nothing to compact: current revision {cur}, keeping {cur + 5} revisions\n".encode()
    bad = _ours(twin_pair, "compaction", "--keep-revisions", "2", "7")
    assert bad.rc == 128
    assert bad.stderr == b"Error: compaction takes no <revision> argument when --keep-revisions is set\n"
    neg = _ours(twin_pair, "compaction", "--keep-revisions=-1")
    assert neg.rc == 128 and neg.stderr == b"Error: --keep-revisions must be zero or positive\n"
    assert b.proc is not None and b.proc.poll() is None
