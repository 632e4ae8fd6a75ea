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
import json
import operator
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import crc32c

from ..storage import backend
from ..storage.bbolt import DB, BoltError, Checker, CorruptError, Page, PageWalk, Tx, check, open_db
from ..storage.bbolt.page import (
    BUCKET_HEADER_SIZE,
    BUCKET_LEAF_FLAG,
    LEAF_PAGE,
    PAGE_HEADER,
    PAGE_HEADER_SIZE,
    BucketHeader,
    ReadBuffer,
)
from ..storage.fileutil import go_path_error

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


def _open(path: str, lock_timeout: float | None) -> DB:
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


def _status(db: DB, progress: Progress | None, counts: dict[bytes, int] | None = None) -> SnapshotStatus:
    """Tx.Check and the hash in one walk over the file (`counts` gets each top-level bucket's key count)."""
    with db.view() as tx:
        return _StatusWalk(tx, progress).run(counts)


class _StatusWalk:
    """bbolt's Tx.Check and etcdutl's hash of every top-level bucket, in one pass over a read transaction.

    Check visits each bucket's pages depth-first (leaves in key order), then its sub-buckets in key order: for
    etcd's layout (top-level buckets only) that is the very order the hash needs, so both are done together and
    the hash is dropped if Check found problems. Error texts and their order are those of bbolt 1.3.6's Tx.Check.
    """

    def __init__(self, tx: Tx, progress: Progress | None) -> None:
        self.tx = tx
        self.checker = Checker(tx)
        self.walk = PageWalk(tx)
        self.progress = progress
        self.total_size = tx.size()
        self.done = 0  # bytes of leaf pages hashed (progress)
        self.hash = 0
        self.keys = 0
        self.revision = 0
        self.error: str | None = None  # why the hash failed; reported only when Check finds nothing
        self.starts: list[tuple[bytes, int]] = []  # (bucket, keys counted before it)

    def run(self, counts: dict[bytes, int] | None) -> SnapshotStatus:
        for name, flags, value_off in self._top_level():
            self._bucket(name, flags, value_off)
        problems = self.checker.finish()
        if problems:
            raise SnapshotStatusError(
                f"snapshot file integrity check failed. {len(problems)} errors found.\n" + "\n".join(problems)
            )
        if self.error is not None:
            raise SnapshotStatusError(self.error)
        if self.progress is not None:
            self.progress(self.total_size, self.total_size)
        if counts is not None:
            ends = [n for _name, n in self.starts[1:]] + [self.keys]
            counts.update((name, end - n) for (name, n), end in zip(self.starts, ends, strict=True))
        return SnapshotStatus(hash=self.hash, revision=self.revision, total_key=self.keys, total_size=self.total_size)

    def _top_level(self) -> list[tuple[bytes, int, int]]:
        """Check the root bucket's own pages; return its entries (name, flags, value offset) in key order."""
        root = self.tx.meta.root
        entries: list[tuple[bytes, int, int]] = []
        if not root:
            return entries
        for item in self.walk.tree(root):  # its nested buckets are the top-level ones: walked by _bucket, in order
            self.checker.visit(item)
            if isinstance(item, Page) and item.flags & LEAF_PAGE:
                view = self.tx.page_view(item.pgid)
                entries.extend(zip(view.keys, view.flags or [], view.voffs or [], strict=True))
        return entries

    def _bucket(self, name: bytes, flags: int, value_off: int) -> None:
        """One top-level entry: hash its name and leaves while Check walks its pages; a plain key fails the hash."""
        if not flags & BUCKET_LEAF_FLAG:
            self._fail(f"cannot get hash of bucket {_go_string(name)}")
            return
        if not self._found_by_seek(name):
            self._fail(f"cannot get hash of bucket {_go_string(name)}")
        self.starts.append((name, self.keys))
        data = self.tx.data
        root = BucketHeader.unpack_from(data, value_off).root if value_off + BUCKET_HEADER_SIZE <= len(data) else 0
        if self.error is None:
            self.hash = crc32c.crc32c(name, self.hash)
        is_key = name == backend.KEY
        if root == 0:
            self._hash_inline(name, is_key)
            return
        visit = self.checker.visit
        nested: list[int] = []
        for item in self.walk.tree(root):
            visit(item)
            if type(item) is Page and item.flags & LEAF_PAGE:
                if self.error is None:
                    self._hash_page(name, is_key, item)
                nested.extend(item.nested_buckets())
        for item in self.walk.buckets(nested):
            visit(item)

    def _hash_page(self, name: bytes, is_key: bool, page: Page) -> None:
        if self._feed(name, is_key, page.data, page.offset) and self.progress is not None:
            self.done += self.tx.db.page_size * (1 + page.overflow)
            self.progress(min(self.done, self.total_size), self.total_size)

    def _hash_inline(self, name: bytes, is_key: bool) -> None:
        """An inline bucket: its one page lives in the bucket's value (Check has nothing to visit there)."""
        bucket = self.tx.root.bucket(name) if self.error is None else None
        for buf, off, _end in bucket.leaf_pages() if bucket is not None else ():
            if not self._feed(name, is_key, buf, off):
                break

    def _feed(self, name: bytes, is_key: bool, buf: ReadBuffer, off: int) -> bool:
        """Hash one leaf page of bucket `name`; False (and the hash failed) if it is unreadable."""
        try:
            self.hash, n, last = _hash_leaf(buf, off, self.hash, is_key)
        except CorruptError as e:
            self._fail(f"cannot write bucket {_go_string(name)} : {e}")
            return False
        self.keys += n
        if last is not None:
            self.revision = last
        return True

    def _found_by_seek(self, name: bytes) -> bool:
        """Whether tx.Bucket(name) finds this entry: etcdutl looks each name up by binary search, which misses a
        name whose damage put the root's keys out of order (a flipped bit in `lease`)."""
        try:
            return self.tx.bucket(name) is not None
        except (CorruptError, struct.error, ValueError, IndexError):
            return False  # Check reports the damaged page

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message


def _go_string(b: bytes) -> str:
    return b.decode("utf-8", "replace")


_add = operator.add


def _hash_leaf(buf: ReadBuffer, off: int, h: int, is_key: bool) -> tuple[int, int, int | None]:
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
        h = crc32c.crc32c(buf[base + pos[0] : last_end], h)
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
        st = self.status
        return (
            json.dumps(
                {
                    "path": self.path,
                    "ok": self.ok,
                    "problems": self.problems,
                    "pageSize": self.page_size,
                    "pages": self.pages,
                    "size": self.size,
                    "fileSize": self.file_size,
                    "txid": self.txid,
                    "trailer": self.trailer,
                    "buckets": self.buckets,
                    "status": None
                    if st is None
                    else {
                        "hash": st.hash,
                        "revision": st.revision,
                        "totalKey": st.total_key,
                        "totalSize": st.total_size,
                    },
                },
                ensure_ascii=False,
            )
            + "\n"
        )


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
