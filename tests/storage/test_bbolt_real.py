"""bbolt against the real thing: files written by real etcd 3.5.1 read by us, files we write read
(and written into) by real etcdutl 3.5.1, and Tx.Check messages identical to what etcdutl prints.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from etcdctl_py.snapshot.status import status
from etcdctl_py.storage import backend
from etcdctl_py.storage.bbolt import check, open_db, write_compact
from etcdctl_py.storage.bbolt.page import PGID_NO_FREELIST, Meta, encode_freelist
from tests import etcdproc


def etcdutl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([etcdproc.distro_bin("etcdutl"), *args], capture_output=True, text=True, timeout=120)


def etcdutl_status(path) -> dict:
    r = etcdutl("snapshot", "status", str(path), "-w", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ours_json(path) -> dict:
    s = status(str(path))
    return {"hash": s.hash, "revision": s.revision, "totalKey": s.total_key, "totalSize": s.total_size}


def dump(path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    with open_db(str(path)) as db, db.view() as tx:
        return {n: list(tx.bucket(n).items()) for n in tx.bucket_names()}


@pytest.mark.parametrize("name", ["small", "compacted", "big", "auth", "live"])
def test_we_read_files_written_by_real_etcd(real_snaps, name):
    path = real_snaps[name]
    with open_db(str(path)) as db:
        assert db.page_size == 4096
        assert db.meta.freelist == PGID_NO_FREELIST  # etcd's NoFreelistSync
        assert check(db, strict=True) == []
        with db.view() as tx:
            names = tx.bucket_names()
            assert names[:2] == [b"alarm", b"auth"] and b"key" in names and b"meta" in names
            ci, term = backend.read_consistent_index(tx)
            assert ci > 0 and term >= 2
            assert backend.current_revision(tx) == etcdutl_status(path)["revision"]
    assert ours_json(path) == etcdutl_status(path)


def test_backend_schema_of_a_real_snapshot(real_snaps):
    with open_db(str(real_snaps["small"])) as db, db.view() as tx:
        revs = list(backend.iter_revisions(tx))
        assert [r for r, _t, _v in revs] == sorted(r for r, _t, _v in revs)
        tomb = [r for r, t, _v in revs if t]
        assert len(tomb) == 1  # the deleted key "gone"
        assert any(r.sub == 1 for r, _t, _v in revs)  # second op of the 2-op txn
        conf = backend.read_conf_state(tx)
        assert conf["auto_leave"] is False and len(conf["voters"]) == 1
        assert tx.bucket(backend.CLUSTER).get(backend.CLUSTER_VERSION) == b"3.5.0"
        assert tx.bucket(backend.LEASE) is not None and len(tx.bucket(backend.LEASE)) == 1
    with open_db(str(real_snaps["compacted"])) as db, db.view() as tx:
        sched, fin = backend.read_compact_revs(tx)
        assert sched == fin and fin > 0
        first = next(backend.iter_revisions(tx))[0]
        assert first.main <= fin
    with open_db(str(real_snaps["auth"])) as db, db.view() as tx:
        assert backend.auth_enabled(tx)
        assert sorted(tx.bucket(backend.AUTH_USERS).keys()) == [b"alice", b"root"]


def test_etcdutl_reads_our_compact_rewrite(real_snaps, tmp_path):
    src = real_snaps["big"]
    out = tmp_path / "compact.db"
    with open_db(str(src)) as db, db.view() as tx:
        write_compact(str(out), {n: tx.bucket(n).items() for n in tx.bucket_names()}, fill=1.0)
    theirs = etcdutl_status(out)
    want = etcdutl_status(src)
    same = ("hash", "revision", "totalKey")
    assert {k: theirs[k] for k in same} == {k: want[k] for k in same}
    assert theirs["totalSize"] < want["totalSize"]
    assert ours_json(out) == theirs
    assert dump(out) == dump(src)


def test_etcdutl_reads_our_copy_on_write_update_and_writes_into_it(real_snaps, tmp_path):
    db_path = tmp_path / "db"
    shutil.copyfile(real_snaps["big"], db_path)
    with open_db(str(db_path), writable=True) as db:
        with db.update() as tx:
            tx.bucket(b"meta").put(b"consistent_index", backend.u64_be(12345))
            k = tx.bucket(b"key")
            for r, _t, _v in list(backend.iter_revisions(tx))[:300]:
                k.delete(r.to_bytes())
            tx.create_bucket_if_not_exists(b"extra").put(b"hello", b"world" * 2000)
        assert check(db, strict=True) == []
    ours = ours_json(db_path)
    assert ours == etcdutl_status(db_path)  # also runs bbolt's Tx.Check in Go
    # real etcdutl (bbolt 1.3.6) copy-on-writes into our file: defrag it
    dd = tmp_path / "dd"
    (dd / "member" / "snap").mkdir(parents=True)
    shutil.copyfile(db_path, dd / "member" / "snap" / "db")
    r = etcdutl("defrag", "--data-dir", str(dd))
    assert r.returncode == 0, r.stderr
    after = dd / "member" / "snap" / "db"
    assert {k: v for k, v in ours_json(after).items() if k != "totalSize"} == {
        k: v for k, v in ours.items() if k != "totalSize"
    }
    with open_db(str(after)) as db, db.view() as tx:
        assert tx.bucket(b"meta").get(b"consistent_index") == backend.u64_be(12345)
        assert check(db, strict=True) == []


def _with_freelist(src: Path, dst: Path, edit) -> None:
    """Copy a compact db and give it a persisted freelist page (ids edited by `edit`)."""
    with open_db(str(src)) as db, db.view() as tx:
        write_compact(str(dst), {n: tx.bucket(n).items() for n in tx.bucket_names()})
    with open_db(str(dst)) as db:
        m = db.meta
        ps = db.page_size
    # append: one free page, then the freelist page
    free_pg, fl_pg = m.pgid, m.pgid + 1
    ids = edit([free_pg], m)
    with open(dst, "r+b") as f:
        f.truncate((m.pgid + 2) * ps)
        f.seek(fl_pg * ps)
        f.write(encode_freelist(fl_pg, ids, ps))
        for slot in (0, 1):
            meta = Meta(page_size=ps, root=m.root, freelist=fl_pg, pgid=m.pgid + 2, txid=m.txid - slot)
            f.seek(slot * ps)
            f.write(meta.page_bytes(slot, ps))


@pytest.mark.parametrize("case", ["clean", "double", "unfreed", "reachable", "outofbounds"])
def test_integrity_errors_match_etcdutl(real_snaps, tmp_path, case):
    def edit(ids, m):
        if case == "double":
            return ids + ids
        if case == "unfreed":
            return []
        if case == "reachable":
            return ids + [m.root]
        if case == "outofbounds":
            return ids + [m.pgid + 50]
        return ids

    path = tmp_path / "f.db"
    _with_freelist(real_snaps["small"], path, edit)
    r = etcdutl("snapshot", "status", str(path))
    ours = [p for p in check(open_db(str(path)))]
    if case in ("clean", "outofbounds"):  # bbolt 1.3.6 does not look at free ids past pgid
        assert r.returncode == 0 and ours == []
        return
    assert r.returncode == 1
    want = r.stderr
    assert want.startswith("Error: snapshot file integrity check failed.")
    got = f"Error: snapshot file integrity check failed. {len(ours)} errors found.\n" + "\n".join(ours) + "\n"
    assert got == want


def test_our_freelist_file_is_accepted_by_etcdutl(real_snaps, tmp_path):
    """freelist_sync=True writes bbolt's persisted freelist (array form); Go's Check agrees it is consistent."""
    path = tmp_path / "f.db"
    shutil.copyfile(real_snaps["compacted"], path)
    with open_db(str(path), writable=True, freelist_sync=True) as db:
        for _i in range(5):
            with db.update() as tx:
                tx.bucket(b"key").delete(next(iter(tx.bucket(b"key").keys())))
        assert db.meta.freelist != PGID_NO_FREELIST
    r = etcdutl("snapshot", "status", str(path), "-w", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ours_json(path)


def test_big_freelist_overflow_form(real_snaps, tmp_path):
    """More than 0xFFFF free ids: count 0xFFFF in the header and the real count first (both read it)."""
    path = tmp_path / "f.db"
    with open_db(str(real_snaps["small"])) as db, db.view() as tx:
        write_compact(str(path), {n: tx.bucket(n).items() for n in tx.bucket_names()})
    with open_db(str(path)) as db:
        m = db.meta
        ps = db.page_size
    n_free = 70000
    fl_pg = m.pgid + n_free
    body = encode_freelist(fl_pg, list(range(m.pgid, m.pgid + n_free)), ps)
    assert struct.unpack_from("<H", body, 10)[0] == 0xFFFF
    npages = len(body) // ps
    with open(path, "r+b") as f:
        f.truncate((fl_pg + npages) * ps)
        f.seek(fl_pg * ps)
        f.write(body)
        for slot in (0, 1):
            meta = Meta(page_size=ps, root=m.root, freelist=fl_pg, pgid=fl_pg + npages, txid=m.txid - slot)
            f.seek(slot * ps)
            f.write(meta.page_bytes(slot, ps))
    assert ours_json(path) == etcdutl_status(path)
    with open_db(str(path)) as db:
        assert check(db, strict=True) == []
