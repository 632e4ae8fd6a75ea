"""Differential testing: the same command through real etcdctl and through etcdctl-py.

`Pair` holds two servers with identical identity (see etcdproc.twins). `pair.run(args)` runs the
real etcdctl 3.5.1 against the first and etcdctl-py against the second, and returns both results;
`pair.check(args)` asserts identical stdout bytes, exit code and stderr (after masking the
timestamps and Go pointers that can never match).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from tests import etcdproc

ETCDCTL_PY = [sys.executable, "-m", "etcdctl_py"]

_TS_ISO = re.compile(rb'"ts":"[0-9T:.\-+Z]+"')
_TS_EPOCH = re.compile(rb'"ts":[0-9.e+]+')
_PTR = re.compile(rb"etcd-endpoints://0x[0-9a-f]+/")
_STACK = re.compile(rb',"stacktrace":"[^"]*"')
_TOOK = re.compile("took = [0-9.]+[a-zµ]+".encode())


def mask_stderr(data: bytes, ports: tuple[int, ...] = ()) -> bytes:
    data = _TS_ISO.sub(b'"ts":"TS"', data)
    data = _TS_EPOCH.sub(b'"ts":TS', data)
    data = _PTR.sub(b"etcd-endpoints://PTR/", data)
    data = _STACK.sub(b"", data)
    data = _TOOK.sub(b"took = DUR", data)
    for p in ports:
        data = data.replace(str(p).encode(), b"PORT")
    return data


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    rc: int

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, stdout={self.stdout!r}, stderr={self.stderr!r})"


# Reaches our (Python) processes from the test run's environment: `ETCDCTL_PY_TRANSPORT=grpcio pytest ...` runs the
# differential tests through grpcio. Real etcdctl never sees it (it warns about unknown ETCDCTL_* variables).
PASS_TO_OURS = ("ETCDCTL_PY_TRANSPORT",)


def child_env(argv: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a command under test: ours, without the test run's ETCDCTL_* settings (each test passes
    the ones it means), except PASS_TO_OURS for a Python process (ours; the real tools are Go binaries)."""
    keep = PASS_TO_OURS if argv and argv[0] == sys.executable else ()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_") or k in keep}
    full_env.update(env or {})
    return full_env


def run(
    argv: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 30
) -> Result:
    full_env = child_env(argv, env)
    p = subprocess.run(
        argv, input=stdin if stdin is not None else b"", capture_output=True, env=full_env, timeout=timeout
    )
    return Result(p.stdout, p.stderr, p.returncode)


class Pair:
    """Real etcdctl on server `a`, etcdctl-py on server `b` (same cluster/member IDs).

    `--endpoints <server>` is prepended to every command, unless an argument or environment value
    contains `{ep}`, which is then replaced by each side's own endpoint.
    """

    def __init__(self, a: etcdproc.EtcdServer, b: etcdproc.EtcdServer, etcdctl: str | None = None):
        self.a, self.b = a, b
        self.etcdctl = etcdctl or etcdproc.distro_bin("etcdctl")

    def run(
        self,
        args: list[str],
        *,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        endpoints: bool = True,
        ours: list[str] | None = None,
    ) -> tuple[Result, Result]:
        templated = any("{ep}" in a for a in args) or any("{ep}" in v for v in (env or {}).values())
        if templated:
            endpoints = False

        def fill(items, ep):
            return [a.replace("{ep}", ep) for a in items]

        def fill_env(ep):
            return None if env is None else {k: v.replace("{ep}", ep) for k, v in env.items()}

        ea = ["--endpoints", self.a.endpoint] if endpoints else []
        eb = ["--endpoints", self.b.endpoint] if endpoints else []
        real = run([self.etcdctl, *ea, *fill(args, self.a.endpoint)], stdin=stdin, env=fill_env(self.a.endpoint))
        mine = run(
            [*(ours or ETCDCTL_PY), *eb, *fill(args, self.b.endpoint)], stdin=stdin, env=fill_env(self.b.endpoint)
        )
        return real, mine

    def check(self, args: list[str], **kw) -> Result:
        real, mine = self.run(args, **kw)
        ports = (self.a.client_port, self.b.client_port)
        assert mine.stdout == real.stdout, f"stdout differs for {args}:\nreal: {real.stdout!r}\nours: {mine.stdout!r}"
        assert mine.rc == real.rc, f"exit code differs for {args}: real {real.rc}, ours {mine.rc}\n{mine}"
        assert mask_stderr(mine.stderr, ports) == mask_stderr(real.stderr, ports), (
            f"stderr differs for {args}:\nreal: {real.stderr!r}\nours: {mine.stderr!r}"
        )
        return mine
