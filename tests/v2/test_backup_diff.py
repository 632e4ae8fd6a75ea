"""`ETCDCTL_API=2 etcdctl backup` (etcdutl's HandleBackup inside etcdctl 3.5.1) vs etcdctl-py, on two
copies of the same stopped real etcd 3.5.1 `--enable-v2` data dir, run side by side in twin
directories so relative paths print alike: same stdout, stderr (timestamps masked; fatal lines
carry Go's stack trace) and exit code; real etcd then starts on both results with the same data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import etcdproc
from tests.v2.v2tools import cli_env, py_argv, real_argv, run

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", re.M)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Iterator[Path]:
    """A stopped member with v2 keys (some before, some after its newest .snap), a v3 key and a TTL key."""
    with etcdproc.scratch_dir(tmp_path_factory, "v2backup") as base:
        srv = etcdproc.make_server(
            etcdproc.distro_bin("etcd"), str(base), name="bk", extra=["--enable-v2", "--snapshot-count", "20"]
        )
        srv.start()
        try:
            for i in range(30):
                req = urllib.request.Request(
                    f"{srv.client_url}/v2/keys/dir/k{i:02d}",
                    data=f"value=v{i}".encode(),
                    method="PUT",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                urllib.request.urlopen(req, timeout=30).read()
            r = run(
                [etcdproc.distro_bin("etcdctl")],
                [f"--endpoints={srv.endpoint}", "put", "v3key", "v3val"],
                env={"ETCDCTL_API": "3"},
            )
            assert r.rc == 0, r.err
        finally:
            srv.stop()
        yield Path(srv.data_dir)


def _twins(stopped: Path, tmp: Path) -> tuple[Path, Path]:
    out = []
    for side in ("a", "b"):
        d = tmp / side
        d.mkdir()
        shutil.copytree(stopped, d / "src")
        out.append(d)
    return out[0], out[1]


def _run(argv: list[str], args: list[str], cwd: Path) -> tuple[str, str, int]:
    p = subprocess.run(argv + args, capture_output=True, env=cli_env(None), cwd=cwd, timeout=120)
    return p.stdout.decode(), TS.sub("<TS>", p.stderr.decode()), p.returncode


CASES = [
    ["backup", "--data-dir", "src", "--backup-dir", "out"],
    ["backup", "--data-dir", "src", "--backup-dir", "out", "--with-v3"],
    ["backup", "--data-dir=src", "--backup-dir=out", "--with-v3=false"],
    ["backup", "--data-dir", "src", "--wal-dir", "src/member/wal", "--backup-dir", "out", "--backup-wal-dir", "owal"],
    ["backup", "--data-dir", "nonexist", "--backup-dir", "out"],
    ["backup", "--data-dir", "src", "--wal-dir", "nowal", "--backup-dir", "out"],
    ["backup"],
    ["backup", "--bogus"],
    ["backup", "--help"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a[1:]) or "noargs")
def test_backup_same_output(stopped, tmp_path, args):
    a, b = _twins(stopped, tmp_path)
    real = _run(real_argv(), args, a)
    ours = _run(py_argv(), args, b)
    assert ours == real
    if real[2] != 0:  # etcdctl leaves out/member/snap (or ./member/snap) behind; etcdctl-py leaves nothing
        assert sorted(os.listdir(b)) == ["src"]
    if real[2] == 0 and "--help" not in args:
        assert sorted(os.listdir(b / "out" / "member")) == sorted(os.listdir(a / "out" / "member"))
        assert sorted(os.listdir(b / "out" / "member" / "snap")) == sorted(os.listdir(a / "out" / "member" / "snap"))


def _serve_and_read(data_dir: Path, wal_dir: Path | None, base: Path) -> tuple[str, str, str]:
    """Start real etcd --force-new-cluster on a backup; read a v2 dir listing, one v2 key and the v3 key."""
    extra = ["--enable-v2", "--force-new-cluster"] + (["--wal-dir", str(wal_dir)] if wal_dir else [])
    srv = etcdproc.make_server(
        etcdproc.distro_bin("etcd"), str(base), name="restored", extra=extra, data_dir=str(data_dir)
    )
    srv.start()
    try:
        ls = run(real_argv(), [f"--endpoints={srv.client_url}", "ls", "--sort", "/dir"]).out
        one = run(real_argv(), [f"--endpoints={srv.client_url}", "get", "/dir/k29"]).out
        v3 = run(
            [etcdproc.distro_bin("etcdctl")], [f"--endpoints={srv.endpoint}", "get", "v3key"], env={"ETCDCTL_API": "3"}
        ).out
    finally:
        srv.stop()
    return ls, one, v3


@pytest.mark.parametrize("with_v3,custom_wal", [(False, False), (True, True)])
def test_real_etcd_starts_on_both(stopped, tmp_path, with_v3, custom_wal):
    a, b = _twins(stopped, tmp_path)
    args = (
        ["backup", "--data-dir", "src", "--backup-dir", "out"]
        + (["--with-v3"] if with_v3 else [])
        + (["--backup-wal-dir", "owal"] if custom_wal else [])
    )
    assert _run(real_argv(), args, a)[2] == 0
    assert _run(py_argv(), args, b)[2] == 0
    got = [_serve_and_read(d / "out", d / "owal" if custom_wal else None, d) for d in (a, b)]
    assert got[1] == got[0]
    ls, one, v3 = got[1]
    assert ls.splitlines() == [f"/dir/k{i:02d}" for i in range(30)] and one == "v29\n"
    assert v3 == ("v3key\nv3val\n" if with_v3 else "")


def test_known_difference_no_backup_dir(stopped, tmp_path):
    """Without --backup-dir etcdctl writes member/ into the current directory; etcdctl-py refuses a non-empty
    one before doing any work (never a partial backup), with etcdutl's fatal line for that check."""
    a, b = _twins(stopped, tmp_path)
    real = _run(real_argv(), ["backup", "--data-dir", "src"], a)
    assert real[2] == 0 and (a / "member" / "snap").is_dir()
    out, err, rc = _run(py_argv(), ["backup", "--data-dir", "src"], b)
    assert rc == 1 and out == ""
    assert err.startswith("<TS>\tfatal\tetcdutl/backup_command.go:118\tfailed creating backup snapshot dir\t")
    assert "exists and is not empty" in err.splitlines()[0]
    assert sorted(os.listdir(b)) == ["src"]
