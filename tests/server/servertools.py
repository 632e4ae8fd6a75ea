"""Helpers of the etcd-py tests: real etcdctl 3.5.1 against one endpoint, output masking, twin comparison.

They live here, not in conftest.py, because test modules import them (a conftest is never imported by name).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from typing import Any

from tests import etcdproc


class Ctl:
    """Run the real etcdctl 3.5.1 against one endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.bin = etcdproc.distro_bin("etcdctl")

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 15, env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        e = dict(os.environ)
        e.pop("ETCDCTL_ENDPOINTS", None)
        if env:
            e.update(env)
        p = subprocess.run(
            [self.bin, f"--endpoints={self.endpoint}", *args],
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=timeout,
            env=e,
        )
        return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


_MASKS = [
    (re.compile(r'"ts":"[^"]*"'), '"ts":"T"'),
    (re.compile(r'"ts":[0-9.e+]+'), '"ts":T'),
    (re.compile(r"0xc[0-9a-f]+"), "0xADDR"),
    (re.compile(r"took = [0-9.]+(?:Âµ|µ|m|n)?s"), "took = D"),
    (re.compile(r'"took":"[^"]*"'), '"took":"D"'),
    (re.compile(r'"(dbSize|dbSizeInUse)":\d+'), r'"\1":N'),
    (re.compile(r'"(DBSize)" : \d+'), r'"\1" : N'),
    (re.compile(r"\b\d+(\.\d+)? [kMG]?B\b"), "SIZE"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
]


def mask(text: str) -> str:
    """Replace what can never match between two servers (timestamps, pointers, durations, sizes, ports)."""
    for rx, rep in _MASKS:
        text = rx.sub(rep, text)
    return text


def both(
    twins: tuple[Any, Any], *args: str, stdin: str | None = None, masker: Callable[[str], str] = mask
) -> tuple[int, str, str]:
    """Run real etcdctl against both twins (real etcd, etcd-py); assert identical masked results; return them."""
    real, ours = twins
    a = Ctl(real.endpoint)(*args, stdin=stdin)
    b = Ctl(ours.endpoint)(*args, stdin=stdin)
    ra = (a[0], masker(a[1]), masker(a[2]))
    rb = (b[0], masker(b[1]), masker(b[2]))
    assert rb == ra, f"etcdctl {' '.join(args)}\nreal: {ra}\nours: {rb}"
    return ra
