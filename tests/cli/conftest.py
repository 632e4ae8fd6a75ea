"""Fixtures shared by the make-mirror tests of this folder."""

from __future__ import annotations

import pytest

from tests import etcdproc


@pytest.fixture(scope="module")
def quad(twin_pair, tmp_path_factory, etcd_bin):
    """Sources A/B (twins) and plain destinations X/Y (twins): real etcdctl mirrors A->X, etcdctl-py B->Y."""
    with etcdproc.scratch_dir(tmp_path_factory, "dests") as scratch:
        x, y = etcdproc.twins(etcd_bin, etcd_bin, str(scratch), token="dest-token")
        yield twin_pair, x, y
        x.stop()
        y.stop()
