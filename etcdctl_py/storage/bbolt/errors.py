"""bbolt error types; the messages are bbolt 1.3.6's, because etcd/etcdutl print them verbatim."""

from __future__ import annotations


class BoltError(Exception):
    """Base class of every error the bbolt engine raises (str() is the user-facing message)."""

    message = "bolt error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class InvalidDatabaseError(BoltError):
    message = "invalid database"


class VersionMismatchError(BoltError):
    message = "version mismatch"


class ChecksumError(BoltError):
    message = "checksum error"


class FileTooSmallError(BoltError):
    message = "file size too small"


class LockTimeoutError(BoltError):
    message = "timeout"


class DatabaseNotOpenError(BoltError):
    message = "database not open"


class DatabaseReadOnlyError(BoltError):
    message = "database is in read-only mode"


class TxClosedError(BoltError):
    message = "tx closed"


class TxNotWritableError(BoltError):
    message = "tx not writable"


class BucketNotFoundError(BoltError):
    message = "bucket not found"


class BucketExistsError(BoltError):
    message = "bucket already exists"


class BucketNameRequiredError(BoltError):
    message = "bucket name required"


class KeyRequiredError(BoltError):
    message = "key required"


class KeyTooLargeError(BoltError):
    message = "key too large"


class ValueTooLargeError(BoltError):
    message = "value too large"


class IncompatibleValueError(BoltError):
    message = "incompatible value"


class CorruptError(BoltError):
    """The file structure is damaged where Go's bbolt would crash (page past EOF, bad element offsets)."""

    message = "database is corrupted"
