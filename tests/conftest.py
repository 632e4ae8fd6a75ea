"""Shared pytest fixtures: real etcd servers on loopback, stopped by pid at the end."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import difftest, etcdproc
from tests.snapshot import realsnaps

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
    with etcdproc.scratch_dir(tmp_path_factory, "twins") as base:  # two 64 MB WAL files: gone with the module
        a, b = etcdproc.twins(etcd_bin, etcd_bin, str(base))
        yield difftest.Pair(a, b)
        a.stop()
        b.stop()


@pytest.fixture(scope="session")
def real_snaps(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """Snapshots saved from a real etcd 3.5.1 (tests/snapshot/realsnaps.py), built once per session, for the
    snapshot, storage and etcdutl tests; removed when the session ends."""
    with etcdproc.scratch_dir(tmp_path_factory, "realsnaps") as base:
        yield realsnaps.build(base)


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_children():
    """Safety net: at the end of the session, stop any server process this pytest started and a
    fixture forgot (children of this process only, by pid)."""
    yield
    pids = etcdproc.child_pids(os.getpid(), b"etcd")
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    try:
        etcdproc.wait_until(lambda: not any(_alive(p) for p in pids), 5, "leftover servers to stop", step=0.1)
    except TimeoutError:
        for pid in pids:
            _kill(pid, signal.SIGKILL)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
