"""No Python traceback ever reaches a user: bad input to every command ends in an `Error:` line or usage.

Runs each CLI as a user would (a new process), with wrong flags, missing or extra arguments, bad values,
unreachable endpoints, missing and corrupt files, and asserts a non-crashing exit and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import difftest, etcdproc

PY = sys.executable
DEAD = "--endpoints=127.0.0.1:1"
FAST = "--command-timeout=300ms"

ETCDCTL_CASES = [
    [DEAD, FAST, "get", "k"],
    [DEAD, FAST, "put", "k", "v"],
    [DEAD, FAST, "del", "k"],
    [DEAD, FAST, "compaction", "5"],
    [DEAD, FAST, "alarm", "list"],
    [DEAD, FAST, "member", "list"],
    [DEAD, FAST, "endpoint", "status"],
    [DEAD, FAST, "endpoint", "health"],
    [DEAD, FAST, "endpoint", "hashkv"],
    [DEAD, FAST, "defrag"],
    [DEAD, FAST, "lease", "grant", "10"],
    [DEAD, FAST, "lease", "revoke", "1"],
    [DEAD, FAST, "move-leader", "1"],
    [DEAD, FAST, "auth", "status"],
    [DEAD, FAST, "auth", "enable"],
    [DEAD, "--command-timeout=1s", "snapshot", "save", "/nonexistent-dir/x.db"],
    ["get", "--rev=x", "k"],
    ["get", "--limit", "-", "k"],
    ["put", "--lease=zz", "k", "v"],
    ["txn", "extra"],
    ["compaction"],
    ["compaction", "abc"],
    ["watch"],
    ["lease", "grant"],
    ["lease", "grant", "x"],
    ["lease", "revoke"],
    ["lease", "revoke", "zz"],
    ["lease", "timetolive"],
    ["lease", "keep-alive"],
    ["member", "add"],
    ["member", "remove"],
    ["member", "remove", "zz"],
    ["member", "update", "1"],
    ["member", "promote", "zz"],
    ["move-leader"],
    ["move-leader", "zz"],
    ["lock"],
    ["elect"],
    ["elect", "-l", "a", "b"],
    ["user", "add"],
    ["user", "get"],
    ["role", "add"],
    ["role", "grant-permission", "r", "bogus", "k"],
    ["role", "revoke-permission", "r"],
    ["snapshot", "status"],
    ["snapshot", "status", "/nonexistent.db"],
    ["snapshot", "restore"],
    ["snapshot", "restore", "/nonexistent.db"],
    ["make-mirror"],
    ["check", "perf", "--load=huge"],
    ["defrag", "--data-dir", "/nonexistent-dir"],
    ["--dial-timeout=zz", "get", "k"],
    ["-w", "xml", "get", "k"],
    ["get", "k", "--cert=/nonexistent.pem", "--key=/nonexistent.key"],
    ["--endpoints=", "get", "k"],
    ["get", "k", "--endpoints=http://127.0.0.1:abc", FAST],
    ["get", "\udcff"],
]


def _run(argv: list[str], stdin: bytes = b"") -> difftest.Result:
    return difftest.run(argv, stdin=stdin, timeout=60)


def _assert_clean(res: difftest.Result, args) -> None:
    assert b"Traceback" not in res.stderr and b"Traceback" not in res.stdout, (args, res)
    assert res.rc not in (-6, -11), (args, res)  # no abort / segfault


@pytest.mark.parametrize("args", ETCDCTL_CASES, ids=lambda a: " ".join(a)[:60])
def test_etcdctl_py_bad_input(args):
    _assert_clean(_run([*difftest.ETCDCTL_PY, *args]), args)


@pytest.mark.parametrize(
    "args",
    [
        ["snapshot", "status"],
        ["snapshot", "status", "/nonexistent.db"],
        ["snapshot", "restore", "/nonexistent.db"],
        ["snapshot", "restore"],
        ["defrag"],
        ["defrag", "--data-dir", "/nonexistent"],
        ["backup"],
        ["backup", "--data-dir", "/nonexistent", "--backup-dir", "/tmp/x-never"],
        ["nosuch"],
        ["--bogus"],
    ],
)
def test_etcdutl_py_bad_input(args):
    _assert_clean(_run([PY, "-m", "etcdctl_py.cli.etcdutl", *args]), args)


def test_corrupt_files_give_error_lines(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for f in (junk, empty, tmp_path):
        for argv in (
            [*difftest.ETCDCTL_PY, "snapshot", "status", str(f)],
            [PY, "-m", "etcdctl_py.cli.etcdutl", "snapshot", "status", str(f)],
            [
                PY,
                "-m",
                "etcdctl_py.cli.etcdutl",
                "snapshot",
                "restore",
                str(f),
                "--data-dir",
                str(tmp_path / "out.etcd"),
            ],
        ):
            res = _run(argv)
            _assert_clean(res, argv)
            assert res.rc != 0 and b"Error" in res.stderr, (argv, res)
    assert not (tmp_path / "out.etcd").exists()


@pytest.mark.parametrize("env", [{"ETCDCTL_API": "2"}], ids=["v2"])
@pytest.mark.parametrize(
    "args",
    [
        ["get"],
        ["--no-sync", "--endpoints", "http://127.0.0.1:1", "get", "/k"],
        ["set"],
        ["ls", "--bogus"],
        ["member", "remove"],
        ["--timeout=zz", "ls"],
    ],
)
def test_v2_bad_input(args, env):
    res = difftest.run([*difftest.ETCDCTL_PY, *args], env=env, timeout=60)
    _assert_clean(res, args)


@pytest.mark.parametrize(
    "args",
    [["--bogus-flag"], ["--quota-backend-bytes=abc"], ["--listen-client-urls=notaurl"], ["--initial-cluster=bad"]],
)
def test_etcd_py_bad_flags(args, tmp_path):
    res = difftest.run([PY, "-m", "etcdctl_py.server", "--data-dir", str(tmp_path / "d"), *args], timeout=60)
    _assert_clean(res, args)
    assert res.rc != 0


@pytest.mark.parametrize("damage", ["random wal and db", "empty wal", "db only"])
def test_etcd_py_damaged_data_dir(damage, tmp_path):
    """A damaged data dir stops etcd-py with one fatal log line and exit 1, never a traceback."""
    d = tmp_path / "d"
    (d / "member" / "wal").mkdir(parents=True)
    (d / "member" / "snap").mkdir()
    wal = d / "member" / "wal" / "0000000000000000-0000000000000000.wal"
    if damage == "random wal and db":
        wal.write_bytes(os.urandom(5000))
        (d / "member" / "snap" / "db").write_bytes(os.urandom(8192))
    elif damage == "empty wal":
        wal.write_bytes(b"")
    else:
        (d / "member" / "snap" / "db").write_bytes(os.urandom(8192))
    res = difftest.run(
        [
            PY,
            "-m",
            "etcdctl_py.server",
            "--data-dir",
            str(d),
            "--listen-client-urls",
            "http://127.0.0.1:0",
            "--advertise-client-urls",
            "http://127.0.0.1:2379",
            "--listen-peer-urls",
            "http://127.0.0.1:0",
        ],
        timeout=60,
    )
    _assert_clean(res, damage)
    assert res.rc == 1
    assert b'"level":"fatal"' in res.stderr


def _with_closed(argv: list[str], closed: int) -> tuple[int, bytes]:
    """Run argv with descriptor `closed` (1 or 2) closed from the start, as `cmd >&-` / `cmd 2>&-` does; (exit
    code, what reached the other of the two)."""
    other = {1: "stderr", 2: "stdout"}[closed]
    p = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=difftest.child_env(argv),
        preexec_fn=lambda: os.close(closed),
        timeout=30,
    )
    return p.returncode, getattr(p, other)


@pytest.mark.parametrize(
    "tool,args",
    [
        ("etcdctl", ["version"]),
        ("etcdctl", [DEAD, FAST, "get", "k"]),
        ("etcdctl", ["get"]),
        ("etcdutl", ["version"]),
        ("etcdutl", ["snapshot", "status", "/nonexistent.db"]),
    ],
    ids=lambda a: a if isinstance(a, str) else " ".join(a)[:40],
)
@pytest.mark.parametrize("closed", [1, 2], ids=["stdout-closed", "stderr-closed"])
def test_closed_standard_streams_like_go(tool, args, closed):
    """Go writes to a closed stdout or stderr and ignores the failure: the command runs on and exits as it would
    have. Python starts with sys.stdout (or stderr) None there; ours must not crash on it either."""
    ours_argv = {"etcdctl": difftest.ETCDCTL_PY, "etcdutl": [PY, "-m", "etcdctl_py.cli.etcdutl"]}[tool]
    real = _with_closed([etcdproc.distro_bin(tool), *args], closed)
    ours = _with_closed([*ours_argv, *args], closed)
    assert b"Traceback" not in ours[1]
    assert ours[0] == real[0], (real, ours)
    assert difftest.mask_stderr(ours[1]) == difftest.mask_stderr(real[1]), (real, ours)


def test_etcd_py_with_closed_stdout_and_stderr(tmp_path):
    """etcd-py started with stdout and stderr closed (a careless init script) still serves, as etcd does."""
    srv = etcdproc.make_server(etcdproc.etcd_py_wrapper(str(tmp_path)), str(tmp_path))
    srv.argv = ["sh", "-c", 'exec "$@" >&- 2>&-', "sh", *srv.argv]
    try:
        srv.start()
        r = difftest.run([*difftest.ETCDCTL_PY, f"--endpoints={srv.endpoint}", "put", "k", "v"])
        assert (r.rc, r.stdout) == (0, b"OK\n"), r
    finally:
        srv.stop()
