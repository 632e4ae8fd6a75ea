"""Fixtures for the ETCDCTL_API=2 differential tests.

* `cli_pair`: two real etcd 3.5.1 `--enable-v2` twins; real etcdctl talks to one, etcdctl-py to
  the other, with the same command sequence, so indexes stay equal.
* `server_pair`: one real etcd 3.5.1 `--enable-v2` and our standalone v2 server with the same
  identity; real etcdctl talks to both.
Servers are module-scoped and stopped by pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import etcdproc  # noqa: E402

ROOT = str(etcdproc.ROOT)


@dataclass
class Run:
    out: str
    err: str
    rc: int


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "2"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def real_argv() -> list[str]:
    return [etcdproc.distro_bin("etcdctl")]


def py_argv() -> list[str]:
    return [sys.executable, "-m", "etcdctl_py.cli.v2"]


def run(argv: list[str], args: list[str], stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 20) -> Run:
    p = subprocess.run(argv + args, input=stdin.encode(), capture_output=True, env=_env(env), timeout=timeout,
                       cwd=ROOT)
    return Run(p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode)


def mask(text: str, url: str) -> str:
    port = url.rsplit(":", 1)[1]
    text = text.replace(url, "<EP>").replace(f"127.0.0.1:{port}", "<EP-HOST>")
    return re.sub(r'"expiration":"[^"]*"', '"expiration":"<T>"', text)


class Side:
    """One client binary bound to one server."""

    def __init__(self, argv: list[str], url: str) -> None:
        self.argv, self.url = argv, url

    def run(self, args: list[str], stdin: str = "", env: dict[str, str] | None = None, endpoint: bool = True) -> Run:
        pre = [f"--endpoints={self.url}"] if endpoint else []
        r = run(self.argv, pre + args, stdin, env)
        return Run(mask(r.out, self.url), mask(r.err, self.url), r.rc)

    def popen(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(self.argv + [f"--endpoints={self.url}"] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env(None), cwd=ROOT)


class Pair:
    """Runs the same command on both sides and returns both results."""

    def __init__(self, a: Side, b: Side) -> None:
        self.a, self.b = a, b

    def both(self, args: list[str], stdin: str = "", env: dict[str, str] | None = None,
             endpoint: bool = True) -> tuple[Run, Run]:
        return self.a.run(args, stdin, env, endpoint), self.b.run(args, stdin, env, endpoint)

    def same(self, args: list[str], stdin: str = "", env: dict[str, str] | None = None, endpoint: bool = True,
             unordered: bool = False) -> Run:
        ra, rb = self.both(args, stdin, env, endpoint)
        if unordered:
            ra.out, rb.out = "\n".join(sorted(ra.out.splitlines())), "\n".join(sorted(rb.out.splitlines()))
        assert (rb.out, rb.err, rb.rc) == (ra.out, ra.err, ra.rc), f"args={args}"
        return ra

    def watch_same(self, watch_args: list[str], trigger: list[list[str]], sigint: bool = False) -> Run:
        """Start a watch on both sides, fire the trigger commands on both, compare what the watches print."""
        pa, pb = self.a.popen(watch_args), self.b.popen(watch_args)
        time.sleep(0.6)
        for t in trigger:
            self.same(t)
        outs = []
        for p, side in ((pa, self.a), (pb, self.b)):
            if sigint:
                time.sleep(0.5)
                p.send_signal(signal.SIGINT)
            try:
                o, e = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                o, e = p.communicate()
            outs.append(Run(mask(o.decode(), side.url), mask(e.decode(), side.url), p.returncode))
        ra, rb = outs
        assert (rb.out, rb.err, rb.rc) == (ra.out, ra.err, ra.rc), f"watch={watch_args}"
        return ra


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="v2test-")
    yield d
    etcdproc.cleanup_dir(d)


@pytest.fixture(scope="module")
def cli_pair(workdir):
    etcd = etcdproc.distro_bin("etcd")
    a, b = etcdproc.twins(etcd, etcd, workdir, extra=["--enable-v2"])
    yield Pair(Side(real_argv(), a.client_url), Side(py_argv(), b.client_url))
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def server_pair(workdir):
    """Real etcd vs our v2 runner, same name / advertised peer URL / token => same IDs."""
    etcd = etcdproc.distro_bin("etcd")
    shared_peer = etcdproc.free_port()
    real = etcdproc.make_server(etcd, workdir, name="twin", advertise_peer_port=shared_peer, token="twin-token",
                                extra=["--enable-v2"])
    real.start()
    port = etcdproc.free_port()
    ddir = os.path.join(workdir, "ours")
    argv = [sys.executable, "-m", "etcdctl_py.server.v2", "--listen", f"127.0.0.1:{port}", "--data-dir", ddir,
            "--name", "twin", "--initial-advertise-peer-urls", f"http://127.0.0.1:{shared_peer}",
            "--initial-cluster-token", "twin-token"]
    log = open(os.path.join(workdir, "ours.log"), "ab")
    ours = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=_env(None), cwd=ROOT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    etcdproc.wait_ready(url, ours)
    pair = Pair(Side(real_argv(), real.client_url), Side(real_argv(), url))
    pair.real = real  # type: ignore[attr-defined]
    pair.ours_proc = ours  # type: ignore[attr-defined]
    pair.ours_argv = argv  # type: ignore[attr-defined]
    yield pair
    real.stop()
    ours = pair.ours_proc  # a test may have restarted our server: stop the process running now
    if ours.poll() is None:
        ours.send_signal(signal.SIGTERM)
        try:
            ours.wait(10)
        except subprocess.TimeoutExpired:
            ours.kill()
            ours.wait()


etcd_py_wrapper = etcdproc.etcd_py_wrapper


@pytest.fixture(scope="module")
def etcdpy_pair(workdir):
    """Real etcd 3.5.1 --enable-v2 and etcd-py --enable-v2 twins (same IDs); real etcdctl talks to both."""
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_wrapper(workdir), workdir,
                                extra=["--enable-v2"])
    pair = Pair(Side(real_argv(), real.client_url), Side(real_argv(), ours.client_url))
    pair.servers = (real, ours)  # type: ignore[attr-defined]
    yield pair
    real.stop()
    ours.stop()
