"""Live watch through the real etcdctl (events arriving while it runs) and periodic progress
notifications (--experimental-watch-progress-notify-interval), real etcd 3.5.1 vs etcd-py."""

from __future__ import annotations

import contextlib
import signal
import time

import pytest

from tests import etcdproc
from tests.cli.verbdiff import Proc
from tests.server.servertools import Ctl, mask


@pytest.fixture(scope="module")
def wtwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"),
        etcd_py_bin,
        server_tmp,
        token="watch-twins",
        extra=["--experimental-watch-progress-notify-interval", "1s"],
    )
    yield real, ours
    real.stop()
    ours.stop()


def _start(endpoint: str, *args: str) -> Proc:
    return Proc([etcdproc.distro_bin("etcdctl"), f"--endpoints={endpoint}", "watch", *args])


def _stop(p: Proc) -> tuple[int | None, str, str]:
    r = p.finish(signal.SIGINT)
    return r.rc, mask(r.stdout.decode("latin-1")), mask(r.stderr.decode("latin-1"))


def _text(p: Proc) -> str:
    return mask(bytes(p.out).decode("latin-1"))


def _caught_up(procs: list[list[Proc]]) -> bool:
    """The real side's widest watch printed all 9 events, and each of our watches what its real twin did."""
    real, ours = procs
    widest = _text(real[0])
    return (
        widest.count("PUT") == 6
        and widest.count("DELETE") == 3
        and all(_text(o) == _text(r) for r, o in zip(real, ours, strict=True))
    )


WATCHES = [
    ["w", "--prefix"],
    ["w", "--prefix", "--prev-kv", "-w", "json"],
    ["w1"],
    ["w1", "w3", "-w", "fields"],
    ["w", "--prefix", "-w", "protobuf"],
    ["w2", "--prev-kv"],
]
OPS = [
    ["put", "w1", "a"],
    ["put", "w2", "b"],
    ["put", "w1", "c"],
    ["put", "x", "not watched"],
    ["txn"],
    ["del", "w1"],
    ["put", "w2", "d", "--prev-kv"],
    ["del", "w", "--prefix"],
]


def test_live_watch(wtwins):
    procs = [[_start(srv.endpoint, *w) for w in WATCHES] for srv in wtwins]
    try:
        for srv in wtwins:  # every watch established (etcd's watcher gauge, which etcd-py exports too)
            etcdproc.wait_until(lambda srv=srv: etcdproc.watchers(srv.client_url) >= len(WATCHES), 20, "the watches")
        assert etcdproc.watchers(wtwins[0].client_url) == etcdproc.watchers(wtwins[1].client_url) == len(WATCHES)
        for op in OPS:
            for srv in wtwins:
                stdin = 'create("w1") > "0"\n\nput w3 t\nput w2 t\n\nput w9 f\n\n' if op == ["txn"] else None
                rc, _, err = Ctl(srv.endpoint)(*op, stdin=stdin)
                assert rc == 0, err
        with contextlib.suppress(TimeoutError):  # then the outputs differ: the comparison below shows how
            etcdproc.wait_until(lambda: _caught_up(procs), 10, "every watch to print the last events")
    finally:
        results = [[_stop(p) for p in ps] for ps in procs]  # every watch ends, even after a failed step
    for i, w in enumerate(WATCHES):
        assert results[1][i] == results[0][i], (w, results[0][i], results[1][i])
    assert results[0][0][1].count("PUT") == 6 and results[0][0][1].count("DELETE") == 3


def test_progress_notify(wtwins):
    procs = [[_start(srv.endpoint, "pk", "--progress-notify", *fmt) for fmt in ([], ["-w", "json"])] for srv in wtwins]
    time.sleep(3.5)  # deliberate: progress notifications come every 1 s; let a few come
    results = [[_stop(p) for p in ps] for ps in procs]
    for real, ours in zip(*results, strict=True):
        r_lines, o_lines = real[1].splitlines(), ours[1].splitlines()
        assert set(o_lines) == set(r_lines) and r_lines
        assert 2 <= len([x for x in o_lines if x.startswith("progress notify:")]) <= 4
    assert results[1][0][1].startswith("progress notify: ")
