"""`snapshot status FILE` as etcdutl 3.5.1 (and etcdctl 3.4/3.5) computes it, plus `--verify`.

status(): stat, open read-only (shared flock), bbolt Tx.Check, then a CRC-32C (Castagnoli) over
every top-level bucket name and each of its keys and values in cursor order; the revision is the
main part of the last `key` bucket key; total size is pgid * page size. Errors carry etcdutl's
exact messages (printed as `Error: <message>`, exit code 1).

verify(): a full structural check (bbolt.check strict mode + sha256 trailer), as a report.
"""

from __future__ import annotations

import errno
import hashlib
import operator
import os
import struct
from dataclasses import dataclass, field
from typing import Callable

import crc32c

from ..storage import backend
from ..storage.fileutil import go_path_error
from ..storage.bbolt import BoltError, CorruptError, check, open_db
from ..storage.bbolt.node import decode_view
from ..storage.bbolt.page import BUCKET_LEAF_FLAG, PAGE_HEADER, PAGE_HEADER_SIZE, page_type_name
from ..storage.bbolt.walk import sub_bucket_roots

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SnapshotStatus:
    """etcdutl's snapshot.Status (field names as its JSON tags)."""

    hash: int
    revision: int
    total_key: int
    total_size: int


class SnapshotStatusError(Exception):
    """A status failure; str() is the message after `Error: `, exit_code what etcdutl exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _open(path: str, lock_timeout: float | None):
    try:
        os.stat(path)
    except OSError as e:
        raise SnapshotStatusError(go_path_error("stat", path, e)) from None
    if os.path.isdir(path):
        # bbolt opens with O_CREATE, which the kernel refuses on a directory
        raise SnapshotStatusError(go_path_error("open", path, OSError(errno.EISDIR, "")))
    try:
        return open_db(path, lock_timeout=lock_timeout)
    except BoltError as e:
        raise SnapshotStatusError(str(e)) from None
    except OSError as e:
        raise SnapshotStatusError(go_path_error("open", path, e)) from None


def status(path: str, *, lock_timeout: float | None = None, progress: Progress | None = None) -> SnapshotStatus:
    """What `etcdutl snapshot status path` reports, or SnapshotStatusError with its message."""
    db = _open(path, lock_timeout)
    try:
        return _status(db, progress)
    except (CorruptError, struct.error, ValueError, IndexError) as e:
        # where Go's bbolt would read past the mapping and crash, we say what is broken
        raise SnapshotStatusError(f"snapshot file is corrupted: {e}") from None
    finally:
        db.close()


def _status_two_pass(db, progress: Progress | None) -> SnapshotStatus:
    """Check, then hash every bucket in cursor order (etcdutl v3Manager.Status), straightforwardly.

    The reference for `_status` (one pass), which tests compare it with.
    """
    with db.view() as tx:
        try:
            problems = check(db, tx=tx)
        except CorruptError as e:
            raise SnapshotStatusError(f"snapshot file integrity check failed: {e}") from None
        if problems:
            raise SnapshotStatusError(
                f"snapshot file integrity check failed. {len(problems)} errors found.\n" + "\n".join(problems))
        total_size = tx.size()
        h = 0
        revision = 0
        total = 0
        done = 0
        for name, bucket in tx.buckets():
            if bucket is None:
                raise SnapshotStatusError(f"cannot get hash of bucket {_go_string(name)}")
            h = crc32c.crc32c(name, h)
            is_key = name == backend.KEY
            for buf, off, end in bucket.leaf_pages():
                try:
                    h, n, last = _hash_leaf(buf, off, end, h, is_key)
                except CorruptError as e:
                    raise SnapshotStatusError(f"cannot write bucket {_go_string(name)} : {e}") from None
                total += n
                if last is not None:
                    revision = last
                if progress is not None:
                    done += end - off
                    progress(min(done, total_size), total_size)
        return SnapshotStatus(hash=h, revision=revision, total_key=total, total_size=total_size)


def _status(db, progress: Progress | None, counts: dict[bytes, int] | None = None) -> SnapshotStatus:
    """Tx.Check and the hash in one walk over the file (`counts` gets each top-level bucket's key count).

    bbolt's Check visits each bucket's pages depth-first (leaves in key order), then its
    sub-buckets in key order: for etcd's layout (top-level buckets only) that is the very order
    the hash needs, so both are done together and the hash is dropped if Check found problems.
    Error texts and their order are those of bbolt 1.3.6's Tx.Check.
    """
    with db.view() as tx:
        meta = tx.meta
        mm = tx._mm
        hard = tx._limit
        ps = db.page_size
        npg = meta.pgid
        errs: list[str] = []
        unpack_hdr = PAGE_HEADER.unpack_from
        persisted = meta.freelist != 0xFFFFFFFFFFFFFFFF
        freed = bytearray(npg + 1)
        freed_extra: set[int] = set()
        if persisted:
            from ..storage.bbolt.page import decode_freelist

            try:
                ids = decode_freelist(mm, meta.freelist * ps, hard)
            except (ValueError, struct.error) as e:
                raise CorruptError(f"freelist page {meta.freelist}: {e}") from None
            for i in ids:
                if 0 <= i <= npg:
                    if freed[i]:
                        errs.append(f"page {i}: already freed")
                    freed[i] = 1
                else:
                    if i in freed_extra:
                        errs.append(f"page {i}: already freed")
                    freed_extra.add(i)
        reach = bytearray(npg + 1)
        reach_extra: set[int] = set()
        reach[0] = 1
        if npg >= 1:
            reach[1] = 1
        if persisted:
            fl = meta.freelist
            if fl * ps + 16 <= hard:
                ov = unpack_hdr(mm, fl * ps)[3]
            else:
                ov = 0
            for i in range(fl, fl + min(ov, npg + 1024) + 1):
                if i <= npg:
                    reach[i] = 1
                else:
                    reach_extra.add(i)
        budget = [4 * max(npg, 1) + 1024]
        translate_odd = bytes(b & 1 for b in range(256))

        def visit(pgid: int, leaf_fn) -> list[int]:
            """Check-walk one bucket's pages (DFS); leaf_fn(off) for leaves; returns nested roots."""
            nested: list[int] = []
            stack = [(pgid, 0)]
            while stack:
                pg, depth = stack.pop()
                budget[0] -= 1
                if budget[0] < 0:
                    errs.append(f"page {pg}: too many page references (cycle in the tree?)")
                    return nested
                off = pg * ps
                if off + 16 > hard:
                    errs.append(f"page {pg}: beyond end of file")
                    continue
                pid, flags, count, overflow = unpack_hdr(mm, off)
                if pid > npg:
                    errs.append(f"page {pid}: out of bounds: {npg}")
                if overflow == 0 and pid <= npg:
                    if reach[pid]:
                        errs.append(f"page {pid}: multiple references")
                    reach[pid] = 1
                else:
                    run = overflow + 1
                    if pid + run > npg + 1 + 1024:
                        errs.append(f"page {pid}: overflow of {overflow} pages runs past the end of the database")
                        run = max(0, min(run, npg + 1 - pid))
                    for i in range(pid, pid + run):
                        if i <= npg:
                            if reach[i]:
                                errs.append(f"page {i}: multiple references")
                            reach[i] = 1
                        else:
                            if i in reach_extra:
                                errs.append(f"page {i}: multiple references")
                            reach_extra.add(i)
                if persisted and (freed[pid] if pid <= npg else pid in freed_extra):
                    errs.append(f"page {pid}: reachable freed")
                elif not flags & 3:
                    errs.append(f"page {pid}: invalid type: {page_type_name(flags)}")
                if flags & 1:  # branch: children in order (forEachPage)
                    if depth >= 64:
                        errs.append(f"page {pg}: tree deeper than 64 levels (cycle?)")
                        continue
                    base = off + 16
                    if base + 16 * count > hard:
                        errs.append(f"page {pg}: elements beyond end of file")
                        continue
                    kids = struct.unpack_from("<" + "IIQ" * count, mm, base)[2::3]
                    stack.extend((k, depth + 1) for k in reversed(kids))
                elif flags & 2:
                    if leaf_fn is not None:
                        leaf_fn(off)
                    if count and off + 16 + 16 * count <= hard and \
                            b"\x01" in mm[off + 16:off + 16 + 16 * count:16].translate(translate_odd):
                        nested.extend(r for r, _i in sub_bucket_roots(mm, off, count, hard))
            return nested

        def check_only(root: int) -> None:
            for r in visit(root, None):
                check_only(r)

        # the root bucket's own pages, collecting the top-level entries in order
        top: list[tuple[bytes, int, int]] = []  # (name, flags, value offset or -1)

        def collect(off: int) -> None:
            v = decode_view(mm, off, hard)
            for k, f, vo in zip(v.keys, v.flags, v.voffs):
                top.append((k, f, vo))

        if meta.root:
            visit(meta.root, collect)  # its nested roots are the top-level buckets: walked below, in order
        done = 0
        total_size = npg * ps
        hash_error: str | None = None
        state = {"h": 0, "n": 0, "rev": 0}
        starts: list[tuple[bytes, int]] = []  # (bucket, keys counted before it)

        def feed(name: bytes, is_key: bool, buf, off: int, end: int) -> bool:
            """Hash one leaf page of bucket `name` into the state; False (and hash_error set) if it is bad."""
            nonlocal hash_error
            try:
                hh, n, last = _hash_leaf(buf, off, end, state["h"], is_key)
            except CorruptError as e:
                hash_error = f"cannot write bucket {_go_string(name)} : {e}"
                return False
            state["h"] = hh
            state["n"] += n
            if last is not None:
                state["rev"] = last
            return True

        for name, f, vo in top:
            if not f & BUCKET_LEAF_FLAG:
                if hash_error is None:
                    hash_error = f"cannot get hash of bucket {_go_string(name)}"
                continue
            starts.append((name, state["n"]))
            bucket_root, _seq = (0, 0)
            if vo + 16 <= hard:
                bucket_root, _seq = struct.unpack_from("<QQ", mm, vo)
            if hash_error is None:
                state["h"] = crc32c.crc32c(name, state["h"])
            is_key = name == backend.KEY
            if bucket_root == 0:  # an inline bucket: its page lives in the value
                if hash_error is None:
                    b = tx.root.bucket(name)
                    for buf, off, end in (b.leaf_pages() if b is not None else ()):
                        if not feed(name, is_key, buf, off, end):
                            break
                continue

            def leaf(off: int, name=name, is_key=is_key) -> None:
                nonlocal done
                if hash_error is not None or not feed(name, is_key, mm, off, hard):
                    return
                if progress is not None:
                    done += ps * (1 + unpack_hdr(mm, off)[3])
                    progress(min(done, total_size), total_size)

            for r in visit(bucket_root, leaf):
                check_only(r)

        if persisted:
            for i in range(npg):
                if not reach[i] and not freed[i]:
                    errs.append(f"page {i}: unreachable unfreed")
        if errs:
            raise SnapshotStatusError(
                f"snapshot file integrity check failed. {len(errs)} errors found.\n" + "\n".join(errs))
        if hash_error is not None:
            raise SnapshotStatusError(hash_error)
        if progress is not None:
            progress(total_size, total_size)
        if counts is not None:
            ends = [n for _name, n in starts[1:]] + [state["n"]]
            counts.update((name, end - n) for (name, n), end in zip(starts, ends))
        return SnapshotStatus(hash=state["h"], revision=state["rev"], total_key=state["n"], total_size=total_size)


def _go_string(b: bytes) -> str:
    return b.decode("utf-8", "replace")


_add = operator.add


def _hash_leaf(buf, off: int, end: int, h: int, is_key: bool) -> tuple[int, int, int | None]:
    """Feed one leaf page's keys and values (in order) to the CRC; returns (crc, count, last revision).

    bbolt packs key/value bytes right after the element array in element order, so a normal page
    is hashed with one CRC call over that run; odd layouts and nested buckets go entry by entry.
    Like bbolt (which reads the mmap in place) element data may point anywhere in the file, and
    into the zero-filled rest of its last OS page; further than that Go would crash: we raise.
    """
    hard = len(buf)
    copied = isinstance(buf, (bytes, bytearray))  # an inline bucket read from a copy of its value
    soft = hard if copied else -(-hard // 4096) * 4096
    where = "inline bucket" if copied else "file"
    if off + PAGE_HEADER_SIZE > hard:
        raise CorruptError("page header beyond end of file")
    _pid, _flags, n, _ov = PAGE_HEADER.unpack_from(buf, off)
    if n == 0:
        return h, 0, None
    base = off + PAGE_HEADER_SIZE
    if base + 16 * n > hard:
        raise CorruptError(f"page {_pid}: {n} elements run beyond end of file")
    e = struct.unpack_from(f"<{4 * n}I", buf, base)
    fl = e[0::4]
    pos = e[1::4]
    ks = e[2::4]
    vs = e[3::4]
    if is_key and min(ks) < backend.REV_BYTES_LEN:
        # etcdutl panics in bytesToRev here; we say what is wrong instead
        raise CorruptError(f"page {_pid}: key shorter than a revision ({min(ks)} bytes)")
    ends = list(map(_add, map(_add, pos, ks), vs))  # end of element i's data, relative to element i
    last_end = base + 16 * (n - 1) + ends[-1]
    if last_end <= hard and not any(fl) and ends[:-1] == list(map((16).__add__, pos[1:])):
        h = crc32c.crc32c(buf[base + pos[0]:last_end], h)
    else:
        for i in range(n):
            s = base + 16 * i + pos[i]
            k_end = s + ks[i]
            v_end = k_end + (0 if fl[i] & BUCKET_LEAF_FLAG else vs[i])  # bucket values are not read
            if v_end > soft:
                raise CorruptError(f"page {_pid}: element data beyond end of {where}")
            h = crc32c.crc32c(_read(buf, s, k_end, hard), h)
            if not fl[i] & BUCKET_LEAF_FLAG:
                h = crc32c.crc32c(_read(buf, k_end, v_end, hard), h)
    rev = None
    if is_key:
        s = base + 16 * (n - 1) + pos[-1]
        (main,) = struct.unpack(">q", _read(buf, s, s + 8, hard))
        rev = main
    return h, n, rev


def _read(buf, a: int, b: int, hard: int) -> bytes:
    """buf[a:b], zero-filled past the end of the file."""
    if b <= hard:
        return buf[a:b]
    data = buf[a:b]
    return data + bytes(b - a - len(data))


# --- verify -----------------------------------------------------------------------------------
# A progress factory for multi-stage work: called with a stage name when the stage starts, it returns
# that stage's (done, total) callback, or None for no reporting.
StageProgress = Callable[[str], "Progress | None"]


@dataclass
class VerifyReport:
    """Result of a full structural check of a snapshot or db file (`snapshot status --verify`)."""

    path: str
    ok: bool = True
    opened: bool = False  # False: not even a bbolt file we could open (problems holds why)
    problems: list[str] = field(default_factory=list)
    page_size: int = 0
    pages: int = 0
    size: int = 0
    file_size: int = 0
    txid: int = 0
    trailer: str = "none"  # none | valid | mismatch | ignored
    buckets: dict[str, int] = field(default_factory=dict)
    status: SnapshotStatus | None = None

    def render(self) -> str:
        """Human-readable report, one fact per line, problems last."""
        lines = [
            f"file: {self.path}",
            f"file size: {self.file_size} bytes; bbolt size: {self.size} bytes "
            f"({self.pages} pages of {self.page_size} bytes), txid {self.txid}",
            f"sha256 trailer: {self.trailer}",
        ]
        for name, n in self.buckets.items():
            lines.append(f"bucket {name}: {n} keys")
        if self.status is not None:
            s = self.status
            lines.append(f"hash {s.hash:x}, revision {s.revision}, total keys {s.total_key}, total size {s.total_size}")
        if self.ok:
            lines.append("result: OK (every page reachable once or free, metas valid, keys sorted)")
        else:
            lines.append(f"result: {len(self.problems)} problem(s)")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """The report as one JSON object (status fields named as etcdutl's JSON printer names them)."""
        import json

        st = self.status
        return json.dumps({
            "path": self.path, "ok": self.ok, "problems": self.problems, "pageSize": self.page_size,
            "pages": self.pages, "size": self.size, "fileSize": self.file_size, "txid": self.txid,
            "trailer": self.trailer, "buckets": self.buckets,
            "status": None if st is None else {"hash": st.hash, "revision": st.revision, "totalKey": st.total_key,
                                               "totalSize": st.total_size},
        }, ensure_ascii=False) + "\n"


def verify(path: str, *, lock_timeout: float | None = None, progress: StageProgress | None = None) -> VerifyReport:
    """Check everything we can about a snapshot/db file; never raises for a damaged file.

    Stages (each reported through `progress`): the sha256 trailer, bbolt's strict structural check (metas,
    every page reachable once or free, page ids, keys sorted), then status' walk, which also counts keys.
    """
    rep = VerifyReport(path=path)
    try:
        db = _open(path, lock_timeout)
    except SnapshotStatusError as e:
        rep.ok = False
        rep.problems.append(e.message)
        return rep
    rep.opened = True
    stage = progress or (lambda _name: None)
    try:
        rep.page_size = db.page_size
        rep.pages = db.meta.pgid
        rep.size = db.size
        rep.file_size = db.file_size
        rep.txid = db.meta.txid
        has_trailer = rep.file_size % 512 == 32 and rep.file_size - 32 == rep.size
        rep.trailer = _trailer_state(path, rep.size, rep.file_size, stage("sha256") if has_trailer else None)
        if rep.trailer == "mismatch":
            rep.problems.append("sha256 trailer does not match the bbolt image")
        try:
            rep.problems.extend(check(db, strict=True, progress=stage("structure")))
        except (CorruptError, struct.error, ValueError, IndexError) as e:
            rep.problems.append(str(e))
        if not rep.problems:
            counts: dict[bytes, int] = {}
            try:
                rep.status = _status(db, stage("hash"), counts)
            except SnapshotStatusError as e:
                rep.problems.append(e.message)
            except (CorruptError, struct.error, ValueError, IndexError) as e:
                rep.problems.append(f"snapshot file is corrupted: {e}")
            rep.buckets = {_go_string(k): n for k, n in counts.items()}
    finally:
        db.close()
    rep.ok = not rep.problems
    return rep


def _trailer_state(path: str, size: int, file_size: int, progress: Progress | None = None) -> str:
    """'valid'/'mismatch' when the file ends with a 32-byte sha256 of the image (size % 512 == 32)."""
    if file_size % 512 != 32 or file_size < 32:
        return "none"
    if file_size - 32 != size:
        return "ignored"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = file_size - 32
        while left:
            chunk = f.read(min(left, 8 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
            if progress is not None:
                progress(file_size - 32 - left, file_size - 32)
        digest = f.read(32)
    return "valid" if h.digest() == digest else "mismatch"
