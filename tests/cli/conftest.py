"""Fixtures shared by the make-mirror tests of this folder."""

from __future__ import annotations

import pytest

import etcdproc


@pytest.fixture(scope="module")
def quad(twin_pair, tmp_path_factory, etcd_bin):
    """Sources A/B (twins) and plain destinations X/Y (twins): real etcdctl mirrors A->X, etcdctl-py B->Y."""
    x, y = etcdproc.twins(etcd_bin, etcd_bin, str(tmp_path_factory.mktemp("dests")), token="dest-token")
    yield twin_pair, x, y
    x.stop()
    y.stop()
