"""A writer that writes on a thread of its own, for large outputs (a `get --prefix` of many MB into a pipe).

The write system call releases the GIL: while one batch goes into the pipe (and the reader drains it), the next is
formatted. Writes keep their order; the first write error (a BrokenPipeError when the reader stops early) is raised
by the next write() or by close(), in the caller's thread."""

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
        self._thread = threading.Thread(target=self._run, name="stdout-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        if self._error is not None:
            self._raise()
        self._queue.put(data)
        return len(data)

    def close(self) -> None:
        """Wait until everything queued is written; raise the write error, if any."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            self._raise()

    def _raise(self) -> None:
        err, self._error = self._error, None
        if err is not None:
            raise err

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None:
                try:
                    self._out.write(data)
                except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                    self._error = e
