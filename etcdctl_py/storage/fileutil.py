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
