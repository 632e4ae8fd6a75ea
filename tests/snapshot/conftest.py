"""Fixtures for snapshot tests: real etcd 3.5.1 snapshots (built once per session) and etcdutl."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import realsnaps  # noqa: E402


@pytest.fixture(scope="session")
def real_snaps(tmp_path_factory) -> dict[str, Path]:
    return realsnaps.build(tmp_path_factory.getbasetemp() / "realsnaps")
