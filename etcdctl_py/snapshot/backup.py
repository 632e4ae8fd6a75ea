"""`etcdutl backup` (etcdutl 3.5.1): the v2-era offline copy of a *stopped* member, to be started with
`--force-new-cluster`.

What 3.5.1 does, and so what this does: the newest `.snap` is rewritten with its membership replaced by one dummy
member (new random ID, name `etcdctl-v2-backup`, peer URL `http://use-flag--force-new-cluster:2080`); WAL entries
that carry membership (ConfChange, v2 member attributes, cluster_member_attr_set) -- and v3 requests unless
--with-v3 -- become empty entries at the same index; the WAL keeps its metadata (original node and cluster IDs),
HardState and entries and gets the snapshot record; the db is copied like bbolt's Tx.WriteTo (or created empty
without --with-v3) with `cluster` recreated empty and `members` = the dummy member.

Beyond etcdutl: the backup is built in temporary sibling directories and renamed into place, so a failure leaves
nothing; an existing non-empty --backup-dir (or existing --backup-wal-dir) is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.snapshot.zaplog import ZapLogger
from etcdctl_py.storage import bbolt, membership, snap, v2store, wal
from etcdctl_py.storage.bbolt.page import Meta
from etcdctl_py.storage.fileutil import fsync_dir, go_errno_text

DUMMY_NAME = "etcdctl-v2-backup"
DUMMY_PEER_URL = "http://use-flag--force-new-cluster:2080"
MEMBER_ATTR_RE = re.compile(r"/0/members/[0-9A-Fa-f]{1,16}/attributes")
CALLER = "etcdutl/backup_command.go:"


class BackupError(Exception):
    """A fatal backup failure: `message` and `fields` form etcdutl's zap `fatal` line."""

    def __init__(self, message: str, fields: dict | None = None, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.line = line


def new_ids(now_ms: int | None = None) -> tuple[int, int]:
    """idutil.NewGenerator(0, now): (node ID, cluster ID) = 40 bits of Unix milliseconds << 8, plus 1 and 2."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    suffix = (ms & ((1 << 40) - 1)) << 8
    mask = (1 << 48) - 1
    return (suffix + 1) & mask, (suffix + 2) & mask


@dataclass
class BackupResult:
    node_id: int
    cluster_id: int
    snapshot_index: int
    entries: int
    noop_entries: int


def _go_entry_string(e: raft_pb2.Entry) -> str:
    """gogo's compact text of a raftpb.Entry (zap.Stringer in the 'ignoring member attribute update' line)."""
    types = {0: "EntryNormal", 1: "EntryConfChange", 2: "EntryConfChangeV2"}
    data = "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:03o}" for b in e.Data)
    return f'Term:{e.Term} Index:{e.Index} Type:{types.get(e.Type, e.Type)} Data:"{data}" '


def _parse_v2_request(data: bytes) -> tuple[str, str] | None:
    """(Method, Path) of an etcdserverpb.Request, or None when the bytes are not one."""
    try:
        fields = wal.parse_fields(data)
    except ValueError:
        return None
    method = path = ""
    for f, w, v in fields:
        if f == 2 and w == 2:
            method = bytes(v).decode("utf-8", "replace")
        elif f == 3 and w == 2:
            path = bytes(v).decode("utf-8", "replace")
    return method, path


def classify(data: bytes) -> tuple[str, tuple[str, str] | None]:
    """What translateWAL sees in a normal entry: ('v2'|'v3'|'attr_set'|'plain', v2 request or None)."""
    try:
        fields = wal.parse_fields(data)
    except ValueError:
        return "v2", _parse_v2_request(data)  # not an InternalRaftRequest: a bare v2 Request
    v2req = None
    header = attr_set = False
    for f, w, v in fields:
        if f == 2 and w == 2:
            v2req = _parse_v2_request(bytes(v)) or ("", "")
        elif f == 100 and w == 2:
            header = True
        elif f == 1301 and w == 2:
            attr_set = True
    if v2req is not None:
        return "v2", v2req
    if attr_set:
        return "attr_set", None
    return ("v3" if header else "plain"), None


def translate_entries(ents: list[raft_pb2.Entry], with_v3: bool, log: ZapLogger) -> int:
    """Replace membership (and, without v3, v3) entries by empty normal entries in place; return how many."""
    n = 0
    for e in ents:
        if e.Type == raft_pb2.EntryConfChange:
            log.info(CALLER + "216", "ignoring EntryConfChange raft entry")
        else:
            kind, v2req = classify(e.Data)
            if v2req is not None and v2req[0] == "PUT" and MEMBER_ATTR_RE.search(v2req[1]):
                log.info(
                    CALLER + "231",
                    "ignoring member attribute update on",
                    {"entry": _go_entry_string(e), "v2Req.Path": v2req[1]},
                )
            elif kind == "attr_set":
                log.info(CALLER + "243", "ignoring cluster_member_attr_set")
            elif with_v3 or kind != "v3":
                continue
            else:
                log.info(CALLER + "252", "ignoring v3 raft entry")
        term, index = e.Term, e.Index
        e.Clear()
        e.Term, e.Index, e.Type = term, index, raft_pb2.EntryNormal
        n += 1
    return n


def copy_db_like_write_to(src: str, dst: str) -> None:
    """bbolt Tx.WriteTo: meta page 0 = current meta, page 1 = same with txid-1, then pages 2..pgid-1 verbatim."""
    db = bbolt.open_db(src, lock_timeout=1.0)
    try:
        m, ps = db.meta, db.page_size
        m0 = Meta(**{**m.__dict__, "checksum": 0})
        m1 = Meta(**{**m.__dict__, "txid": m.txid - 1, "checksum": 0})
        fd_in = os.open(src, os.O_RDONLY)
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd_out, m0.page_bytes(0, ps) + m1.page_bytes(1, ps))
            off, end = 2 * ps, m.pgid * ps
            while off < end:
                chunk = os.pread(fd_in, min(8 << 20, end - off), off)
                if not chunk:
                    raise OSError(5, "unexpected EOF")
                os.write(fd_out, chunk)
                off += len(chunk)
            os.fsync(fd_out)
        finally:
            os.close(fd_in)
            os.close(fd_out)
    finally:
        db.close()


def rewrite_backup_db(path: str, member: membership.Member, commit: int, term: int, with_v3: bool) -> None:
    """TrimClusterFromBackend + SetBackend + PushMembershipToStorage (+ consistent index without v3)."""
    db = bbolt.open_db(path, writable=True)
    try:
        with db.update() as tx:
            if tx.bucket(b"cluster") is not None:
                tx.delete_bucket(b"cluster")
            members = tx.create_bucket_if_not_exists(b"members")
            removed = tx.create_bucket_if_not_exists(b"members_removed")
            tx.create_bucket_if_not_exists(b"cluster")
            for b in (members, removed):
                for k in list(b.keys()):
                    b.delete(k)
            members.put(member.hex_id.encode(), member.to_json().encode())
            if not with_v3:
                meta = tx.create_bucket_if_not_exists(b"meta")
                meta.put(b"consistent_index", commit.to_bytes(8, "big"))
                meta.put(b"term", term.to_bytes(8, "big"))
    finally:
        db.close()


@dataclass(frozen=True)
class _Layout:
    """Where a backup reads from and writes to."""

    src_snap: str
    src_wal: str
    backup_dir: str
    dest_snap: str
    dest_wal: str
    custom_wal: bool  # --backup-wal-dir given: the WAL goes there, not under backup_dir

    @classmethod
    def of(cls, data_dir: str, backup_dir: str, wal_dir: str, backup_wal_dir: str) -> _Layout:
        return cls(
            src_snap=os.path.join(data_dir, "member", "snap"),
            src_wal=wal_dir or os.path.join(data_dir, "member", "wal"),
            backup_dir=backup_dir,
            dest_snap=os.path.join(backup_dir, "member", "snap"),
            dest_wal=backup_wal_dir or os.path.join(backup_dir, "member", "wal"),
            custom_wal=bool(backup_wal_dir),
        )

    def snap_dir_error(self, error: str) -> BackupError:
        return BackupError("failed creating backup snapshot dir", {"dest-snap": self.dest_snap, "error": error}, 118)


def backup(
    data_dir: str,
    backup_dir: str,
    wal_dir: str = "",
    backup_wal_dir: str = "",
    with_v3: bool = True,
    log: ZapLogger | None = None,
    now_ms: int | None = None,
) -> BackupResult:
    """Write the backup atomically; raises BackupError (nothing left behind then)."""
    log = log or ZapLogger(None)
    lay = _Layout.of(data_dir, backup_dir, wal_dir, backup_wal_dir)
    _refuse_existing(lay)
    node_id, cluster_id = new_ids(now_ms)
    dummy = membership.Member(id=node_id, peer_urls=[DUMMY_PEER_URL], name=DUMMY_NAME)
    tmp = wal_tmp = None
    try:
        tmp = _staging_dir(lay)
        tmp_snap = os.path.join(tmp, "member", "snap")
        walsnap, voters = _save_snap(lay.src_snap, tmp_snap, dummy)
        contents = _read_wal(lay.src_wal, walsnap, log)
        noops = translate_entries(contents.entries, with_v3, log)
        _save_db(lay.src_snap, tmp_snap, dummy, contents.hard_state, with_v3, log)
        if lay.custom_wal:
            wal_tmp = _mkdtemp_beside(lay.dest_wal)
        tmp_wal = os.path.join(wal_tmp, "wal") if wal_tmp else os.path.join(tmp, "member", "wal")
        _save_wal(tmp_wal, contents, walsnap, voters)
        _publish(lay, tmp, tmp_wal, wal_tmp)
        tmp = wal_tmp = None
    finally:
        for d in (tmp, wal_tmp):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
    return BackupResult(
        node_id=node_id,
        cluster_id=cluster_id,
        snapshot_index=walsnap[0],
        entries=len(contents.entries),
        noop_entries=noops,
    )


def _refuse_existing(lay: _Layout) -> None:
    """Beyond etcdutl (which writes into whatever is there): never mix a backup into existing files."""
    d = lay.backup_dir
    if os.path.lexists(d) and (not os.path.isdir(d) or os.listdir(d)):
        raise lay.snap_dir_error(f"backup dir {membership.go_quote(d)} exists and is not empty")
    if lay.custom_wal and os.path.lexists(lay.dest_wal):
        raise BackupError(
            "wal.Create failed", {"error": f"backup wal dir {membership.go_quote(lay.dest_wal)} exists"}, 131
        )


def _mkdtemp_beside(path: str) -> str:
    """A hidden temporary directory next to `path`, renamed onto it once complete."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    return tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(path))}.backup-", dir=parent)


def _staging_dir(lay: _Layout) -> str:
    """The temporary backup dir, with member/snap made (etcdutl's fileutil.CreateDirAll(destSnap))."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(lay.backup_dir)), exist_ok=True)
        tmp = _mkdtemp_beside(lay.backup_dir)
        os.mkdir(os.path.join(tmp, "member"), 0o700)
        os.mkdir(os.path.join(tmp, "member", "snap"), 0o700)
    except OSError as e:
        raise lay.snap_dir_error(f"mkdir {lay.backup_dir}: {go_errno_text(e)}") from None
    return tmp


def _save_snap(src_snap: str, tmp_snap: str, dummy: membership.Member) -> tuple[tuple[int, int], list[int] | None]:
    """saveSnap: the newest readable .snap, its v2 store's membership replaced by the dummy member.

    Returns the WAL snapshot (index, term) to read from, (0, 0) when there is no snapshot, and its voters.
    """
    try:
        names = sorted((n for n in os.listdir(src_snap) if n.endswith(snap.SNAP_SUFFIX)), reverse=True)
    except OSError as e:
        raise BackupError(
            "saveSnap(Snapshoter.Load) failed", {"error": f"open {src_snap}: {go_errno_text(e)}"}, 154
        ) from None
    for name in names:
        try:
            s = snap.read_snap(os.path.join(src_snap, name))
        except (snap.SnapError, OSError):
            continue  # Snapshotter.Load skips a damaged file and tries the next older one
        try:
            data = v2store.replace_membership(s.data, [dummy])
        except v2store.V2StoreError as e:
            raise BackupError("cannot translate v2store", {"error": str(e)}, 173) from None
        snap.write_snap(tmp_snap, data, s.metadata.index, s.metadata.term, [dummy.id])
        return (s.metadata.index, s.metadata.term), [dummy.id]
    return (0, 0), None


def _read_wal(src_wal: str, walsnap: tuple[int, int], log: ZapLogger) -> wal.WALContents:
    """translateWAL's read: everything after the snapshot (a torn tail tolerated, a missing record fixed)."""
    try:
        contents = wal.read_wal(src_wal, walsnap[0], walsnap[1], require_snapshot=False, tolerate_torn_tail=True)
    except wal.WALError as e:
        msg = str(e)
        if msg.startswith(("open ", "wal: file not found", "wal: file sequence")):
            raise BackupError("wal.OpenForRead failed", {"error": msg}, 191) from None
        raise BackupError("unexpected error while reading WAL", {"error": msg}, 201) from None
    if not contents.snapshot_found:
        log.warn(
            CALLER + "198",
            "failed to find the match snapshot record",
            {"walsnap": f'{{"index": {walsnap[0]}, "term": {walsnap[1]}}}', "srcWAL": src_wal},
        )
        log.warn(CALLER + "199", "etcdctl will add it back. Start auto fixing...")
    return contents


def _save_db(
    src_snap: str, tmp_snap: str, dummy: membership.Member, hs: raft_pb2.HardState, with_v3: bool, log: ZapLogger
) -> None:
    """saveDB: the v3 db copied (or created empty without --with-v3), its membership trimmed to the dummy."""
    tmp_db = os.path.join(tmp_snap, "db")
    src_db = os.path.join(src_snap, "db")
    try:
        if with_v3:
            copy_db_like_write_to(src_db, tmp_db)
        log.info("membership/store.go:141", "Trimming membership information from the backend...")
        rewrite_backup_db(tmp_db, dummy, hs.commit, hs.term, with_v3)
    except OSError as e:
        raise BackupError("bolt.Open FAILED", {"error": f"open {src_db}: {go_errno_text(e)}"}, 277) from None
    except Exception as e:  # noqa: BLE001 - whatever a damaged or locked db makes the engine raise is this failure
        raise BackupError("bolt.Open FAILED", {"error": str(e) or type(e).__name__}, 277) from None


def _save_wal(tmp_wal: str, contents: wal.WALContents, walsnap: tuple[int, int], voters: list[int] | None) -> None:
    """A new WAL with the old metadata, HardState and (translated) entries, then the snapshot record."""
    hs = contents.hard_state
    try:
        w = wal.WALWriter(tmp_wal, contents.metadata)
        ents = [wal.encode_entry(e) for e in contents.entries]
        w.save(hs.term, hs.vote, hs.commit, ents, contents.entries[-1].Index if contents.entries else 0)
        w.save_snapshot(walsnap[0], walsnap[1], voters)
        w.close()
    except OSError as e:
        raise BackupError("wal.Create failed", {"error": f"{e.filename or tmp_wal}: {go_errno_text(e)}"}, 131) from None


def _publish(lay: _Layout, tmp: str, tmp_wal: str, wal_tmp: str | None) -> None:
    """fsync the staged directories and rename them into place (the WAL first when it has its own dir)."""
    tmp_snap = os.path.join(tmp, "member", "snap")
    for d in (tmp_snap, os.path.join(tmp, "member"), tmp):
        fsync_dir(d)
    if wal_tmp is not None:
        os.rename(tmp_wal, lay.dest_wal)
        os.rmdir(wal_tmp)
    try:
        os.rename(tmp, lay.backup_dir)
    except OSError as e:
        if wal_tmp is not None:
            shutil.rmtree(lay.dest_wal, ignore_errors=True)
        raise lay.snap_dir_error(f"rename {lay.backup_dir}: {go_errno_text(e)}") from None
    fsync_dir(os.path.dirname(os.path.abspath(lay.backup_dir)))


def run_cli(data_dir: str, backup_dir: str, wal_dir: str, backup_wal_dir: str, with_v3: bool) -> int:
    """etcdutl backup's command body: zap console lines on stderr; a failure is a zap `fatal` line, exit 1."""
    log = ZapLogger(sys.stderr)
    try:
        backup(data_dir, backup_dir, wal_dir, backup_wal_dir, with_v3, log)
    except BackupError as e:
        log.log("fatal", CALLER + str(e.line), e.message, e.fields)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
