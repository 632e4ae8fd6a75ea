"""A pure-Python bbolt (v1.3.6 file format) engine: read, copy-on-write update, compact rewrite, check.

    db = open_db(path, writable=True)
    with db.update() as tx:
        tx.create_bucket_if_not_exists(b"meta").put(b"k", b"v")
    with db.view() as tx:
        for k, v in tx.bucket(b"key").items():
            ...

Pages themselves, as bbolt's page.go and Tx.forEachPage see them: `tx.page(pgid)`, and `PageWalk(tx)` yields every
reachable `Page` (or an `Unreadable` reference) in Check's order; `check(db)` and `Checker` are bbolt's Tx.Check.
"""

from .bucket import Bucket
from .check import Checker, check
from .compact import write_compact
from .db import DB, open_db
from .errors import (
    BoltError,
    BucketExistsError,
    BucketNameRequiredError,
    BucketNotFoundError,
    ChecksumError,
    CorruptError,
    DatabaseReadOnlyError,
    FileTooSmallError,
    IncompatibleValueError,
    InvalidDatabaseError,
    KeyRequiredError,
    KeyTooLargeError,
    LockTimeoutError,
    TxClosedError,
    TxNotWritableError,
    ValueTooLargeError,
    VersionMismatchError,
)
from .page import Meta, Page, PageHeader
from .tx import Tx
from .walk import PageWalk, Unreadable, reachable_pages

__all__ = [
    "DB",
    "Tx",
    "Bucket",
    "open_db",
    "write_compact",
    "check",
    "Checker",
    "Meta",
    "Page",
    "PageHeader",
    "PageWalk",
    "Unreadable",
    "reachable_pages",
    "BoltError",
    "BucketExistsError",
    "BucketNameRequiredError",
    "BucketNotFoundError",
    "ChecksumError",
    "CorruptError",
    "DatabaseReadOnlyError",
    "FileTooSmallError",
    "IncompatibleValueError",
    "InvalidDatabaseError",
    "KeyRequiredError",
    "KeyTooLargeError",
    "LockTimeoutError",
    "TxClosedError",
    "TxNotWritableError",
    "ValueTooLargeError",
    "VersionMismatchError",
]
