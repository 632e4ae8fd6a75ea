"""Fixtures for the ETCDCTL_API=2 differential tests.

* `cli_pair`: two real etcd 3.5.1 `--enable-v2` twins; real etcdctl talks to one, etcdctl-py to
  the other, with the same command sequence, so indexes stay equal.
* `etcdpy_pair`: real etcd 3.5.1 `--enable-v2` and etcd-py `--enable-v2` twins (same IDs); real
  etcdctl talks to both.
Servers are module-scoped and stopped by pid.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import etcdproc
from tests.v2.v2tools import Pair, Side, py_argv, real_argv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Iterator[str]:
    """This module's dir for its servers; removed when the module ends."""
    with etcdproc.scratch_dir(tmp_path_factory, "v2test") as d:
        yield str(d)


@pytest.fixture(scope="module")
def cli_pair(workdir):
    etcd = etcdproc.distro_bin("etcd")
    a, b = etcdproc.twins(etcd, etcd, workdir, extra=["--enable-v2"])
    yield Pair(Side(real_argv(), a.client_url), Side(py_argv(), b.client_url))
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def etcdpy_pair(workdir):
    """Real etcd 3.5.1 --enable-v2 and etcd-py --enable-v2 twins (same IDs); real etcdctl talks to both."""
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"), etcdproc.etcd_py_wrapper(workdir), workdir, extra=["--enable-v2"]
    )
    pair = Pair(Side(real_argv(), real.client_url), Side(real_argv(), ours.client_url))
    pair.servers = (real, ours)  # type: ignore[attr-defined]
    yield pair
    real.stop()
    ours.stop()
