"""bbolt engine: write-then-read round trips (hypothesis), copy-on-write transactions against a
model, the compact writer, the freelist forms, and open/validation errors with bbolt's messages.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdctl_py.storage.bbolt import (
    BucketExistsError,
    BucketNotFoundError,
    ChecksumError,
    FileTooSmallError,
    IncompatibleValueError,
    InvalidDatabaseError,
    KeyRequiredError,
    Page,
    PageWalk,
    TxClosedError,
    TxNotWritableError,
    Unreadable,
    check,
    open_db,
    write_compact,
)
from etcdctl_py.storage.bbolt.page import PGID_NO_FREELIST, Meta
from tests import etcdproc

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

keys = st.binary(min_size=1, max_size=40)
values = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=900, max_size=1500),
    st.builds(lambda n: os.urandom(n), st.sampled_from([0, 5000, 20000])),
)
bucket_names = st.sampled_from([b"key", b"meta", b"lease", b"authUsers", b"x"])
bucket_data = st.dictionaries(bucket_names, st.dictionaries(keys, values, max_size=120), max_size=4)


def dump(db) -> dict[bytes, dict[bytes, bytes]]:
    with db.view() as tx:
        return {n: dict(tx.bucket(n).items()) for n in tx.bucket_names()}


@SETTINGS
@given(data=bucket_data)
def test_update_then_read_back(tmp_path_factory, data):
    with etcdproc.scratch_dir(tmp_path_factory, "rt") as scratch:
        path = str(scratch / "db")
        with open_db(path, writable=True) as db:
            with db.update() as tx:
                for name, kv in data.items():
                    b = tx.create_bucket_if_not_exists(name)
                    for k, v in kv.items():
                        b.put(k, v)
            assert check(db, strict=True) == []
        with open_db(path) as db:
            assert dump(db) == data
            assert check(db, strict=True) == []
            with db.view() as tx:
                for name, kv in data.items():
                    b = tx.bucket(name)
                    assert len(b) == len(kv)
                    for k in list(kv)[:5]:
                        assert b.get(k) == kv[k]
                    assert [k for k, _ in b.items()] == sorted(kv)


ops = st.lists(
    st.tuples(st.sampled_from(["put", "put", "put", "del", "dropb"]), bucket_names, keys, values),
    min_size=1,
    max_size=150,
)


@SETTINGS
@given(txs=st.lists(ops, min_size=1, max_size=6), fl_sync=st.booleans())
def test_copy_on_write_transactions_match_a_model(tmp_path_factory, txs, fl_sync):
    with etcdproc.scratch_dir(tmp_path_factory, "cow") as scratch:
        path = str(scratch / "db")
        model: dict[bytes, dict[bytes, bytes]] = {}
        db = open_db(path, writable=True, freelist_sync=fl_sync)
        try:
            for tx_ops in txs:
                with db.update() as tx:
                    for op, name, k, v in tx_ops:
                        if op == "dropb":
                            if tx.bucket(name) is not None:
                                tx.delete_bucket(name)
                                model.pop(name)
                            continue
                        b = tx.create_bucket_if_not_exists(name)
                        m = model.setdefault(name, {})
                        if op == "put":
                            b.put(k, v)
                            m[k] = v
                        else:
                            b.delete(k)
                            m.pop(k, None)
                assert check(db, strict=True) == []
                assert dump(db) == model
            if fl_sync:
                assert db.meta.freelist != PGID_NO_FREELIST
            else:
                assert db.meta.freelist == PGID_NO_FREELIST
        finally:
            db.close()
        with open_db(path) as db:  # a fresh open sees the same thing (meta, freelist, pages)
            assert dump(db) == model
            assert check(db) == []


def test_rollback_on_exception_keeps_the_old_state(tmp_path):
    path = str(tmp_path / "db")
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            tx.create_bucket(b"a").put(b"k", b"v1")
        meta = db.meta
        with pytest.raises(RuntimeError):
            with db.update() as tx:
                tx.bucket(b"a").put(b"k", b"v2")
                tx.create_bucket(b"b")
                raise RuntimeError("boom")
        assert db.meta == meta
        assert dump(db) == {b"a": {b"k": b"v1"}}


def test_many_transactions_reuse_free_pages(tmp_path):
    """Copy-on-write frees old pages; later transactions take them instead of growing the file."""
    path = str(tmp_path / "db")
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            b = tx.create_bucket(b"key")
            for i in range(3000):
                b.put(b"%08d" % i, b"v" * 50)
        sizes = []
        for r in range(30):
            with db.update() as tx:
                tx.bucket(b"key").put(b"%08d" % (r * 97), b"w" * 50)
            sizes.append(db.size)
        assert sizes[-1] == sizes[5], sizes  # steady state: no growth
        assert check(db, strict=True) == []
        txid = db.meta.txid
    with open_db(path) as db:
        assert db.meta.txid == txid
        with db.view() as tx:
            assert tx.bucket(b"key").get(b"%08d" % (29 * 97)) == b"w" * 50


def test_nested_and_inline_buckets(tmp_path):
    path = str(tmp_path / "db")
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            top = tx.create_bucket(b"top")
            top.put(b"a", b"1")
            sub = top.create_bucket(b"sub")
            sub.put(b"x", b"y")
            deep = sub.create_bucket(b"deep")
            for i in range(500):  # big enough to leave inline form
                deep.put(b"%05d" % i, b"z" * 20)
            tx.create_bucket(b"empty")
        with db.view() as tx:
            top = tx.bucket(b"top")
            assert dict(top.items()) == {b"a": b"1", b"sub": None}
            assert top.get(b"sub") is None  # a bucket key reads as no value, like bbolt
            assert top.bucket(b"sub").get(b"x") == b"y"
            assert len(top.bucket(b"sub").bucket(b"deep")) == 500
            assert len(tx.bucket(b"empty")) == 0
            assert tx.bucket(b"empty").root == 0  # small buckets are stored inline
        assert check(db, strict=True) == []
        with db.update() as tx:
            with pytest.raises(IncompatibleValueError):
                tx.bucket(b"top").put(b"sub", b"v")
            with pytest.raises(BucketExistsError):
                tx.create_bucket(b"top")
            with pytest.raises(KeyRequiredError):
                tx.bucket(b"top").put(b"", b"v")
            tx.bucket(b"top").delete_bucket(b"sub")
            with pytest.raises(BucketNotFoundError):
                tx.delete_bucket(b"nope")
        assert check(db, strict=True) == []
        assert dump(db) == {b"empty": {}, b"top": {b"a": b"1"}}


def _walk_db(path: str, freelist_sync: bool = False) -> None:
    """A db whose `key` bucket is a branch tree with an overflow page, a nested page-tree bucket and freed pages."""
    with open_db(path, writable=True, freelist_sync=freelist_sync) as db:
        with db.update() as tx:
            b = tx.create_bucket(b"key")
            for i in range(2000):
                b.put(b"%06d" % i, os.urandom(200))
            b.put(b"big", b"x" * 20000)
            b.create_bucket(b"nested").put(b"k", b"v" * 3000)
        with db.update() as tx:
            for i in range(0, 2000, 3):
                tx.bucket(b"key").delete(b"%06d" % i)


def test_page_walk_accounts_for_every_page(tmp_path):
    """The public walk reaches each page in use once: with the metas, the freelist page and the ids it lists, that
    is every page below pgid, and Check (fed the same walk) agrees."""
    path = str(tmp_path / "db")
    _walk_db(path, freelist_sync=True)
    with open_db(path) as db, db.view() as tx:
        used = []
        for item in PageWalk(tx).all():
            assert isinstance(item, Page), item
            assert item.pgid == item.id and (item.is_leaf or item.is_branch)
            used.extend(range(item.id, item.id + item.overflow + 1))
        assert any(p.overflow for p in PageWalk(tx).all())
        free = tx.freelist_ids()
        assert free
        fl = tx.meta.freelist
        meta_and_freelist = [0, 1, *range(fl, fl + tx.page(fl).overflow + 1)]
        assert sorted(meta_and_freelist + used + free) == list(range(tx.meta.pgid))
        assert check(db, tx=tx) == []


def test_page_walk_reports_references_it_cannot_follow(tmp_path):
    """A child past the end of the file is one Unreadable; a branch that points back at itself makes the walk
    give up once (the budget of a DAG's visits is spent) and stay finished, where Go's bbolt would recurse forever."""
    path = str(tmp_path / "db")
    _walk_db(path)
    with open_db(path) as db, db.view() as tx:
        root, ps, npg = tx.bucket(b"key").root, db.page_size, tx.meta.pgid
        assert tx.page(root).is_branch
    child0 = root * ps + 16 + 8  # branch element 0: pos u32, ksize u32, pgid u64

    def walk_with_child(pgid: int) -> tuple[list, list]:
        with open(path, "r+b") as f:
            f.seek(child0)
            f.write(struct.pack("<Q", pgid))
        with open_db(path) as db, db.view() as tx:
            w = PageWalk(tx)
            return list(w.all()), list(w.all())

    items, again = walk_with_child(npg + 1000)
    assert [(u.pgid, u.why) for u in items if isinstance(u, Unreadable)] == [(npg + 1000, "beyond end of file")]
    assert again == items  # nothing implausible yet: a second walk sees the same
    items, again = walk_with_child(root)
    bad = [u.why for u in items if isinstance(u, Unreadable)]
    assert bad[-1] == "too many page references (cycle in the tree?)" and bad.count(bad[-1]) == 1
    assert "tree deeper than 64 levels (cycle?)" in bad
    assert again == []


def test_read_tx_is_read_only_and_closes(tmp_path):
    path = str(tmp_path / "db")
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            tx.create_bucket(b"a")
        with db.view() as tx:
            b = tx.bucket(b"a")
            with pytest.raises(TxNotWritableError):
                b.put(b"k", b"v")
        with pytest.raises(TxClosedError):
            b.get(b"k")


def test_items_from_start_key(tmp_path):
    path = str(tmp_path / "db")
    with open_db(path, writable=True) as db:
        with db.update() as tx:
            b = tx.create_bucket(b"a")
            for i in range(0, 4000, 2):
                b.put(b"%06d" % i, b"v")
        with db.view() as tx:
            b = tx.bucket(b"a")
            assert next(b.items(b"001001"))[0] == b"001002"
            assert next(b.items(b"001002"))[0] == b"001002"
            assert list(b.items(b"999999")) == []
            assert b.last()[0] == b"003998"


@SETTINGS
@given(
    data=bucket_data,
    page_size=st.sampled_from([1024, 4096, 16384]),
    fill=st.sampled_from([0.5, 0.9, 1.0]),
    freelist_page=st.booleans(),
)
def test_write_compact_round_trip(tmp_path_factory, data, page_size, fill, freelist_page):
    with etcdproc.scratch_dir(tmp_path_factory, "wc") as scratch:
        path = str(scratch / "db")
        size = write_compact(
            path,
            {n: sorted(kv.items()) for n, kv in data.items()},
            page_size=page_size,
            fill=fill,
            freelist_page=freelist_page,
        )
        assert os.path.getsize(path) == max(size, 4096)
        with open_db(path) as db:
            assert db.page_size == page_size
            assert db.size == size
            assert dump(db) == data
            assert check(db, strict=True) == []
        # and the compact file accepts copy-on-write transactions
        with open_db(path, writable=True) as db:
            with db.update() as tx:
                tx.create_bucket_if_not_exists(b"meta").put(b"consistent_index", b"\0" * 8)
            assert check(db, strict=True) == []


def test_write_compact_rejects_unsorted_keys(tmp_path):
    with pytest.raises(ValueError):
        write_compact(str(tmp_path / "db"), {b"a": [(b"b", b""), (b"a", b"")]})


def test_trailing_bytes_are_ignored(tmp_path):
    path = str(tmp_path / "db")
    write_compact(path, {b"key": [(b"k", b"v")]})
    with open(path, "ab") as f:
        f.write(os.urandom(32))
    with open_db(path) as db:
        assert dump(db) == {b"key": {b"k": b"v"}}
        assert check(db, strict=True) == []


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def test_open_errors_carry_bbolt_messages(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(8192))
    with pytest.raises(InvalidDatabaseError, match="^invalid database$"):
        open_db(str(junk))
    short = tmp_path / "short"
    short.write_bytes(b"\0" * 100)
    with pytest.raises(InvalidDatabaseError):
        open_db(str(short))
    small = tmp_path / "small"
    small.write_bytes(b"\0" * 5000)
    with pytest.raises(FileTooSmallError, match="^file size too small$"):
        open_db(str(small))
    good = str(tmp_path / "good")
    write_compact(good, {b"key": [(b"k", b"v")]})
    _flip(good, 64)  # txid of meta 0: checksum no longer matches
    with open_db(good) as db:  # meta 1 still valid
        assert db.meta.txid == 1
        assert dump(db) == {b"key": {b"k": b"v"}}
        assert any("meta page 0" in p for p in check(db, strict=True))
    _flip(good, 4096 + 64)
    with pytest.raises(ChecksumError, match="^checksum error$"):
        open_db(good)


def test_meta_struct_layout():
    m = Meta(page_size=4096, root=3, freelist=2, pgid=4, txid=1)
    page = m.page_bytes(1, 4096)
    assert len(page) == 4096
    assert struct.unpack_from("<QHHI", page, 0) == (1, 0x04, 0, 0)
    assert page[16:20] == bytes.fromhex("eddaoced".replace("o", "0"))
    parsed = Meta.unpack_from(page)
    assert parsed.error() is None and parsed.checksum == m.sum64() != 0
