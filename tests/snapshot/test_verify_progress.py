"""`snapshot status --verify` from the command line (etcdutl-py and etcdctl-py), and the progress bar that
status / --verify / restore draw on a terminal (a real pseudo-terminal here) but never when piped."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdctl_py.snapshot import progress as progress_mod
from etcdctl_py.storage import backend
from etcdctl_py.storage.bbolt import open_db, write_compact
from tests import etcdproc

UTL = [sys.executable, "-m", "etcdctl_py.cli.etcdutl"]
CTL = etcdproc.etcdctl_py_argv()


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def run_on_tty(argv: list[str]) -> tuple[int, str, bytes]:
    """Run with stderr on a pseudo-terminal (stdout piped): (exit code, stdout, all bytes the terminal got)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        got = b""
        while True:
            ready = select.select([master], [], [], 0.1)[0]
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                got += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode()
        proc.wait(timeout=60)
        return proc.returncode, out, got
    finally:
        os.close(master)


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Iterator[Path]:
    """An etcd-shaped bbolt file just over the progress bar threshold (no sha256 trailer)."""
    with etcdproc.scratch_dir(tmp_path_factory, "bigdb") as scratch:
        path = scratch / "big.db"
        value = bytes(range(256)) * 4
        n = (progress_mod.MIN_BYTES + (4 << 20)) // 1040

        def keys():
            for i in range(n):
                yield backend.rev_to_bytes(i + 2), value[: 900 + i % 100]

        write_compact(str(path), {b"key": keys(), b"meta": [(b"consistent_index", backend.u64_be(n + 1))]}, fill=0.9)
        assert path.stat().st_size >= progress_mod.MIN_BYTES
        yield path


# --------------------------------------------------------------------------- --verify


def test_verify_ok_text_and_json(real_snaps):
    path = str(real_snaps["small"])
    r = run(UTL + ["snapshot", "status", path, "--verify"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "sha256 trailer: valid" in r.stdout and r.stdout.endswith(
        "result: OK (every page reachable once or free, metas valid, keys sorted)\n"
    )
    r = run(UTL + ["snapshot", "status", path, "--verify", "-w", "json"])
    rep = json.loads(r.stdout)
    want = json.loads(run([etcdproc.distro_bin("etcdutl"), "snapshot", "status", path, "-w", "json"]).stdout)
    assert rep["ok"] and rep["status"] == want
    assert sum(rep["buckets"].values()) == want["totalKey"] and rep["buckets"]["key"] == want["revision"]


def test_verify_reports_problems_with_an_error_line(real_snaps, tmp_path):
    data = bytearray(real_snaps["small"].read_bytes())
    with open_db(str(real_snaps["small"])) as db:
        root, ps = db.meta.root, db.page_size
    data[root * ps + 8] = 0x10  # the root page claims to be a freelist page
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))  # the sha256 trailer no longer matches either
    r = run(UTL + ["snapshot", "status", str(bad), "--verify"])
    assert r.returncode == 1
    assert "  - sha256 trailer does not match the bbolt image\n" in r.stdout
    assert f"  - page {root}: invalid type: freelist\n" in r.stdout
    n = r.stdout.count("\n  - ")
    assert n >= 2 and r.stderr == f"Error: snapshot file verification failed: {n} problem(s) found\n"
    assert "Traceback" not in r.stderr
    # plain status on the same file (etcdutl 3.5.1 panics on it): bbolt Check's error, no report
    ours = run(UTL + ["snapshot", "status", str(bad)])
    assert ours.returncode == 1 and ours.stdout == ""
    assert ours.stderr.startswith("Error: snapshot file integrity check failed. ")


@pytest.mark.parametrize(
    "args,code,err",
    [
        (["missing.db"], 1, "Error: stat missing.db: no such file or directory\n"),
        (["junk.db"], 1, "Error: invalid database\n"),
        (["small.db", "-w", "protobuf"], 4, "Error: protobuf not supported as output format\n"),
        (["small.db", "-w", "bogus"], 4, "Error: unsupported output format\n"),
    ],
)
def test_verify_errors(real_snaps, tmp_path, args, code, err):
    (tmp_path / "small.db").write_bytes(real_snaps["small"].read_bytes())
    (tmp_path / "junk.db").write_bytes(b"\x07" * 8192)
    r = run(UTL + ["snapshot", "status", "--verify", *args], cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (code, "", err)


def test_etcdctl_verify_is_the_same_code(real_snaps):
    path = str(real_snaps["auth"])
    ours = run(CTL + ["snapshot", "status", path, "--verify"])
    utl = run(UTL + ["snapshot", "status", path, "--verify"])
    assert ours.returncode == 0 and ours.stdout == utl.stdout
    assert ours.stderr == "Deprecated: Use `etcdutl snapshot status` instead.\n\n"


# --------------------------------------------------------------------------- progress bars


def test_status_on_a_terminal_draws_a_transient_bar(big_db):
    want = run([etcdproc.distro_bin("etcdutl"), "snapshot", "status", str(big_db), "-w", "table"])
    code, out, term = run_on_tty(UTL + ["snapshot", "status", str(big_db), "-w", "table"])
    assert (code, out) == (0, want.stdout)
    assert b"status" in term and b"100%" in term
    assert term.endswith(b"\x1b[2K")  # the bar erases itself: the terminal is left as etcdutl leaves it


def test_verify_on_a_terminal_shows_each_stage(big_db):
    code, out, term = run_on_tty(UTL + ["snapshot", "status", str(big_db), "--verify"])
    assert code == 0 and out.endswith("keys sorted)\n")
    assert b"structure" in term and b"hash" in term and b"sha256" not in term  # no trailer to check


def test_no_bar_and_no_rich_when_piped(big_db, real_snaps):
    code = (
        "import sys\nfrom etcdctl_py.cli import etcdutl\n"
        "rc = etcdutl.main(sys.argv[1:])\n"
        "print('rich loaded' if any(m == 'rich' or m.startswith('rich.') for m in sys.modules) else 'no rich')\n"
        "sys.exit(rc)\n"
    )
    for args in (["snapshot", "status", str(big_db)], ["snapshot", "status", str(big_db), "--verify"]):
        r = run([sys.executable, "-c", code, *args])
        assert r.returncode == 0 and r.stderr == "" and r.stdout.endswith("no rich\n"), (args, r.stderr)
    # a small file on a terminal: no bar either
    code_, out, term = run_on_tty(UTL + ["snapshot", "status", str(real_snaps["small"])])
    assert code_ == 0 and term == b""


def test_restore_on_a_terminal_keeps_the_log_lines_verbatim(big_db, tmp_path):
    def args(out: str) -> list[str]:
        return [
            "snapshot",
            "restore",
            str(big_db),
            "--skip-hash-check",
            "--output-dir",
            str(tmp_path / out),
            "--initial-cluster",
            "a=http://127.0.0.1:1,b=http://127.0.0.1:2",
        ]

    code, out, term = run_on_tty(UTL + args("out"))
    assert code == 0 and out == ""
    assert b"a: copy" in term and b"b: check" in term
    piped = run(UTL + args("piped"))
    assert piped.returncode == 0
    ts = re.compile(r"^\S+\t")
    for line in piped.stderr.replace(str(tmp_path / "piped"), str(tmp_path / "out")).splitlines():
        # the terminal turns \n into \r\n; every log line arrives whole, unwrapped, its tabs kept
        pattern = re.escape(ts.sub("", line)).encode() + b"\r\n"
        assert re.search(pattern, term), line[:120]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.etcd", "b.etcd"]
    for m in ("a", "b"):
        st = run(
            [
                etcdproc.distro_bin("etcdutl"),
                "snapshot",
                "status",
                str(tmp_path / "out" / f"{m}.etcd" / "member" / "snap" / "db"),
            ]
        )
        assert st.returncode == 0, st.stderr


def test_verify_never_raises_on_damaged_files(real_snaps, tmp_path):
    """Flips and cuts anywhere: verify() always returns a report; a clean report agrees with plain status."""
    import random

    from etcdctl_py.snapshot.status import SnapshotStatusError, status, verify

    src = real_snaps["compacted"].read_bytes()
    rnd = random.Random(7)
    flagged = 0
    for i in range(150):
        data = bytearray(src)
        if i % 10 == 9:
            data = data[: rnd.randrange(0, len(data))]
        else:
            for _ in range(1 + i % 3):
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        p = tmp_path / f"v{i}.db"
        p.write_bytes(bytes(data))
        rep = verify(str(p))
        assert rep.ok == (not rep.problems)
        assert rep.render().startswith(f"file: {p}\n")
        if rep.ok:
            try:
                assert status(str(p)) == rep.status
            except SnapshotStatusError:
                raise AssertionError(f"case {i}: verify found nothing but status fails") from None
        else:
            flagged += 1
    assert flagged >= 100  # nearly every flip lands in data covered by the sha256 trailer at least
