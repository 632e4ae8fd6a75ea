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
from dataclasses import dataclass
from typing import Callable, TextIO

from ..output.humanize import go_bytes
from ..storage.bbolt import BoltError, open_db, write_compact
from ..storage.bbolt.walk import reachable_pages
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

    def __new__(cls, text: str) -> "_ZapNumber":
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


def _sizes(db) -> tuple[int, int]:
    """(Tx.Size(), size minus free pages) as etcd's backend reports them."""
    with db.view() as tx:
        seen = reachable_pages(tx)
        npg = tx.meta.pgid
        used = 2 + sum(seen[2:npg])
        if tx.meta.freelist != 0xFFFFFFFFFFFFFFFF:
            # a persisted freelist: its ids are the free pages
            from ..storage.bbolt.page import decode_freelist

            free = len(set(decode_freelist(tx._mm, tx.meta.freelist * db.page_size, tx._limit)))
            used = npg - free
    size = npg * db.page_size
    return size, used * db.page_size


def defrag_data_dir(data_dir: str, *, log: TextIO | None = sys.stderr, lock_timeout: float | None = None,
                    on_lock_wait: Callable[[], None] | None = None) -> DefragResult:
    """Defragment DIR/member/snap/db in place (atomically); raises DefragError with the cause."""
    zap = ZapLogger(log)
    dbp = backend_path(data_dir)
    if on_lock_wait is None and log is not None:
        def on_lock_wait() -> None:
            log.write(f"waiting for etcd to close and release its lock on {go_quote(dbp)}. "
                      "To defrag a running etcd instance, omit --data-dir.\n")
            log.flush()
    start = time.monotonic()
    try:
        st = os.stat(dbp)
    except OSError as e:
        raise DefragError(f"open {dbp}: {go_errno_text(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DefragError(f"open {dbp}: is a directory")
    tmp = None
    try:
        db = open_db(dbp, writable=True, lock_timeout=lock_timeout, on_lock_wait=on_lock_wait)
    except BoltError as e:
        raise DefragError(str(e)) from None
    except OSError as e:
        raise DefragError(f"open {dbp}: {go_errno_text(e)}") from None
    try:
        size1, inuse1 = _sizes(db)
        zap.info(CALLER_DEFRAGMENTING, "defragmenting", {
            "path": dbp,
            "current-db-size-bytes": size1,
            "current-db-size": go_bytes(size1),
            "current-db-size-in-use-bytes": inuse1,
            "current-db-size-in-use": go_bytes(inuse1),
        })
        fd, tmp = tempfile.mkstemp(prefix="db.tmp.", dir=os.path.dirname(dbp) or ".")
        os.close(fd)
        with db.view() as tx:
            buckets = {}
            for name, b in tx.buckets():
                if b is None:
                    raise DefragError(f"backend: cannot defrag bucket {name.decode('utf-8', 'replace')}")
                # etcd copies with Put(k, v): a nested bucket's value reads as nil and lands as b"".
                buckets[name] = ((k, b"" if v is None else v) for k, v in b.items())
            write_compact(tmp, buckets, page_size=db.page_size, fill=DEFRAG_FILL)
    except BaseException:
        db.close()
        if tmp is not None:
            _remove(tmp)
        raise
    db.close()
    try:
        os.rename(tmp, dbp)
        fsync_dir(os.path.dirname(dbp) or ".")
    except OSError as e:
        _remove(tmp)
        raise DefragError(f"rename {tmp} {dbp}: {go_errno_text(e)}") from None
    with open_db(dbp) as db2:
        size2, inuse2 = _sizes(db2)
    ns = round((time.monotonic() - start) * 1e9)
    took = ns // 10**9 + (ns % 10**9) / 1e9  # Go's Duration.Seconds()
    zap.info(CALLER_FINISHED, "finished defragmenting directory", {
        "path": dbp,
        "current-db-size-bytes-diff": size2 - size1,
        "current-db-size-bytes": size2,
        "current-db-size": go_bytes(size2),
        "current-db-size-in-use-bytes-diff": inuse2 - inuse1,
        "current-db-size-in-use-bytes": inuse2,
        "current-db-size-in-use": go_bytes(inuse2),
        "took": _ZapNumber(go_float(took)),
    })
    return DefragResult(dbp, size1, inuse1, size2, inuse2, took)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
