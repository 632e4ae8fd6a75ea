"""etcd3gw 2.7.0's own test suite (OpenStack's client of etcd's JSON gateway) against real etcd 3.5.1 and etcd-py.

The suite ships in the etcd3gw wheel; its functional tests read the server from TOOZ_TEST_HTTP_URL and
TOOZ_TEST_ETCD_PORT and build `Etcd3Client(port=...)`, whose host defaults to "localhost". A small pytest plugin,
written next to the run, points that client at the literal 127.0.0.1 (no name is ever resolved) and gives every
test a time limit (SIGALRM), so a watch that never ends fails its test instead of hanging the run. Both servers
run the suite at the same time; etcd-py must pass every test real etcd passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests import etcdproc

PLUGIN = '''
import signal
import sys

import pytest

PER_TEST_SECONDS = 60


def pytest_collection_modifyitems(session, config, items):
    """The functional tests' client: the literal loopback address instead of "localhost"."""
    mod = sys.modules.get("etcd3gw.tests.test_etcd3gw")
    if mod is None:
        return
    real = mod.Etcd3Client

    class Loopback(real):
        def __init__(self, host="127.0.0.1", *args, **kwargs):
            super().__init__(host, *args, **kwargs)

    mod.Etcd3Client = Loopback


def _expired(signum, frame):
    raise TimeoutError(f"test ran over {PER_TEST_SECONDS}s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(PER_TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
'''


def _outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed / failed / error / skipped, from a junit xml report."""
    out: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out[name] = (
            {"failure": "failed", "error": "error", "skipped": "skipped"}.get(kinds[0], "?") if kinds else "passed"
        )
    return out


def _start_suite(workdir: Path, name: str, port: int) -> tuple[subprocess.Popen, Path]:
    junit = workdir / f"{name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD", "TOOZ_"))}
    env.update(
        TOOZ_TEST_HTTP_URL=f"http://127.0.0.1:{port}",
        TOOZ_TEST_ETCD_PORT=str(port),
        PYTHONPATH=str(workdir.parent),  # the plugin module
        NO_PROXY="*",
    )
    argv = [sys.executable, "-m", "pytest", "-p", "etcd3gw_loopback", "-p", "no:cacheprovider", "-q"]
    argv += ["--rootdir", str(workdir), "--junitxml", str(junit), "--pyargs", "etcd3gw.tests"]
    log = open(workdir / f"{name}.log", "wb")
    try:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()
    return proc, junit


@pytest.fixture()
def servers(server_tmp: str, etcd_py_bin: str):
    real = etcdproc.make_server(etcdproc.distro_bin("etcd"), server_tmp, name="gw-real")
    ours = etcdproc.make_server(etcd_py_bin, server_tmp, name="gw-ours")
    try:
        real.start(wait=False)
        ours.start(wait=False)
        etcdproc.wait_ready(real.client_url, real.proc)
        etcdproc.wait_ready(ours.client_url, ours.proc)
        yield real, ours
    finally:
        real.stop()
        ours.stop()


def test_etcd3gw_suite_passes_where_real_etcd_passes(servers, tmp_path: Path) -> None:
    """Every etcd3gw test that passes against real etcd 3.5.1 passes against etcd-py."""
    (tmp_path / "etcd3gw_loopback.py").write_text(PLUGIN)
    real, ours = servers
    runs = {}
    for name, srv in (("real", real), ("ours", ours)):
        (tmp_path / name).mkdir()
        runs[name] = _start_suite(tmp_path / name, name, srv.client_port)
    try:
        for proc, _ in runs.values():
            proc.wait(600)
    finally:
        for proc, _ in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    got = {name: _outcomes(junit) for name, (_, junit) in runs.items()}
    passed_real = sorted(t for t, o in got["real"].items() if o == "passed")
    functional = [t for t in passed_real if "test_etcd3gw" in t]
    assert len(functional) >= 20, f"real etcd passed too few functional tests: {got['real']}"
    lost = {t: got["ours"].get(t, "missing") for t in passed_real if got["ours"].get(t) != "passed"}
    log = (tmp_path / "ours" / "ours.log").read_text(errors="replace")[-4000:]
    assert not lost, f"etcd-py fails what real etcd passes: {lost}\n{log}"
