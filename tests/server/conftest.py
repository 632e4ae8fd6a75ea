"""Fixtures for etcd-py tests: real etcd 3.5.1 and etcd-py as identical-ID twins, shared per session."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import etcdproc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


etcd_py_wrapper = etcdproc.etcd_py_wrapper


@pytest.fixture(scope="session")
def server_tmp():
    d = tempfile.mkdtemp(prefix="etcdpy-tests-")
    yield d
    etcdproc.cleanup_dir(d)


@pytest.fixture(scope="session")
def etcd_py_bin(server_tmp) -> str:
    return etcd_py_wrapper(server_tmp)


@pytest.fixture(scope="session")
def twins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp)
    yield real, ours
    real.stop()
    ours.stop()


class Ctl:
    """Run the real etcdctl 3.5.1 against one endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.bin = etcdproc.distro_bin("etcdctl")

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 15, env=None) -> tuple[int, str, str]:
        e = dict(os.environ)
        e.pop("ETCDCTL_ENDPOINTS", None)
        if env:
            e.update(env)
        p = subprocess.run([self.bin, f"--endpoints={self.endpoint}", *args],
                           input=stdin.encode() if stdin is not None else None, capture_output=True,
                           timeout=timeout, env=e)
        return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


_MASKS = [
    (re.compile(r'"ts":"[^"]*"'), '"ts":"T"'),
    (re.compile(r'"ts":[0-9.e+]+'), '"ts":T'),
    (re.compile(r'0xc[0-9a-f]+'), "0xADDR"),
    (re.compile(r"took = [0-9.]+(?:Âµ|µ|m|n)?s"), "took = D"),
    (re.compile(r'"took":"[^"]*"'), '"took":"D"'),
    (re.compile(r'"(dbSize|dbSizeInUse)":\d+'), r'"\1":N'),
    (re.compile(r'"(DBSize)" : \d+'), r'"\1" : N'),
    (re.compile(r"\b\d+(\.\d+)? [kMG]?B\b"), "SIZE"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
]


def mask(text: str) -> str:
    for rx, rep in _MASKS:
        text = rx.sub(rep, text)
    return text
