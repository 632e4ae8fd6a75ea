"""Every command's --help, and the usage printed with flag errors, identical to real etcdctl 3.5.1.

Our extra flags are hidden from help (they are documented in the man pages and docs/reference), so the
text users know from etcdctl stays byte-identical.
"""

from __future__ import annotations

import pytest

from tests import difftest, etcdproc


def _commands() -> list[list[str]]:
    """Every command path real etcdctl 3.5.1 has: the root, each group and each command of its COMMANDS list."""
    out = difftest.run([etcdproc.distro_bin("etcdctl"), "--help"]).stdout.decode()
    section = out.split("COMMANDS:\n", 1)[1].split("\n\n", 1)[0]
    paths: set[tuple[str, ...]] = {()}
    for line in section.splitlines():
        words = line.strip().split("\t")[0].split()
        paths.update(tuple(words[:i]) for i in range(1, len(words) + 1))
    paths.discard(("help",))  # `etcdctl help --help` is cobra's help command, not one of etcdctl's
    assert len(paths) >= 58, sorted(paths)
    return [list(p) for p in sorted(paths)]


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "(root)")
def test_help_identical(path):
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *path, "--help"])
    mine = difftest.run([*difftest.ETCDCTL_PY, *path, "--help"])
    assert (mine.stdout, mine.stderr, mine.rc) == (real.stdout, real.stderr, real.rc)


@pytest.mark.parametrize(
    "path",
    [
        ["get"],
        ["lease", "grant"],
        ["member", "add"],
        ["snapshot", "save"],
        ["make-mirror"],
        ["defrag"],
        ["compaction"],
        ["check", "perf"],
    ],
    ids=lambda p: " ".join(p),
)
def test_flag_error_usage_identical(path):
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *path, "--no-such-flag"])
    mine = difftest.run([*difftest.ETCDCTL_PY, *path, "--no-such-flag"])
    assert (mine.stdout, mine.stderr, mine.rc) == (real.stdout, real.stderr, real.rc)
