"""Offline `defrag --data-dir`: etcdutl-py against real etcdutl 3.5.1 on copies of a real etcd
data dir; content unchanged, file smaller, real etcd 3.5.1 starts on the result; errors and the
lock hint; nothing left behind on failure.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etcdctl_py.snapshot.defrag import DefragError, defrag_data_dir
from etcdctl_py.snapshot.status import status
from tests import etcdproc

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\t(\w+)\t(\S+)\t([^\t{]+)\t(\{.*\})$")


def run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def parse_log(stderr: str) -> list[tuple[str, str, str, dict]]:
    out = []
    for line in stderr.splitlines():
        m = LINE.match(line)
        assert m, line
        fields = json.loads(m.group(5))
        out.append((m.group(2), m.group(3), m.group(4), fields))
    return out


@pytest.fixture
def two_copies(real_snaps, tmp_path) -> tuple[Path, Path]:
    a, b = tmp_path / "ours", tmp_path / "theirs"
    shutil.copytree(real_snaps["datadir"], a)
    shutil.copytree(real_snaps["datadir"], b)
    return a, b


def test_defrag_like_etcdutl_and_etcd_starts_on_it(two_copies, etcd_bin, tmp_path):
    ours, theirs = two_copies
    before = status(str(ours / "member" / "snap" / "db"))
    got = run([sys.executable, "-m", "etcdctl_py.cli.etcdutl", "defrag", "--data-dir", str(ours)])
    want = run([etcdproc.distro_bin("etcdutl"), "defrag", "--data-dir", str(theirs)])
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout) == (0, "")
    g, w = parse_log(got.stderr), parse_log(want.stderr)
    assert [(lv, c, m, list(f)) for lv, c, m, f in g] == [(lv, c, m, list(f)) for lv, c, m, f in w]
    # same starting numbers (size, size in use), same path text
    assert g[0][3] == {**w[0][3], "path": g[0][3]["path"]}
    assert g[0][3]["path"] == str(ours / "member" / "snap" / "db")
    assert g[1][3]["current-db-size-bytes"] <= w[1][3]["current-db-size-bytes"]
    assert isinstance(g[1][3]["took"], float)
    after = status(str(ours / "member" / "snap" / "db"))
    assert (after.hash, after.revision, after.total_key) == (before.hash, before.revision, before.total_key)
    assert after.total_size < before.total_size
    assert sorted(os.listdir(ours / "member" / "snap")) == sorted(os.listdir(theirs / "member" / "snap"))
    # the real server runs on our defragmented db
    srv = etcdproc.make_server(etcd_bin, str(tmp_path), name="snapsrc", data_dir=str(ours))
    srv.start()
    try:
        r = run(
            [
                etcdproc.distro_bin("etcdctl"),
                "--endpoints",
                srv.endpoint,
                "--user",
                "root:rootpw",
                "get",
                "big/",
                "--prefix",
                "--count-only",
                "-w",
                "fields",
            ]
        )
        assert r.returncode == 0, r.stderr
        assert f'"Count" : {20000 - len(range(0, 500, 7))}\n' in r.stdout
        r = run(
            [
                etcdproc.distro_bin("etcdctl"),
                "--endpoints",
                srv.endpoint,
                "--user",
                "root:rootpw",
                "put",
                "after-defrag",
                "ok",
            ]
        )
        assert r.returncode == 0, r.stderr
    finally:
        srv.stop()


def test_missing_db_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "d" / "member" / "snap").mkdir(parents=True)
    r = run([sys.executable, "-m", "etcdctl_py.cli.etcdutl", "defrag", "--data-dir", str(tmp_path / "d")])
    assert r.returncode == 1
    assert r.stderr == (
        f"Error: Failed to defragment etcd data[{tmp_path / 'd'}] "
        f"(open {tmp_path / 'd' / 'member' / 'snap' / 'db'}: no such file or directory)\n"
    )
    assert os.listdir(tmp_path / "d" / "member" / "snap") == []


def test_not_a_bbolt_file(tmp_path):
    snap = tmp_path / "d" / "member" / "snap"
    snap.mkdir(parents=True)
    (snap / "db").write_bytes(b"\x01" * 9000)
    with pytest.raises(DefragError, match="^invalid database$"):
        defrag_data_dir(str(tmp_path / "d"), log=None)
    assert os.listdir(snap) == ["db"]


def test_waits_for_the_lock_with_etcdutls_hint(real_snaps, tmp_path):
    snap = tmp_path / "d" / "member" / "snap"
    snap.mkdir(parents=True)
    shutil.copyfile(real_snaps["small"], snap / "db")
    log = io.StringIO()
    with open(snap / "db", "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DefragError, match="^timeout$"):
            defrag_data_dir(str(tmp_path / "d"), log=log, lock_timeout=1.3)
    dbp = str(snap / "db")
    assert log.getvalue() == (
        f'waiting for etcd to close and release its lock on "{dbp}". '
        "To defrag a running etcd instance, omit --data-dir.\n"
    )
    assert os.listdir(snap) == ["db"]
    res = defrag_data_dir(str(tmp_path / "d"), log=None)  # lock released: works
    assert res.size_after <= res.size_before
