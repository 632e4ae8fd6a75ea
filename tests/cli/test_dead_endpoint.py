"""A member nobody answers on: `snapshot save` and `make-mirror` end after --dial-timeout (cron jobs must not hang).

Real etcdctl 3.5.1 waits for such a member forever, except when --user makes it log in while it builds its
client: that login is bounded by --dial-timeout, and a failed dial then ends the command with clientv3's warning
line, `Error: context deadline exceeded` and exit 5 (snapshot save) or 2 (make-mirror). etcdctl-py ends every
such run that way, with or without a user. So each case here runs real etcdctl *with* `--user` next to
etcdctl-py and compares exit code, stdout and stderr (timestamps, Go pointers and ports masked); no file may be
left behind. The time of each run is printed; the bound asserted (dial timeout + 5 s) only catches a hang.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests import difftest, etcdproc

ETCDCTL = etcdproc.distro_bin("etcdctl")
DIAL = ["--dial-timeout", "1s"]
HANG_BOUND = 1 + 5  # --dial-timeout + generous slack for a loaded machine: passing it means a hang


def _timed(argv: list[str], label: str) -> tuple[difftest.Result, float]:
    t0 = time.monotonic()
    r = difftest.run(argv, timeout=60)
    took = time.monotonic() - t0
    print(f"{label}: exit {r.rc} after {took:.2f} s")
    return r, took


def _dead() -> str:
    return f"127.0.0.1:{etcdproc.free_port()}"


@pytest.mark.parametrize("case", ["plain", "tls", "user", "unix-socket"])
def test_snapshot_save_ends_like_etcdctls_failed_login(tmp_path, case):
    """The HTTP/2 fast path (plain), the TCP check before grpc (TLS, a user) and the grpc check (a unix socket):
    the warning of etcdctl's snapshot logger, `Error: context deadline exceeded`, exit 5, no `.part` file."""
    endpoint = f"unix://{tmp_path}/nobody.sock" if case == "unix-socket" else _dead()
    extra = {"plain": [], "tls": ["--insecure-transport=false"], "user": ["--user", "root:pw"], "unix-socket": []}[case]
    real_extra = extra if case == "user" else [*extra, "--user", "root:pw"]
    results = []
    for name, argv0, flags in (("real", [ETCDCTL], real_extra), ("ours", difftest.ETCDCTL_PY, extra)):
        d = tmp_path / name
        d.mkdir()
        r, took = _timed(
            [*argv0, "--endpoints", endpoint, *DIAL, *flags, "snapshot", "save", str(d / "x.db")], f"{name} {case}"
        )
        assert os.listdir(d) == [], (name, os.listdir(d))
        results.append((r, took))
    (real, _), (ours, took) = results
    assert took < HANG_BOUND, took
    assert (ours.rc, ours.stdout) == (real.rc, real.stdout) == (5, b""), (real, ours)
    assert difftest.mask_stderr(ours.stderr) == difftest.mask_stderr(real.stderr), (real, ours)
    assert ours.stderr.endswith(b"\nError: context deadline exceeded\n") and b'"logger":"client"' in ours.stderr


def test_snapshot_save_member_coming_up_within_the_dial_timeout(tmp_path, etcd_bin):
    """Refused connections are tried again until --dial-timeout: a member that starts meanwhile is saved from."""
    (tmp_path / "srv").mkdir()
    srv = etcdproc.make_server(etcd_bin, str(tmp_path / "srv"), name="late")
    p = subprocess.Popen(
        [
            *difftest.ETCDCTL_PY,
            "--endpoints",
            srv.endpoint,
            "--dial-timeout",
            "30s",
            "snapshot",
            "save",
            str(tmp_path / "late.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")},
    )
    try:
        srv.start()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        srv.stop()
    assert p.returncode == 0, err
    assert out == f"Snapshot saved at {tmp_path / 'late.db'}\n".encode()
    assert (tmp_path / "late.db").stat().st_size % 512 == 32


@pytest.mark.parametrize("until_synced", [True, False], ids=["until-synced", "follow"])
def test_make_mirror_source_down_ends_like_etcdctls_failed_login(real_etcd, until_synced):
    """The destination answers, the source does not: exit 2 after the client's warning (the etcd-client logger's,
    as for every other verb), as real etcdctl ends when its --user login to the source cannot connect. Without
    the check etcdctl-py printed `0` every 30 s forever, and so does etcdctl without --user."""
    src = _dead()
    mode = ["--until-synced"] if until_synced else []
    real, _ = _timed(
        [ETCDCTL, "--endpoints", src, "--user", "root:pw", *DIAL, "make-mirror", real_etcd.endpoint], "real"
    )
    ours, took = _timed(
        [*difftest.ETCDCTL_PY, "--endpoints", src, *DIAL, "make-mirror", *mode, real_etcd.endpoint], "ours"
    )
    assert took < HANG_BOUND, took
    assert (ours.rc, ours.stdout) == (real.rc, real.stdout) == (2, b""), (real, ours)
    assert difftest.mask_stderr(ours.stderr) == difftest.mask_stderr(real.stderr), (real, ours)
    assert ours.stderr.endswith(b"\nError: context deadline exceeded\n")


def test_until_synced_is_bounded_by_an_explicit_command_timeout(real_etcd, tmp_path, etcd_bin):
    """--until-synced cannot be in sync before two progress notifications (0.3 s apart) have come, so a 200 ms
    --command-timeout always ends it first: `Error: context deadline exceeded`, exit 1."""
    (tmp_path / "dst").mkdir()
    dst = etcdproc.make_server(etcd_bin, str(tmp_path / "dst"), name="dst")
    dst.start()
    try:
        r, took = _timed(
            [
                *difftest.ETCDCTL_PY,
                "--endpoints",
                real_etcd.endpoint,
                "--command-timeout",
                "200ms",
                "make-mirror",
                "--until-synced",
                dst.endpoint,
            ],
            "ours",
        )
        ok = difftest.run(
            [*difftest.ETCDCTL_PY, "--endpoints", real_etcd.endpoint, "make-mirror", "--until-synced", dst.endpoint]
        )
    finally:
        dst.stop()
    assert (r.rc, r.stdout, r.stderr) == (1, b"", b"Error: context deadline exceeded\n"), r
    assert took < HANG_BOUND, took
    assert ok.rc == 0 and ok.stdout.startswith(b"in sync at source revision "), ok
