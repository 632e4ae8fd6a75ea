"""Shared pytest fixtures: real etcd servers on loopback, stopped by pid at the end."""

from __future__ import annotations

import os
import shutil
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import etcdproc  # noqa: E402

# A suite started in the background by a non-interactive shell (`bash -c '... &'`, nohup) inherits SIGINT/SIGQUIT
# ignored, and exec keeps them ignored in every child: the etcdctl processes the tests stop with Ctrl-C's signal
# would never die. Take the default back here so children start with it.
for _sig in (signal.SIGINT, signal.SIGQUIT):
    if signal.getsignal(_sig) == signal.SIG_IGN:
        signal.signal(_sig, signal.default_int_handler if _sig == signal.SIGINT else signal.SIG_DFL)


@pytest.fixture(scope="session")
def etcd_bin() -> str:
    return etcdproc.distro_bin("etcd")


@pytest.fixture(scope="session")
def etcdctl_bin() -> str:
    return etcdproc.distro_bin("etcdctl")


@pytest.fixture(scope="session")
def etcdutl_bin() -> str:
    return etcdproc.distro_bin("etcdutl")


@pytest.fixture
def real_etcd(tmp_path, etcd_bin):
    """One real etcd 3.5.1 on free loopback ports."""
    srv = etcdproc.make_server(etcd_bin, str(tmp_path), name="default")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def twin_pair(tmp_path_factory, etcd_bin):
    """Two real etcd 3.5.1 servers with identical IDs: real etcdctl talks to one, etcdctl-py to the other."""
    import difftest

    base = str(tmp_path_factory.mktemp("twins"))
    a, b = etcdproc.twins(etcd_bin, etcd_bin, base)
    yield difftest.Pair(a, b)
    a.stop()
    b.stop()
    shutil.rmtree(base, ignore_errors=True)  # two 64 MB WAL files per pair: free them before the next module


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_children():
    """Safety net: at the end of the session, stop any server process this pytest started and a
    fixture forgot (children of this process only, by pid)."""
    yield
    import signal
    import time

    me = str(os.getpid())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if fields[1] == me and (b"etcd" in cmd):
            pids.append(int(entry))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if os.path.exists(f"/proc/{p}") and _alive(p)]
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
