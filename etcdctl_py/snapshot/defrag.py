"""Offline `defrag --data-dir DIR` (etcdutl 3.5.1 DefragData): rewrite member/snap/db compactly.

Like etcd's backend.defrag: take the file lock (hinting after 1 s if a running etcd holds it),
copy every bucket in order into `member/snap/db.tmp.*` in the same directory (bbolt fill 90%),
fsync, rename over `db`, and log etcdutl's two zap lines ("defragmenting" / "finished
defragmenting directory") on stderr. Content, hence `snapshot status` hash/revision/keys, is
unchanged. Unlike etcdutl, a missing db is an error (etcdutl panics, or creates an empty db when
member/snap exists) and a failure never leaves the temporary file behind.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from ..humanize import go_bytes
from ..storage.bbolt import DB, BoltError, open_db, reachable_pages, write_compact
from ..storage.fileutil import fsync_dir, go_errno_text
from ..storage.membership import go_quote
from .zaplog import ZapLogger

CALLER_DEFRAGMENTING = "backend/backend.go:481"
CALLER_FINISHED = "backend/backend.go:539"
DEFRAG_FILL = 0.9


class DefragError(Exception):
    """Defrag failed; str() is the cause etcdutl wraps as `Failed to defragment etcd data[DIR] (cause)`."""


@dataclass(frozen=True)
class DefragResult:
    path: str
    size_before: int
    in_use_before: int
    size_after: int
    in_use_after: int
    took: float


class _ZapNumber(int):
    """A number the zap console logger prints bare, with Go's shortest float text (e.g. `0.118981692`)."""

    _text: str

    def __new__(cls, text: str) -> _ZapNumber:
        obj = super().__new__(cls, 0)
        obj._text = text
        return obj

    def __str__(self) -> str:
        return self._text


def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    r = repr(float(f))
    if "e" not in r and "E" not in r:
        return r[:-2] if r.endswith(".0") else r
    from decimal import Decimal

    s = format(Decimal(r), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def backend_path(data_dir: str) -> str:
    """datadir.ToBackendFileName: filepath.Join(dataDir, "member", "snap", "db") (cleaned)."""
    return os.path.normpath(os.path.join(data_dir, "member", "snap", "db"))


def _sizes(db: DB) -> tuple[int, int]:
    """(Tx.Size(), size minus free pages) as etcd's backend reports them."""
    with db.view() as tx:
        npg = tx.meta.pgid
        free_ids = tx.freelist_ids()
        if free_ids is None:  # etcd's files persist no freelist: the free pages are those the tree does not reach
            used = 2 + sum(reachable_pages(tx)[2:npg])
        else:
            used = npg - len(set(free_ids))
    return npg * db.page_size, used * db.page_size


def defrag_data_dir(
    data_dir: str,
    *,
    log: TextIO | None = sys.stderr,
    lock_timeout: float | None = None,
    on_lock_wait: Callable[[], None] | None = None,
) -> DefragResult:
    """Defragment DIR/member/snap/db in place (atomically); raises DefragError with the cause."""
    zap = ZapLogger(log)
    dbp = backend_path(data_dir)
    if on_lock_wait is None and log is not None:
        on_lock_wait = _lock_wait_hint(log, dbp)
    start = time.monotonic()
    db = _open_writable(dbp, lock_timeout, on_lock_wait)
    try:
        size1, inuse1 = _sizes(db)
        zap.info(CALLER_DEFRAGMENTING, "defragmenting", {"path": dbp, **_size_fields(size1, inuse1)})
        tmp = _compact_copy(db, dbp)
    finally:
        db.close()
    _replace(tmp, dbp)
    with open_db(dbp) as db2:
        size2, inuse2 = _sizes(db2)
    ns = round((time.monotonic() - start) * 1e9)
    took = ns // 10**9 + (ns % 10**9) / 1e9  # Go's Duration.Seconds()
    zap.info(
        CALLER_FINISHED,
        "finished defragmenting directory",
        {
            "path": dbp,
            "current-db-size-bytes-diff": size2 - size1,
            **_size_fields(size2, inuse2, in_use_diff=inuse2 - inuse1),
            "took": _ZapNumber(go_float(took)),
        },
    )
    return DefragResult(dbp, size1, inuse1, size2, inuse2, took)


def _lock_wait_hint(log: TextIO, dbp: str) -> Callable[[], None]:
    """etcdutl's hint, once the lock has been waited for a while: a running etcd holds it."""

    def hint() -> None:
        log.write(
            f"waiting for etcd to close and release its lock on {go_quote(dbp)}. "
            "To defrag a running etcd instance, omit --data-dir.\n"
        )
        log.flush()

    return hint


def _open_writable(dbp: str, lock_timeout: float | None, on_lock_wait: Callable[[], None] | None) -> DB:
    """The db, exclusively locked; a missing file or a directory is an error (etcdutl would create one)."""
    try:
        st = os.stat(dbp)
    except OSError as e:
        raise DefragError(f"open {dbp}: {go_errno_text(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DefragError(f"open {dbp}: is a directory")
    try:
        return open_db(dbp, writable=True, lock_timeout=lock_timeout, on_lock_wait=on_lock_wait)
    except BoltError as e:
        raise DefragError(str(e)) from None
    except OSError as e:
        raise DefragError(f"open {dbp}: {go_errno_text(e)}") from None


def _size_fields(size: int, in_use: int, in_use_diff: int | None = None) -> dict[str, object]:
    """The size fields of defrag's log lines, in etcd's order."""
    fields: dict[str, object] = {"current-db-size-bytes": size, "current-db-size": go_bytes(size)}
    if in_use_diff is not None:
        fields["current-db-size-in-use-bytes-diff"] = in_use_diff
    fields.update({"current-db-size-in-use-bytes": in_use, "current-db-size-in-use": go_bytes(in_use)})
    return fields


def _compact_copy(db: DB, dbp: str) -> str:
    """Copy every bucket in order into a temporary file beside dbp (bbolt fill 90%); return its path."""
    fd, tmp = tempfile.mkstemp(prefix="db.tmp.", dir=os.path.dirname(dbp) or ".")
    os.close(fd)
    try:
        with db.view() as tx:
            buckets = {}
            for name, b in tx.buckets():
                if b is None:
                    raise DefragError(f"backend: cannot defrag bucket {name.decode('utf-8', 'replace')}")
                # etcd copies with Put(k, v): a nested bucket's value reads as nil and lands as b"".
                buckets[name] = ((k, b"" if v is None else v) for k, v in b.items())
            write_compact(tmp, buckets, page_size=db.page_size, fill=DEFRAG_FILL)
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _replace(tmp: str, dbp: str) -> None:
    """Rename the compact copy over the db and make the rename durable."""
    try:
        os.rename(tmp, dbp)
        fsync_dir(os.path.dirname(dbp) or ".")
    except OSError as e:
        _remove(tmp)
        raise DefragError(f"rename {tmp} {dbp}: {go_errno_text(e)}") from None


def _remove(path: str) -> None:
    """Drop the temporary copy after a failure; the failure being reported matters more than a leftover file."""
    try:
        os.remove(path)
    except OSError:
        pass  # already gone, or its directory went away: nothing more to clean
