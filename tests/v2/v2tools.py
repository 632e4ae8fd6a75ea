"""Helpers of the ETCDCTL_API=2 differential tests: run a client binary (real etcdctl 3.5.1 or etcdctl-py)
against one server and compare both sides (`Side`, `Pair`). Test modules import them from here; the fixtures
that start the servers stay in conftest.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

from tests import etcdproc

ROOT = str(etcdproc.ROOT)


@dataclass
class Run:
    out: str
    err: str
    rc: int


def cli_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The environment of a v2 client run: ETCDCTL_API=2, no stray ETCDCTL_* of the runner, this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "2"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def real_argv() -> list[str]:
    return [etcdproc.distro_bin("etcdctl")]


def py_argv() -> list[str]:
    return [sys.executable, "-m", "etcdctl_py.cli.v2"]


def run(
    argv: list[str], args: list[str], stdin: str = "", env: dict[str, str] | None = None, timeout: float = 20
) -> Run:
    p = subprocess.run(
        argv + args, input=stdin.encode(), capture_output=True, env=cli_env(env), timeout=timeout, cwd=ROOT
    )
    return Run(p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode)


# https servers' client contexts (trusting the test CA, with the client certificate), by URL, for the polls below
TLS_CONTEXTS: dict[str, ssl.SSLContext] = {}


def v2_watchers(url: str) -> int:
    """How many v2 watches the server at `url` holds parked (`watchers` of /v2/stats/store, etcd and etcd-py)."""
    with urllib.request.urlopen(url + "/v2/stats/store", timeout=5, context=TLS_CONTEXTS.get(url)) as r:
        return int(json.loads(r.read())["watchers"])


def _no_watchers(url: str) -> bool:
    return v2_watchers(url) == 0


def _parked(p: subprocess.Popen, url: str) -> bool:
    return p.poll() is not None or (v2_watchers(url) == 1 and not etcdproc.child_pids(p.pid))


def mask(text: str, url: str) -> str:
    port = url.rsplit(":", 1)[1]
    text = text.replace(url, "<EP>").replace(f"127.0.0.1:{port}", "<EP-HOST>")
    text = re.sub(r'"expiration":"[^"]*"', '"expiration":"<T>"', text)
    # a TTL counts down between the two runs (a second may tick in between): its presence is compared, not its value
    return re.sub(r'"ttl":\d+', '"ttl":<TTL>', text)


class Side:
    """One client binary bound to one server."""

    def __init__(self, argv: list[str], url: str) -> None:
        self.argv, self.url = argv, url

    def run(self, args: list[str], stdin: str = "", env: dict[str, str] | None = None, endpoint: bool = True) -> Run:
        pre = [f"--endpoints={self.url}"] if endpoint else []
        r = run(self.argv, pre + args, stdin, env)
        return Run(mask(r.out, self.url), mask(r.err, self.url), r.rc)

    def popen(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv + [f"--endpoints={self.url}"] + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(None),
            cwd=ROOT,
        )


class Pair:
    """Runs the same command on both sides and returns both results."""

    def __init__(self, a: Side, b: Side) -> None:
        self.a, self.b = a, b

    def both(
        self, args: list[str], stdin: str = "", env: dict[str, str] | None = None, endpoint: bool = True
    ) -> tuple[Run, Run]:
        return self.a.run(args, stdin, env, endpoint), self.b.run(args, stdin, env, endpoint)

    def same(
        self,
        args: list[str],
        stdin: str = "",
        env: dict[str, str] | None = None,
        endpoint: bool = True,
        unordered: bool = False,
    ) -> Run:
        ra, rb = self.both(args, stdin, env, endpoint)
        if unordered:
            ra.out, rb.out = "\n".join(sorted(ra.out.splitlines())), "\n".join(sorted(rb.out.splitlines()))
        assert (rb.out, rb.err, rb.rc) == (ra.out, ra.err, ra.rc), f"args={args}"
        return ra

    def watch_same(self, watch_args: list[str], trigger: list[list[str]], sigint: bool = False) -> Run:
        """Start a watch on both sides, fire the trigger commands on both, compare what the watches print."""
        for url in (self.a.url, self.b.url):
            etcdproc.wait_until(functools.partial(_no_watchers, url), 10, f"no watch left on {url}")
        watches = ((self.a.popen(watch_args), self.a), (self.b.popen(watch_args), self.b))
        try:
            self._wait_parked(watches, "the watches to start")
            for t in trigger:
                self.same(t)
            if sigint:
                self._wait_parked(watches, "the watches to take every event")
            ra, rb = (self._finish(p, side.url, sigint) for p, side in watches)
        finally:
            for p, _ in watches:  # a failed step must not leave a watch running
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        assert (rb.out, rb.err, rb.rc) == (ra.out, ra.err, ra.rc), f"watch={watch_args}"
        return ra

    @staticmethod
    def _finish(p: subprocess.Popen, url: str, sigint: bool) -> Run:
        """What one watch printed: after SIGINT (a watch that runs on), or once it ends (10 s at most)."""
        if sigint:
            p.send_signal(signal.SIGINT)
        try:
            o, e = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
        return Run(mask(o.decode(), url), mask(e.decode(), url), p.returncode)

    @staticmethod
    def _wait_parked(watches: tuple[tuple[subprocess.Popen, Side], ...], what: str) -> None:
        """Wait until each watch process has ended, or holds its one watch parked on its server with no
        exec-watch command still running: it has taken every event so far."""
        for p, side in watches:
            etcdproc.wait_until(functools.partial(_parked, p, side.url), 15, what)
