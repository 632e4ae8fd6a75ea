"""Live watch through the real etcdctl (events arriving while it runs) and periodic progress
notifications (--experimental-watch-progress-notify-interval), real etcd 3.5.1 vs etcd-py."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

import etcdproc
from conftest import Ctl, mask


@pytest.fixture(scope="module")
def wtwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="watch-twins",
                                extra=["--experimental-watch-progress-notify-interval", "1s"])
    yield real, ours
    real.stop()
    ours.stop()


def _start(endpoint: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([etcdproc.distro_bin("etcdctl"), f"--endpoints={endpoint}", "watch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(p: subprocess.Popen) -> tuple[int, str, str]:
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(10)
    return p.returncode, mask(out.decode("latin-1")), mask(err.decode("latin-1"))


WATCHES = [["w", "--prefix"], ["w", "--prefix", "--prev-kv", "-w", "json"], ["w1"], ["w1", "w3", "-w", "fields"],
           ["w", "--prefix", "-w", "protobuf"], ["w2", "--prev-kv"]]
OPS = [["put", "w1", "a"], ["put", "w2", "b"], ["put", "w1", "c"], ["put", "x", "not watched"],
       ["txn"], ["del", "w1"], ["put", "w2", "d", "--prev-kv"], ["del", "w", "--prefix"]]


def test_live_watch(wtwins):
    procs = [[_start(srv.endpoint, *w) for w in WATCHES] for srv in wtwins]
    time.sleep(1.0)
    for op in OPS:
        for srv in wtwins:
            stdin = 'create("w1") > "0"\n\nput w3 t\nput w2 t\n\nput w9 f\n\n' if op == ["txn"] else None
            rc, _, err = Ctl(srv.endpoint)(*op, stdin=stdin)
            assert rc == 0, err
    time.sleep(0.8)
    results = [[_stop(p) for p in ps] for ps in procs]
    for i, w in enumerate(WATCHES):
        assert results[1][i] == results[0][i], (w, results[0][i], results[1][i])
    assert results[0][0][1].count("PUT") == 6 and results[0][0][1].count("DELETE") == 3


def test_progress_notify(wtwins):
    procs = [[_start(srv.endpoint, "pk", "--progress-notify", *fmt) for fmt in ([], ["-w", "json"])]
             for srv in wtwins]
    time.sleep(3.5)
    results = [[_stop(p) for p in ps] for ps in procs]
    for real, ours in zip(*results):
        r_lines, o_lines = real[1].splitlines(), ours[1].splitlines()
        assert set(o_lines) == set(r_lines) and r_lines
        assert 2 <= len([x for x in o_lines if x.startswith("progress notify:")]) <= 4
    assert results[1][0][1].startswith("progress notify: ")
