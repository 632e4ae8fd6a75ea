"""A pure-Python bbolt (v1.3.6 file format) engine: read, copy-on-write update, compact rewrite, check.

    db = open_db(path, writable=True)
    with db.update() as tx:
        tx.create_bucket_if_not_exists(b"meta").put(b"k", b"v")
    with db.view() as tx:
        for k, v in tx.bucket(b"key").items():
            ...
"""

from .bucket import Bucket
from .check import check
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
from .page import Meta, PageHeader
from .tx import Tx

__all__ = [
    "DB", "Tx", "Bucket", "open_db", "write_compact", "check", "Meta", "PageHeader",
    "BoltError", "BucketExistsError", "BucketNameRequiredError", "BucketNotFoundError", "ChecksumError",
    "CorruptError", "DatabaseReadOnlyError", "FileTooSmallError", "IncompatibleValueError",
    "InvalidDatabaseError", "KeyRequiredError", "KeyTooLargeError", "LockTimeoutError", "TxClosedError",
    "TxNotWritableError", "ValueTooLargeError", "VersionMismatchError",
]
