"""Node splitting at commit: one transaction that appends tens of thousands of keys (point-in-time restore
writes every delta of a chain this way) produces page-sized leaves and branches that real bbolt reads and
checks (etcdutl 3.5.1 `snapshot status` runs bbolt's Tx.Check), filled as bbolt's own split fills them.
"""

from __future__ import annotations

import json
import subprocess

from etcdctl_py.storage import backend
from etcdctl_py.storage.bbolt import Page, PageWalk, check, open_db
from etcdctl_py.storage.bbolt.page import BRANCH_PAGE, LEAF_PAGE
from tests import etcdproc

KEYS = 40_000  # ~2,700 leaves in one node before the split, and a branch that splits too


def etcdutl_status(path: str) -> dict:
    r = subprocess.run(
        [etcdproc.distro_bin("etcdutl"), "snapshot", "status", path, "-w", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_one_transaction_of_many_appends_splits_into_pages_bbolt_accepts(tmp_path) -> None:
    path = str(tmp_path / "db")
    value = b"v" * 100
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            tx.create_bucket_if_not_exists(backend.META).put(b"x", b"y")
            kb = tx.create_bucket_if_not_exists(backend.KEY)
            kb.put(backend.rev_to_bytes(1), value)  # an existing first leaf, as in a restored full
        with db.update() as tx:
            kb = tx.bucket(backend.KEY)
            for rev in range(2, KEYS + 2):
                kb.put(backend.rev_to_bytes(rev, 0, rev % 7 == 0), value)
        assert check(db, strict=True) == []
        with db.view() as tx:
            pages = [p for p in PageWalk(tx).all() if isinstance(p, Page)]
            got = list(tx.bucket(backend.KEY).items())
        page_size = db.page_size
    leaves = [p for p in pages if p.flags & LEAF_PAGE]
    branches = [p for p in pages if p.flags & BRANCH_PAGE]
    # every page fits one page (no element is near a page in size); the tree has a real branch level
    assert all(p.overflow == 0 for p in pages)
    assert len(leaves) > 1000 and len(branches) > 1
    # bbolt fills leaves up to half a page (its default fill percent): ~15 entries of 133 bytes each
    counts = sorted(p.element_count for p in leaves if p.element_count > 1)
    assert counts[len(counts) // 2] == (page_size // 2 - 16) // (16 + 17 + 100)
    assert [k for k, _v in got] == [backend.rev_to_bytes(r, 0, r % 7 == 0) for r in range(1, KEYS + 2)]
    theirs = etcdutl_status(path)  # bbolt's own Tx.Check in Go, then the hash over every bucket
    ours = {"revision": KEYS + 1, "totalKey": KEYS + 2}
    assert {k: theirs[k] for k in ours} == ours
