"""File-system helpers shared by the offline tools (etcd's pkg/fileutil and Go's error texts).

Errors are printed the way Go prints them (`open <path>: no such file or directory`), so the texts of
OSError are rebuilt from the errno rather than taken from Python's `[Errno 2] ...` form.
"""

from __future__ import annotations

import os


def go_errno_text(err: OSError) -> str:
    """Go's syscall.Errno text: the C strerror starting lower-case, e.g. 'no such file or directory'."""
    if not err.errno:
        return str(err)
    text = os.strerror(err.errno)
    return text[:1].lower() + text[1:] if text else f"errno {err.errno}"


def go_path_error(op: str, path: str, err: OSError) -> str:
    """Go's *os.PathError text: '<op> <path>: <errno text>'."""
    return f"{op} {path}: {go_errno_text(err)}"


def fsync_dir(path: str) -> None:
    """fsync a directory so that renames and new entries in it survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write every byte of `data` at `offset` or raise: a short write (a disk filling up) is never taken as done.

    bbolt and the WAL write a meta page or a record only after the bytes it points at; a silently short write
    before it would leave a valid-looking pointer to garbage."""
    view = memoryview(data).cast("B")
    done = 0
    while done < len(view):
        n = os.pwrite(fd, view[done:], offset + done)
        if n <= 0:
            import errno

            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += n


def preallocate(fd: int, size: int) -> None:
    """etcd's fileutil.Preallocate(extend=true): reserve real blocks so later writes and mmap reads cannot fail for
    lack of space (a sparse hole read through a shared mapping on a full tmpfs is a SIGBUS); where the file system
    cannot fallocate, extend with ftruncate as etcd does. ENOSPC is raised, never swallowed."""
    import errno

    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
        else:
            raise
