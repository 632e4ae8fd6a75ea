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
from ..storage.bbolt import BoltError, CorruptError, check, open_db
from ..storage.bbolt.page import BUCKET_LEAF_FLAG, PAGE_HEADER, PAGE_HEADER_SIZE

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


def go_errno_text(err: OSError) -> str:
    """Go's syscall.Errno text (lower-case strerror), e.g. 'no such file or directory'."""
    if err.errno is None:
        return str(err)
    text = os.strerror(err.errno)
    return text[:1].lower() + text[1:] if text else f"errno {err.errno}"


def go_path_error(op: str, path: str, err: OSError) -> str:
    """Go's *PathError text: '<op> <path>: <errno text>'."""
    return f"{op} {path}: {go_errno_text(err)}"


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


def _status(db, progress: Progress | None) -> SnapshotStatus:
    """Check, then hash every bucket in cursor order (etcdutl v3Manager.Status)."""
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
@dataclass
class VerifyReport:
    """Result of a full structural check of a snapshot or db file."""

    path: str
    ok: bool = True
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


def verify(path: str, *, lock_timeout: float | None = None, progress: Progress | None = None) -> VerifyReport:
    """Check everything we can about a snapshot/db file; never raises for a damaged file."""
    rep = VerifyReport(path=path)
    try:
        db = _open(path, lock_timeout)
    except SnapshotStatusError as e:
        rep.ok = False
        rep.problems.append(e.message)
        return rep
    try:
        rep.page_size = db.page_size
        rep.pages = db.meta.pgid
        rep.size = db.size
        rep.file_size = db.file_size
        rep.txid = db.meta.txid
        rep.trailer = _trailer_state(path, rep.size, rep.file_size)
        if rep.trailer == "mismatch":
            rep.problems.append("sha256 trailer does not match the bbolt image")
        try:
            rep.problems.extend(check(db, strict=True))
        except (CorruptError, struct.error, ValueError) as e:
            rep.problems.append(str(e))
        if not rep.problems:
            with db.view() as tx:
                for name, b in tx.buckets():
                    rep.buckets[_go_string(name)] = len(b) if b is not None else 0
    finally:
        db.close()
    if not rep.problems:
        try:
            rep.status = status(path, lock_timeout=lock_timeout, progress=progress)
        except SnapshotStatusError as e:
            rep.problems.append(e.message)
    rep.ok = not rep.problems
    return rep


def _trailer_state(path: str, size: int, file_size: int) -> str:
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
        digest = f.read(32)
    return "valid" if h.digest() == digest else "mismatch"
