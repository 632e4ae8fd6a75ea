"""`etcdutl-py` and `etcdctl-py snapshot ...` against the real etcdutl / etcdctl 3.5.1: same stdout, stderr (log
timestamps masked) and exit code, run side by side in twin directories so relative paths print the same."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import etcdproc

OURS_UTL = [sys.executable, "-m", "etcdctl_py.cli.etcdutl"]
OURS_CTL = etcdproc.etcdctl_py_argv()
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\t", re.M)
# The `stack` field etcdutl adds to "restoring snapshot" (Go function names and its build machine's paths):
# ours leaves it out on purpose, so the comparison is of every other byte of the log.
GO_STACK = re.compile(r', "stack": "(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def snaps(real_snaps: dict[str, Path]) -> dict[str, Path]:
    """This module's name for the session's real etcd 3.5.1 snapshots (tests/conftest.py `real_snaps`)."""
    return real_snaps


@pytest.fixture
def twins(tmp_path, snaps):
    """Two identical working directories (real tool in a/, ours in b/) holding the snapshots."""
    for side in ("a", "b"):
        d = tmp_path / side
        d.mkdir()
        for name in ("small", "auth"):
            shutil.copyfile(snaps[name], d / f"{name}.db")
        (d / "raw.db").write_bytes(snaps["small"].read_bytes()[:-32])
        (d / "garbage.db").write_bytes(b"\x07" * 8224)
    return tmp_path / "a", tmp_path / "b"


def run(argv: list[str], cwd: Path) -> tuple[str, str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120, env=env)
    return r.stdout, TS.sub("TS\t", r.stderr), r.returncode


def meaningful(result: tuple[str, str, int]) -> tuple[str, str, int]:
    """A real tool's result without the Go stack field of its restore log."""
    out, err, rc = result
    return out, GO_STACK.sub("", err), rc


def same(real: list[str], ours: list[str], args: list[str], a: Path, b: Path) -> None:
    want = meaningful(run(real + args, a))
    got = run(ours + args, b)
    assert '"stack"' not in got[1], got[1]
    assert got == want, args


def test_go_stack_is_left_out_of_the_restore_log(twins):
    """Where etcdutl logs `..., "snap-dir": ..., "stack": "go.etcd.io/...(*v3Manager).Restore\n\t/tmp/etcd-release..."}`
    ours ends the line after snap-dir; everything else on the line (and in the log) is the same."""
    a, b = twins
    args = ["snapshot", "restore", "small.db", "--data-dir", "d"]
    real = run([etcdproc.distro_bin("etcdutl"), *args], a)[1].splitlines()[0]
    ours = run(OURS_UTL + args, b)[1].splitlines()[0]
    assert '"stack": "go.etcd.io/' in real and GO_STACK.search(real)
    assert ours == GO_STACK.sub("", real)
    assert ours.endswith('"snap-dir": "d/member/snap"}')


UTL_CASES = [
    [],
    ["--help"],
    ["help"],
    ["foo"],
    ["snapshot"],
    ["snapshot", "foo"],
    ["snapshot", "--help"],
    ["snapshot", "restore", "--help"],
    ["snapshot", "status", "--help"],
    ["defrag", "--help"],
    ["backup", "--help"],
    ["version"],
    ["version", "--help"],
    ["help", "snapshot", "restore"],
    ["help", "nosuch"],
    ["snap", "st", "-h"],
    ["snapshot", "status"],
    ["snapshot", "status", "a", "b"],
    ["snapshot", "status", "nonexist.db"],
    ["snapshot", "status", "small.db"],
    ["snapshot", "status", "small.db", "-w", "json"],
    ["snapshot", "status", "small.db", "-w", "table"],
    ["snapshot", "status", "small.db", "-w", "fields"],
    ["snapshot", "status", "small.db", "-w", "protobuf"],
    ["snapshot", "status", "small.db", "-w", "bogus"],
    ["snapshot", "status", "nonexist.db", "-w", "bogus"],
    ["snapshot", "status", "garbage.db"],
    ["snapshot", "status", "auth.db", "--write-out=table"],
    ["snapshot", "status", "raw.db"],
    ["snapshot", "restore"],
    ["snapshot", "restore", "small.db"],
    ["snapshot", "restore", "--bogus"],
    ["snapshot", "restore", "small.db", "--data-dir"],
    ["snapshot", "restore", "x", "y", "--data-dir", "d"],
    ["snapshot", "restore", "small.db", "--data-dir", "d", "--skip-hash-check=maybe"],
    ["snapshot", "restore", "nonexist.db", "--data-dir", "d"],
    ["snapshot", "restore", "raw.db", "--data-dir", "d"],
    ["snapshot", "restore", "garbage.db", "--data-dir", "d"],
    ["snapshot", "restore", "small.db", "--data-dir", "d", "--name", "x"],
    ["snapshot", "restore", "small.db", "--data-dir", "d", "--initial-cluster", "default=http://h:1/"],
    ["snapshot", "save", "x.db"],
    ["defrag"],
    ["backup"],
    ["backup", "--data-dir", "x"],
    # cobra's Deprecated / DisableFlagsInUseLine / MarkFlagRequired / suggestions, as etcdutl uses them
    ["snapshot", "save", "--help"],
    ["help", "snapshot", "save"],
    ["snapshot", "save", "--bogus"],
    ["SNAP"],
    ["defrag", "--data-dir"],
    ["backup", "--backup-dir", "b"],
    ["snapshot", "restore", "small.db", "--bogus"],
    ["help", "a`b", "\x01"],
]


@pytest.mark.parametrize("args", UTL_CASES, ids=lambda a: " ".join(a) or "(none)")
def test_etcdutl_matches(twins, args):
    same([etcdproc.distro_bin("etcdutl")], OURS_UTL, args, *twins)


RESTORES = [
    ["snapshot", "restore", "small.db", "--data-dir", "d"],
    [
        "snapshot",
        "restore",
        "auth.db",
        "--data-dir",
        "d",
        "--wal-dir",
        "w",
        "--name",
        "m2",
        "--initial-cluster",
        "m1=http://127.0.0.1:1,m2=http://127.0.0.1:2,m3=http://127.0.0.1:3",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2",
        "--initial-cluster-token",
        "tok",
    ],
    ["snapshot", "restore", "raw.db", "--data-dir", "d", "--skip-hash-check"],
]


@pytest.mark.parametrize("args", RESTORES, ids=lambda a: a[2])
def test_etcdutl_restore_matches_twice(twins, args):
    a, b = twins
    same([etcdproc.distro_bin("etcdutl")], OURS_UTL, args, a, b)
    for sub in (
        "d/member/snap/0000000000000001-0000000000000001.snap",
        "d/member/snap/0000000000000001-0000000000000003.snap",
        "d/member/wal/0000000000000000-0000000000000000.wal",
        "w/0000000000000000-0000000000000000.wal",
    ):
        if (a / sub).exists():
            assert (b / sub).read_bytes() == (a / sub).read_bytes()
    same([etcdproc.distro_bin("etcdutl")], OURS_UTL, args, a, b)  # second run: data dir not empty


def test_restore_hash_mismatch_message(twins):
    a, b = twins
    for d in (a, b):
        data = bytearray((d / "small.db").read_bytes())
        data[3000] ^= 0x20
        (d / "small.db").write_bytes(bytes(data))
    real = run([etcdproc.distro_bin("etcdutl"), "snapshot", "restore", "small.db", "--data-dir", "d"], a)
    ours = run(OURS_UTL + ["snapshot", "restore", "small.db", "--data-dir", "d"], b)
    assert ours == meaningful(real)
    assert real[1].splitlines()[-1].startswith("Error: expected sha256 [")
    assert (a / "d").exists() and not (b / "d").exists()  # etcdutl leaves a partial dir; we leave nothing


def test_output_dir_all_members(twins):
    _, b = twins
    ic = "m1=http://127.0.0.1:1,m2=http://127.0.0.1:2"
    out, err, rc = run(
        OURS_UTL
        + ["snapshot", "restore", "small.db", "--output-dir", "all", "--initial-cluster", ic, "--data-dir", "ignored"],
        b,
    )
    assert rc == 128 and err.endswith("Error: --output-dir cannot be combined with --data-dir or --wal-dir\n")
    out, err, rc = run(
        OURS_UTL + ["snapshot", "restore", "small.db", "--output-dir", "all", "--initial-cluster", ic], b
    )
    assert rc == 0 and out == ""
    assert sorted(p.name for p in (b / "all").iterdir()) == ["m1.etcd", "m2.etcd"]
    assert err.count("restored snapshot") == 2


@pytest.mark.parametrize("data_dir", ["nosuch", "nowal"])
def test_backup_fatal_line_without_the_go_stack(twins, data_dir):
    """etcdutl follows its zap `fatal` line with the Go stack (function names, its build machine's paths); ours
    is that one line, byte for byte, and nothing after it."""
    a, b = twins
    for d in (a, b):
        (d / "nowal" / "member" / "snap").mkdir(parents=True)
    args = ["backup", "--data-dir", data_dir, "--backup-dir", "out"]
    out, err, rc = run([etcdproc.distro_bin("etcdutl"), *args], a)
    fatal, *stack = err.splitlines(True)
    assert "\tfatal\t" in fatal and stack and stack[0].startswith("go.etcd.io/")
    assert run(OURS_UTL + args, b) == (out, fatal, rc)
    assert not (b / "out").exists()


def test_defrag_data_dir(twins):
    _, b = twins
    run(OURS_UTL + ["snapshot", "restore", "small.db", "--data-dir", "d"], b)
    out, err, rc = run(OURS_UTL + ["defrag", "--data-dir", "d"], b)
    assert rc == 0 and "finished defragmenting directory" in err
    out, err, rc = run(OURS_UTL + ["snapshot", "status", "d/member/snap/db"], b)
    assert rc == 0


CTL_CASES = [
    ["snapshot", "--help"],
    ["snapshot", "restore", "--help"],
    ["snapshot", "status", "--help"],
    ["snapshot", "restore"],
    ["snapshot", "status"],
    ["snapshot", "status", "small.db"],
    ["snapshot", "status", "small.db", "-w", "table"],
    ["snapshot", "status", "small.db", "-w", "protobuf"],
    ["snapshot", "status", "nonexist.db"],
    ["snapshot", "restore", "nonexist.db", "--data-dir", "d"],
    ["snapshot", "restore", "small.db", "--data-dir", "d"],
    ["snapshot", "restore", "small.db"],
]


@pytest.mark.parametrize("args", CTL_CASES, ids=lambda a: " ".join(a))
def test_etcdctl_snapshot_matches(twins, args):
    same([etcdproc.distro_bin("etcdctl")], OURS_CTL, args, *twins)


def test_restore_with_etcd_verify_all(twins, monkeypatch):
    monkeypatch.setenv("ETCD_VERIFY", "all")
    same(
        [etcdproc.distro_bin("etcdutl")],
        OURS_UTL,
        [
            "snapshot",
            "restore",
            "small.db",
            "--data-dir",
            "d",
            "--name",
            "a",
            "--initial-cluster",
            "a=http://127.0.0.1:1,b=http://127.0.0.1:2",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:1",
        ],
        *twins,
    )
    assert (
        "verification of persisted state successful"
        in run(OURS_UTL + ["snapshot", "restore", "small.db", "--data-dir", "e"], twins[1])[1]
    )
