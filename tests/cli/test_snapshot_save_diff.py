"""snapshot save through real etcdctl 3.5.1 and etcdctl-py on twin servers: same stdout/stderr/exit code and
snapshots of the same content; plus the atomic write, the TTY progress bar and --keep/--max-age retention."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

import pytest

from tests import difftest, etcdproc
from tests.cli.opsdiff import check_masked, help_without, put_both

EXTRA = ("keep", "max-age")


@pytest.fixture(scope="module")
def pair(twin_pair):
    put_both(twin_pair, [(f"s{i}", "v" * (i * 10)) for i in range(40)])
    return twin_pair


def _save_both(pair, tmp_path, *extra: str):
    a, b = tmp_path / "real", tmp_path / "ours"
    a.mkdir(exist_ok=True)
    b.mkdir(exist_ok=True)
    real = difftest.run([pair.etcdctl, "--endpoints", pair.a.endpoint, *extra, "snapshot", "save", str(a / "snap.db")])
    mine = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, *extra, "snapshot", "save", str(b / "snap.db")]
    )
    return real, mine, a / "snap.db", b / "snap.db"


_FETCHED = re.compile(rb'"size":"[^"]*","took":"[^"]*"')


def _norm(data: bytes, pair, tmp_path) -> bytes:
    """Mask paths, ports, timestamps, and the fetched size/duration: twins hold the same data, but their bbolt
    files need not be the same size (commit batching), and "took" depends on the machine's load."""
    data = data.replace(str(tmp_path / "real").encode(), b"DIR").replace(str(tmp_path / "ours").encode(), b"DIR")
    data = _FETCHED.sub(b'"size":"SIZE","took":"TOOK"', data)
    return difftest.mask_stderr(data, (pair.a.client_port, pair.b.client_port))


@pytest.mark.parametrize("extra", [[], ["-w", "json"], ["--command-timeout", "10s"], ["--hex"]], ids=str)
def test_save_identical(pair, tmp_path, extra):
    real, mine, fa, fb = _save_both(pair, tmp_path, *extra)
    assert mine.rc == real.rc == 0, mine
    assert _norm(mine.stdout, pair, tmp_path) == _norm(real.stdout, pair, tmp_path)
    assert _norm(mine.stderr, pair, tmp_path) == _norm(real.stderr, pair, tmp_path)
    # twins hold the same keys and revisions (their bbolt page layout may differ): same hash, revision, key count
    status = [
        difftest.run([etcdproc.distro_bin("etcdutl"), "snapshot", "status", str(f), "-w", "json"]).stdout
        for f in (fa, fb)
    ]
    assert status[0].split(b',"totalSize"')[0] == status[1].split(b',"totalSize"')[0] != b""
    assert os.stat(fb).st_mode & 0o777 == 0o600
    from etcdctl_py.humanize import go_bytes

    assert f'"size":"{go_bytes(os.path.getsize(fb))}"'.encode() in mine.stderr
    assert not os.path.exists(str(fb) + ".part")


ERRORS = [
    ["snapshot", "save"],
    ["snapshot", "save", "a", "b"],
    ["snapshot", "save", "/nonexistent/dir/snap.db"],
    ["snapshot", "save", "--help"],
    ["snapshot", "save", "--nosuch", "x"],
    ["snapshot", "--help"],
    ["snapshot"],
    ["snapshot", "save", "x.db", "--cert", ""],
]


@pytest.mark.parametrize("args", ERRORS, ids=" ".join)
def test_save_errors(pair, args):
    check_masked(pair, args, extra_flags=EXTRA)


def test_save_multiple_endpoints(pair, tmp_path):
    args = ["--endpoints", "127.0.0.1:1,127.0.0.1:2", "snapshot", "save", str(tmp_path / "m.db")]
    real, mine = pair.run(args, endpoints=False)
    assert (mine.rc, mine.stdout, mine.stderr) == (real.rc, real.stdout, real.stderr)
    assert mine.rc == 5


def test_save_dead_endpoint(pair, tmp_path):
    args = ["--endpoints", "127.0.0.1:1", "--command-timeout", "1s", "snapshot", "save", str(tmp_path / "d.db")]
    real, mine = pair.run(args, endpoints=False)
    assert (mine.rc, mine.stdout) == (real.rc, real.stdout) == (5, b"")
    assert difftest.mask_stderr(mine.stderr) == difftest.mask_stderr(real.stderr)
    assert os.listdir(tmp_path) == []  # no .part left behind


def test_save_directory_target(pair, tmp_path):
    """The rename onto an existing directory fails: exit 5 and the part file is gone."""
    (tmp_path / "real").mkdir()
    (tmp_path / "ours").mkdir()
    (tmp_path / "real" / "d.db").mkdir()
    (tmp_path / "ours" / "d.db").mkdir()
    real = difftest.run(
        [pair.etcdctl, "--endpoints", pair.a.endpoint, "snapshot", "save", str(tmp_path / "real" / "d.db")]
    )
    mine = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "snapshot", "save", str(tmp_path / "ours" / "d.db")]
    )
    assert mine.rc == real.rc == 5
    assert _norm(mine.stderr, pair, tmp_path).splitlines()[-1] == _norm(real.stderr, pair, tmp_path).splitlines()[-1]
    assert sorted(os.listdir(tmp_path / "ours")) == ["d.db"]


def test_save_overwrites_existing_file(pair, tmp_path):
    target = tmp_path / "ow.db"
    target.write_bytes(b"old")
    r = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "snapshot", "save", str(target)])
    assert r.rc == 0 and target.read_bytes()[:4] != b"old" and target.stat().st_size % 512 == 32


def test_save_help(pair):
    real, mine = pair.run(["snapshot", "save", "--help"])
    help_without(real.stdout, mine.stdout, list(EXTRA))


def test_progress_bar_only_on_tty(pair, tmp_path):
    """With stderr on a terminal a progress bar shows the byte count; piped, stderr is exactly etcdctl's lines."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "snapshot", "save", str(tmp_path / "tty.db")],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = p.communicate(timeout=30)
    os.close(master)
    tty = b"".join(chunks)
    assert p.returncode == 0 and out == f"Snapshot saved at {tmp_path / 'tty.db'}\n".encode()
    size = (tmp_path / "tty.db").stat().st_size
    assert b"snapshot" in tty and b"kB" in tty and b"ETA" in tty, tty
    assert f"{size / 1000:.1f}/{size / 1000:.1f} kB".encode() in tty, tty
    piped = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "snapshot", "save", str(tmp_path / "pipe.db")]
    )
    assert b"ETA" not in piped.stderr and len(piped.stderr.splitlines()) == 6


def test_rich_not_imported_when_piped(pair, tmp_path):
    code = (
        "import sys, etcdctl_py.cli.main as m\n"
        f"rc = m.main(['--endpoints', '{pair.b.endpoint}', 'snapshot', 'save', '{tmp_path / 'r.db'}'])\n"
        "sys.stdout.write('RICH=%s\\n' % ('rich' in sys.modules))\n"
    )
    r = difftest.run([sys.executable, "-c", code])
    assert r.stdout.endswith(b"RICH=False\n"), r


# ------------------------------------------------------------------ retention


def _ours_save(pair, path, *extra: str) -> difftest.Result:
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "snapshot", "save", str(path), *extra])


def _age(path, days: float) -> None:
    t = time.time() - days * 86400
    os.utime(path, (t, t))


def test_keep_newest(pair, tmp_path):
    for d in (5, 4, 3, 2, 1):
        assert _ours_save(pair, tmp_path / f"etcd-2026110{d}.db").rc == 0
        _age(tmp_path / f"etcd-2026110{d}.db", 10 - d)
    (tmp_path / "etcd-notasnapshot-20260101.db").write_bytes(b"x" * 100)  # other name: untouched
    (tmp_path / "etcd-20250101.db.txt").write_bytes(b"x")  # other name: untouched
    (tmp_path / "etcd-20250101.db").write_bytes(b"not bolt" * 100)  # same pattern but not a snapshot: untouched
    r = _ours_save(pair, tmp_path / "etcd-20261125.db", "--keep", "3")
    assert r.rc == 0, r
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"Snapshot saved at {tmp_path / 'etcd-20261125.db'}"
    removed = [ln.split()[3] for ln in lines if ln.startswith("Removed old snapshot ")]
    assert removed == [
        str(tmp_path / "etcd-20261103.db"),
        str(tmp_path / "etcd-20261102.db"),
        str(tmp_path / "etcd-20261101.db"),
    ]
    assert all("beyond the newest 3" in ln for ln in lines[1:4])
    assert lines[-1] == f"Retention (keep 3): 3 snapshots kept, 3 removed in {tmp_path}"
    assert sorted(os.listdir(tmp_path)) == [
        "etcd-20250101.db",
        "etcd-20250101.db.txt",
        "etcd-20261104.db",
        "etcd-20261105.db",
        "etcd-20261125.db",
        "etcd-notasnapshot-20260101.db",
    ]


def test_max_age_and_keep(pair, tmp_path):
    for name, days in (("b-1.db", 40), ("b-2.db", 31), ("b-3.db", 29), ("b-4.db", 1)):
        assert _ours_save(pair, tmp_path / name).rc == 0
        _age(tmp_path / name, days)
    r = _ours_save(pair, tmp_path / "b-5.db", "--max-age", "30d", "--keep=10")
    assert r.rc == 0, r
    lines = r.stdout.decode().splitlines()
    assert [ln.split()[3] for ln in lines if ln.startswith("Removed")] == [
        str(tmp_path / "b-2.db"),
        str(tmp_path / "b-1.db"),
    ]
    assert "older than 30d" in lines[1]
    assert lines[-1] == f"Retention (keep 10, max age 30d): 3 snapshots kept, 2 removed in {tmp_path}"
    r2 = _ours_save(pair, tmp_path / "b-6.db", "--max-age", "1w")
    assert r2.stdout.decode().splitlines()[-1] == f"Retention (max age 1w): 3 snapshots kept, 1 removed in {tmp_path}"


def test_retention_summary_counts_one_snapshot_in_the_singular(pair, tmp_path):
    assert _ours_save(pair, tmp_path / "etcd-20261101.db").rc == 0
    _age(tmp_path / "etcd-20261101.db", 1)
    r = _ours_save(pair, tmp_path / "etcd-20261102.db", "--keep", "1")
    assert r.rc == 0, r
    assert r.stdout.decode().splitlines()[-1] == f"Retention (keep 1): 1 snapshot kept, 1 removed in {tmp_path}"
    assert os.listdir(tmp_path) == ["etcd-20261102.db"]


@pytest.mark.parametrize(
    "extra,err",
    [
        (
            ["--keep", "2"],
            b"Error: --keep/--max-age need a dated snapshot name (digits in it, e.g. "
            b"snapshot-$(date +%Y%m%d-%H%M%S).db), not 'plain.db'\n",
        ),
        (
            ["--max-age", "30 days"],
            b"Error: invalid --max-age '30 days': use a number with a unit s, m, h, d or w (e.g. 30d)\n",
        ),
        (["--keep", "-1"], b"Error: --keep must be zero or positive\n"),
    ],
)
def test_retention_errors(pair, tmp_path, extra, err):
    r = _ours_save(pair, tmp_path / "plain.db", *extra)
    assert (r.rc, r.stdout, r.stderr) == (128, b"", err)
    assert os.listdir(tmp_path) == []
