"""Every command's --help, and the usage printed with flag errors, identical to real etcdctl 3.5.1.

Our extra flags are hidden from help (they are documented in the man pages and docs/reference), so the
text users know from etcdctl stays byte-identical.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import difftest
import etcdproc

# shared/ sits beside the checkout, here and in CI
CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "etcdctl-captures" / "help-3.5.1-all-commands.txt"


def _commands() -> list[list[str]]:
    """Every command path, from the captured help of all commands (or a fixed list when not present)."""
    if CAPTURES.exists():
        names = re.findall(r"^################ etcdctl (.*?) ?--help$", CAPTURES.read_text(), re.M)
        return [n.split() for n in names]
    return [[], ["get"], ["put"], ["del"], ["txn"], ["watch"], ["lease", "grant"], ["member", "list"],
            ["endpoint", "status"], ["snapshot", "save"], ["make-mirror"], ["user", "add"], ["role", "get"]]


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "(root)")
def test_help_identical(path):
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *path, "--help"])
    mine = difftest.run([*difftest.ETCDCTL_PY, *path, "--help"])
    assert (mine.stdout, mine.stderr, mine.rc) == (real.stdout, real.stderr, real.rc)


@pytest.mark.parametrize("path", [["get"], ["lease", "grant"], ["member", "add"], ["snapshot", "save"],
                                  ["make-mirror"], ["defrag"], ["compaction"], ["check", "perf"]],
                         ids=lambda p: " ".join(p))
def test_flag_error_usage_identical(path):
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *path, "--no-such-flag"])
    mine = difftest.run([*difftest.ETCDCTL_PY, *path, "--no-such-flag"])
    assert (mine.stdout, mine.stderr, mine.rc) == (real.stdout, real.stderr, real.rc)
