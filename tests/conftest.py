"""Shared pytest fixtures: real etcd servers on loopback, stopped by pid at the end."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import etcdproc  # noqa: E402


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
