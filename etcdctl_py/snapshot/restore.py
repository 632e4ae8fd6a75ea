"""`snapshot restore`: turn a `snapshot save` file into the data dir of a new cluster member, like etcdutl 3.5.

Same IDs, same `.snap` and WAL bytes, same bucket contents and the same zap log lines as etcdutl; but atomic:
everything is built in a hidden sibling directory, fsynced and renamed into place, so a failure (bad hash,
truncated or foreign file, disk full, Ctrl-C) leaves no data dir behind, and an existing non-empty one is never
touched. `restore_all` writes the data dir of every member of --initial-cluster in one go.

The db is the snapshot file copied (sha256 verified in the same pass) plus one small bbolt write transaction:
membership rewritten, consistent index and term set, optionally the revision bumped and marked compacted.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.snapshot import status as status_mod
from etcdctl_py.snapshot.zaplog import ZapLogger  # also re-exported: `restore.ZapLogger` stays valid
from etcdctl_py.storage import bbolt, membership, snap, v2store, wal
from etcdctl_py.storage.fileutil import fsync_dir
from etcdctl_py.storage.fileutil import go_path_error as _go_path_error_text

# (done, total) of one stage, and a factory that starts a named stage (see snapshot/progress.py)
Progress = Callable[[int, int], None]
StageProgress = Callable[[str], "Progress | None"]

HASH_SIZE = 32
COPY_CHUNK = 8 << 20

# Callers (zap "caller" field) of the log lines etcdutl 3.5.1 prints, so stderr matches byte for byte.
CALLER_RESTORING = "snapshot/v3_snapshot.go:251"
CALLER_TRIM = "membership/store.go:141"
CALLER_ADDED = "membership/cluster.go:421"
CALLER_RESTORED = "snapshot/v3_snapshot.go:272"
CALLER_BUMP = "snapshot/v3_snapshot.go:356"  # etcdutl 3.5.17
CALLER_COMPACT = "snapshot/v3_snapshot.go:373"
CALLER_OPEN_FAIL = "backend/backend.go:191"


class RestoreError(Exception):
    """Restore failed; str() is the text after `Error: ` (etcdutl's wording where etcdutl has one)."""


@dataclass
class RestoreConfig:
    """The flags of `etcdutl snapshot restore`."""

    snapshot_path: str
    name: str = "default"
    data_dir: str = ""
    wal_dir: str = ""
    initial_cluster: str = "default=http://localhost:2380"
    initial_cluster_token: str = "etcd-cluster"
    peer_urls: str = "http://localhost:2380"
    skip_hash_check: bool = False
    revision_bump: int = 0
    mark_compacted: bool = False
    # point-in-time restore (snapshot/pitr.py): applied to the copied db before the usual rewrite
    apply_db: Callable[[str], None] | None = None


@dataclass
class RestoreResult:
    data_dir: str
    wal_dir: str
    member_id: int
    cluster_id: int
    members: list[membership.Member] = field(default_factory=list)


def go_path_error(op: str, path: str, e: OSError) -> RestoreError:
    """Go's *os.PathError text (`<op> <path>: <errno text>`) as a RestoreError."""
    return RestoreError(_go_path_error_text(op, path, e))


def _dir_empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except OSError:
        return False


def _make_parents(path: str, created: list[str]) -> None:
    """mkdir -p with mode 0700 per created directory (etcd's CreateDirAll); remember what we made."""
    missing = []
    p = os.path.abspath(path)
    while not os.path.isdir(p):
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        os.mkdir(d, 0o700)
        created.append(d)


def _mkdtemp_sibling(target: str, tag: str, created: list[str]) -> str:
    parent = os.path.dirname(os.path.abspath(target)) or "."
    _make_parents(parent, created)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(target))}.{tag}-", dir=parent)


# --------------------------------------------------------------------------- copy + verify


def copy_and_verify(src_path: str, dst_path: str, skip_hash_check: bool, progress: Progress | None = None) -> None:
    """etcdutl's copyAndVerifyDB in one pass: copy, strip the sha256 trailer, verify it (unless skipped)."""
    try:
        src = os.open(src_path, os.O_RDONLY)
    except OSError as e:
        raise go_path_error("open", src_path, e) from None
    try:
        try:
            st = os.fstat(src)
        except OSError as e:
            raise go_path_error("stat", src_path, e) from None
        if stat.S_ISDIR(st.st_mode):
            raise RestoreError(f"read {src_path}: is a directory")
        size = st.st_size
        if size < HASH_SIZE:
            raise RestoreError(f"seek {src_path}: invalid argument")
        has_hash = size % 512 == HASH_SIZE
        if not has_hash and not skip_hash_check:
            raise RestoreError("snapshot missing hash but --skip-hash-check=false")
        body = size - HASH_SIZE if has_hash else size
        try:
            dst = os.open(dst_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise go_path_error("open", dst_path, e) from None
        try:
            h = hashlib.sha256()
            buf = bytearray(min(COPY_CHUNK, max(body, 1)))
            view = memoryview(buf)
            left = body
            verify = has_hash and not skip_hash_check
            with os.fdopen(src, "rb", buffering=0, closefd=False) as fsrc:
                while left > 0:
                    n = fsrc.readinto(view[: min(len(buf), left)])
                    if not n:
                        raise RestoreError(f"read {src_path}: unexpected EOF")
                    chunk = view[:n]
                    if verify:
                        h.update(chunk)
                    off = 0
                    while off < n:
                        try:
                            off += os.write(dst, chunk[off:])
                        except OSError as e:
                            raise go_path_error("write", dst_path, e) from None
                    left -= n
                    if progress is not None:
                        progress(body - left, body)
                trailer = os.pread(src, HASH_SIZE, body) if has_hash else b""
            if verify:
                got = h.digest()
                if got != trailer:
                    raise RestoreError(f"expected sha256 {_go_bytes(trailer)}, got {_go_bytes(got)}")
            os.fsync(dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _go_bytes(b: bytes) -> str:
    """Go's %v of a []byte: `[1 2 3]`."""
    return "[" + " ".join(str(x) for x in b) + "]"


# --------------------------------------------------------------------------- db transaction


def rewrite_db(
    db_path: str,
    cl: membership.Cluster,
    revision_bump: int,
    log: ZapLogger,
    skip_hash_check: bool,
    progress: Progress | None = None,
) -> None:
    """The bbolt part of restore in one write transaction (etcdutl uses three; the contents are the same)."""
    if skip_hash_check:
        # No sha256 protects a copied db file: run `snapshot status`'s integrity check and full read first.
        try:
            status_mod.status(db_path, lock_timeout=5, progress=progress)
        except Exception as e:  # noqa: BLE001 - SnapshotStatusError or any engine error on a damaged page
            if isinstance(e, bbolt.BoltError) or "invalid database" in str(e) or "checksum" in str(e):
                log.log("panic", CALLER_OPEN_FAIL, "failed to open database", {"path": db_path, "error": _exc_text(e)})
                raise RestoreError(f"failed to open database: {_exc_text(e)}") from None
            raise RestoreError(f"invalid database: {_exc_text(e)}") from None
    try:
        # New pages go at the end of the file: finding the free pages of an etcd file (no persisted
        # freelist) means walking the whole tree (~1 s and the file's size in RSS on a 1 GiB db) to
        # save a few pages; etcd derives its free list again when it opens the db.
        db = bbolt.open_db(db_path, writable=True, reuse_free_pages=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file means it is not a usable bbolt db
        log.log("panic", CALLER_OPEN_FAIL, "failed to open database", {"path": db_path, "error": _exc_text(e)})
        raise RestoreError(f"failed to open database: {_exc_text(e)}") from None
    try:
        n = len(cl.members)
        log.info(CALLER_TRIM, "Trimming membership information from the backend...")
        with db.update() as tx:
            for name, value in tx.root.items():
                if value is not None:  # etcd's backend only has buckets at the top
                    raise RestoreError(f"invalid database: top-level key {name!r} is not a bucket")
            for name in (b"members", b"members_removed"):
                b = tx.bucket(name)
                if b is not None:
                    for k in list(b.keys()):
                        b.delete(k)
            if revision_bump:
                _bump_revision(tx, revision_bump, log)
            members = tx.create_bucket_if_not_exists(b"members")
            tx.create_bucket_if_not_exists(b"members_removed")
            tx.create_bucket_if_not_exists(b"cluster")
            for m in cl.members:
                members.put(m.hex_id.encode(), m.to_json().encode("utf-8", "surrogateescape"))
                log.info(
                    CALLER_ADDED,
                    "added member",
                    {
                        "cluster-id": format(cl.cluster_id, "x"),
                        "local-member-id": "0",
                        "added-peer-id": m.hex_id,
                        "added-peer-peer-urls": m.peer_urls,
                    },
                )
            meta = tx.create_bucket_if_not_exists(b"meta")
            meta.put(b"consistent_index", n.to_bytes(8, "big"))
            meta.put(b"term", (1).to_bytes(8, "big"))
    except RestoreError:
        raise
    except OSError as e:
        raise go_path_error("write", db_path, e) from None
    except Exception as e:  # noqa: BLE001 - a damaged page surfaces as any exception inside the engine
        raise RestoreError(f"invalid database: {_exc_text(e)}") from None
    finally:
        db.close()


def _bump_revision(tx, amount: int, log: ZapLogger) -> None:
    """3.5.10+ --bump-revision: a key at (latest main + amount, 0) with an empty value, scheduled compaction there."""
    kb = tx.bucket(b"key")
    latest_main = 0
    if kb is not None:
        last = kb.last()  # revision keys sort by (main, sub): the last one is the latest
        if last is not None and len(last[0]) >= 17:
            latest_main = int.from_bytes(last[0][0:8], "big")
    else:
        kb = tx.create_bucket_if_not_exists(b"key")
    new_main = latest_main + amount
    log.info(
        CALLER_BUMP,
        "bumping latest revision",
        {"latest-revision": latest_main, "bump-amount": amount, "new-latest-revision": new_main},
    )
    rev = new_main.to_bytes(8, "big") + b"_" + (0).to_bytes(8, "big")
    kb.put(rev, b"")
    log.info(CALLER_COMPACT, "marking revision compacted", {"revision": new_main})
    tx.create_bucket_if_not_exists(b"meta").put(b"scheduledCompactRev", rev)


def _exc_text(e: BaseException) -> str:
    s = str(e)
    return s if s else type(e).__name__


# --------------------------------------------------------------------------- WAL + .snap


def conf_change_entries(cl: membership.Cluster) -> list[bytes]:
    """One ConfChangeAddNode entry per member (term 1, index i), context = the member JSON."""
    out = []
    for i, m in enumerate(cl.members, 1):
        cc = raft_pb2.ConfChange(
            id=0, type=raft_pb2.ConfChangeAddNode, node_id=m.id, context=m.to_json().encode("utf-8", "surrogateescape")
        )
        out.append(wal.encode_entry((raft_pb2.EntryConfChange, 1, i, cc.SerializeToString())))
    return out


def write_wal_and_snap(wal_dir: str, snap_dir: str, cl: membership.Cluster, local: membership.Member) -> None:
    """saveWALAndSnap: WAL (crc, metadata, empty snapshot, entries, HardState, snapshot) and the .snap."""
    n = len(cl.members)
    w = wal.WALWriter(wal_dir, wal.encode_metadata(local.id, cl.cluster_id))
    try:
        w.save(term=1, vote=cl.members[0].id, commit=n, entries=conf_change_entries(cl), last_index=n)
        w.save_snapshot(n, 1, cl.member_ids)
        w.close()
    except BaseException:
        w.abort()
        raise
    snap.write_snap(snap_dir, v2store.restore_store(cl.members), n, 1, cl.member_ids)


# --------------------------------------------------------------------------- the command


def _prepare(cfg: RestoreConfig) -> tuple[membership.Cluster, str, str]:
    try:
        cl = membership.cluster_from_flags(cfg.name, cfg.initial_cluster, cfg.peer_urls, cfg.initial_cluster_token)
    except membership.MembershipError as e:
        raise RestoreError(str(e)) from None
    data_dir = cfg.data_dir or cfg.name + ".etcd"
    if os.path.lexists(data_dir) and not _dir_empty(data_dir):
        raise RestoreError(f"data-dir {membership.go_quote(data_dir)} not empty or could not be read")
    wal_dir = cfg.wal_dir or os.path.join(data_dir, "member", "wal")
    if os.path.lexists(wal_dir):
        raise RestoreError(f"wal-dir {membership.go_quote(wal_dir)} exists")
    return cl, data_dir, wal_dir


def restore(cfg: RestoreConfig, log: ZapLogger | None = None, progress: StageProgress | None = None) -> RestoreResult:
    """Restore one member's data dir atomically. Raises RestoreError (nothing is left behind then).

    progress, if given, is asked for a callback per long stage: "copy" (and "check" with skip_hash_check).
    """
    log = log or ZapLogger(None)
    stage = progress or (lambda _name: None)
    cl, data_dir, wal_dir = _prepare(cfg)
    snap_dir = os.path.join(data_dir, "member", "snap")
    fields = {"path": cfg.snapshot_path, "wal-dir": wal_dir, "data-dir": data_dir, "snap-dir": snap_dir}
    # etcdutl adds a `stack` field here (zap.Stack: Go function names, its build machine's source paths): nothing
    # a reader or a script of ours can use, so only the fields that describe this restore are logged
    log.info(CALLER_RESTORING, "restoring snapshot", fields)
    local = cl.local
    assert local is not None
    custom_wal = bool(cfg.wal_dir)
    tmp: str | None = None
    wal_tmp: str | None = None
    created: list[str] = []  # parent directories this call made (removed again on failure)
    try:
        try:
            tmp = _mkdtemp_sibling(data_dir, "restore", created)
            tmp_snap = os.path.join(tmp, "member", "snap")
            os.mkdir(os.path.join(tmp, "member"), 0o700)
            os.mkdir(tmp_snap, 0o700)
            if custom_wal:
                wal_tmp = _mkdtemp_sibling(wal_dir, "restore", created)
                tmp_wal = os.path.join(wal_tmp, "wal")
            else:
                tmp_wal = os.path.join(tmp, "member", "wal")
        except OSError as e:
            raise go_path_error("mkdir", data_dir, e) from None
        db_path = os.path.join(tmp_snap, "db")
        copy_and_verify(cfg.snapshot_path, db_path, cfg.skip_hash_check, stage("copy"))
        if cfg.apply_db is not None:
            cfg.apply_db(db_path)
        rewrite_db(
            db_path,
            cl,
            cfg.revision_bump if cfg.mark_compacted else 0,
            log,
            cfg.skip_hash_check,
            stage("check") if cfg.skip_hash_check else None,
        )
        try:
            write_wal_and_snap(tmp_wal, tmp_snap, cl, local)
            for d in (tmp_snap, os.path.join(tmp, "member"), tmp):
                fsync_dir(d)
            log.info(CALLER_RESTORED, "restored snapshot", fields)
            if os.environ.get("ETCD_VERIFY") == "all":
                verify(tmp, data_dir, log)
            _install(tmp, data_dir, wal_tmp, tmp_wal, wal_dir)
            if wal_tmp is not None:
                os.rmdir(wal_tmp)  # emptied by the rename of its `wal` into place
        except OSError as e:
            raise go_path_error("write", e.filename or data_dir, e) from None
        tmp = wal_tmp = None
        created = []
    finally:
        for staged in (tmp, wal_tmp):
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
        for d in reversed(created):
            try:
                os.rmdir(d)
            except OSError:
                pass  # no longer empty (someone else wrote there) or gone: leave it, the restore's error stands
    return RestoreResult(
        data_dir=data_dir, wal_dir=wal_dir, member_id=local.id, cluster_id=cl.cluster_id, members=cl.members
    )


def verify(built_dir: str, data_dir: str, log: ZapLogger) -> None:
    """ETCD_VERIFY=all (verify.Verify with ExactIndex): consistent index and term equal the WAL's HardState.

    Like etcd it reads the WAL under <data-dir>/member/wal (a separate --wal-dir is not looked at).
    """
    log.info("verify/verify.go:57", "verification of persisted state", {"data-dir": data_dir})
    try:
        walsnaps = wal.read_wal(os.path.join(built_dir, "member", "wal"), require_snapshot=False).snapshots
        last = walsnaps[-1] if walsnaps else (0, 0)
        hs = wal.read_wal(os.path.join(built_dir, "member", "wal"), last[0], last[1]).hard_state
        with bbolt.open_db(os.path.join(built_dir, "member", "snap", "db")) as db, db.view() as tx:
            meta = tx.bucket(b"meta")
            ci = meta.get(b"consistent_index") if meta is not None else None
            tm = meta.get(b"term") if meta is not None else None
        index = int.from_bytes(ci, "big") if ci else 0
        term = int.from_bytes(tm, "big") if tm else 0
        if index != hs.commit:
            raise RestoreError(f"backend.ConsistentIndex ({index}) expected == WAL.HardState.commit ({hs.commit})")
        if term != hs.term:
            raise RestoreError(f"backend.Term ({term}) expected == WAL.HardState.term, ({hs.term})")
        if index < last[0]:
            raise RestoreError(f"backend.ConsistentIndex ({index}) must be >= last snapshot index ({last[0]})")
    except (RestoreError, wal.WALError, OSError) as e:
        log.log(
            "error",
            "verify/verify.go:60",
            "verification of persisted state failed",
            {"data-dir": data_dir, "error": str(e)},
        )
        raise RestoreError(str(e)) from None
    log.info(
        "verify/verify.go:130",
        "verification: consistentIndex OK",
        {"backend-consistent-index": index, "hardstate-commit": hs.commit},
    )
    log.info("verify/verify.go:68", "verification of persisted state successful", {"data-dir": data_dir})


def _install(tmp: str, data_dir: str, wal_tmp: str | None, tmp_wal: str, wal_dir: str) -> None:
    """Rename the finished dirs into place: WAL dir first (if separate), then the data dir; undo on failure."""
    if wal_tmp is not None:
        os.rename(tmp_wal, wal_dir)
        fsync_dir(os.path.dirname(os.path.abspath(wal_dir)))
    try:
        if os.path.isdir(data_dir) and not os.path.islink(data_dir):
            os.chmod(tmp, os.stat(data_dir).st_mode & 0o7777)  # an existing empty dir keeps its mode
        try:
            os.rename(tmp, data_dir)
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise RestoreError(f"data-dir {membership.go_quote(data_dir)} not empty or could not be read") from None
            raise
        fsync_dir(os.path.dirname(os.path.abspath(data_dir)))
    except BaseException:
        if wal_tmp is not None:
            shutil.rmtree(wal_dir, ignore_errors=True)
        raise


def restore_all(
    cfg: RestoreConfig, output_dir: str, log: ZapLogger | None = None, progress: StageProgress | None = None
) -> list[RestoreResult]:
    """Beyond etcdutl: the data dir of every member of --initial-cluster, as `<output_dir>/<name>.etcd`.

    Each member's dir is what `restore --name <name> --initial-advertise-peer-urls <its urls>` makes. All
    or nothing: if one fails, the ones already written by this call are removed.
    """
    log = log or ZapLogger(None)
    try:
        urls_map = membership.parse_initial_cluster(cfg.initial_cluster)
    except membership.MembershipError as e:
        raise RestoreError(str(e)) from None
    if not urls_map:
        raise RestoreError("initial cluster unset and no discovery URL found")
    plans = []
    for name in sorted(urls_map):
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise RestoreError(f"member name {membership.go_quote(name)} cannot be used as a directory name")
        sub = RestoreConfig(
            **{
                **cfg.__dict__,
                "name": name,
                "peer_urls": ",".join(urls_map[name]),
                "data_dir": os.path.join(output_dir, f"{name}.etcd"),
                "wal_dir": "",
            }
        )
        _prepare(sub)  # validate every member before writing anything
        plans.append(sub)
    done: list[RestoreResult] = []
    try:
        for sub in plans:
            member = (lambda stage, name=sub.name: progress(f"{name}: {stage}")) if progress else None
            done.append(restore(sub, log, member))
    except BaseException:
        for r in done:
            shutil.rmtree(r.data_dir, ignore_errors=True)
        raise
    return done
