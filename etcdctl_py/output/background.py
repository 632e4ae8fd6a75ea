"""A writer that writes on a thread of its own, for large outputs (a `get --prefix` of many MB into a pipe).

The write system call releases the GIL: while one batch goes into the pipe (and the reader drains it), the next is
formatted. Writes keep their order; the first write error (a BrokenPipeError when the reader stops early) is raised
by the next write(), drain() or close(), in the caller's thread. The thread starts at the first write, so a process
may still fork single-threaded before it (output/forkfmt.py)."""

from __future__ import annotations

import queue
import threading
from typing import BinaryIO

_DEPTH = 4  # batches in flight at most: memory stays a few batches' worth of output


class BackgroundWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_DEPTH)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def write(self, data: bytes) -> int:
        if self._error is not None:
            self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stdout-writer", daemon=True)
            self._thread.start()
        self._queue.put(data)
        return len(data)

    def fileno(self) -> int | None:
        """The file descriptor under the writer, or None (an in-memory stream)."""
        try:
            return self._out.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
            return None

    def drain(self) -> None:
        """Wait until everything queued is written and flushed to the file descriptor; raise the write error."""
        if self._thread is not None:
            self._queue.join()
        if self._error is None:
            try:
                self._out.flush()
            except BaseException as e:  # noqa: BLE001 - raised below, as a write error is
                self._error = e
        self._raise()

    def close(self) -> None:
        """Wait until everything queued is written; raise the write error, if any."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        err, self._error = self._error, None
        if err is not None:
            raise err

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            try:
                if data is None:
                    return
                if self._error is None:
                    try:
                        self._out.write(data)
                    except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                        self._error = e
            finally:
                self._queue.task_done()
