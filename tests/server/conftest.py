"""Fixtures for etcd-py tests: real etcd 3.5.1 and etcd-py as identical-ID twins.

Every dir lives under pytest's basetemp and is removed when its fixture ends: etcd preallocates 64 MB WAL files,
so a module's servers must not outlive the module on disk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import etcdproc


@pytest.fixture(scope="module")
def server_tmp(tmp_path_factory) -> Iterator[str]:
    """This module's dir for its servers (module fixtures and single tests alike); removed when the module ends."""
    with etcdproc.scratch_dir(tmp_path_factory, "etcdpy") as d:
        yield str(d)


@pytest.fixture(scope="session")
def etcd_py_bin(tmp_path_factory) -> Iterator[str]:
    """The etcd-py wrapper executable (one path for etcdproc.twins)."""
    with etcdproc.scratch_dir(tmp_path_factory, "etcd-py-bin") as d:
        yield etcdproc.etcd_py_wrapper(str(d))


@pytest.fixture(scope="session")
def twins(tmp_path_factory, etcd_py_bin):
    """Real etcd and etcd-py twins shared by the whole session (modules that change global state make their own)."""
    with etcdproc.scratch_dir(tmp_path_factory, "shared-twins") as base:
        real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, str(base))
        try:
            yield real, ours
        finally:
            real.stop()
            ours.stop()
