"""Progress bars for the long offline operations (status, status --verify, restore) on big files.

Only when stderr is a terminal and the file is big: then rich is imported (lazily, so piped and scripted
runs never load it) and draws a transient bar on stderr that disappears when the work is done, leaving the
terminal with exactly what etcdutl prints. Otherwise `open_bar` returns None and nothing extra happens.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

# Below this size the work takes well under a second: a bar would only flicker.
MIN_BYTES = 32 << 20
# Redraw at most this often (rich redraws on its own timer; this just keeps our update calls cheap).
_MIN_INTERVAL = 0.05


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def file_size(path: str) -> int:
    """Size of path in bytes, 0 when it cannot be read (the real command reports that error itself)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class StageBar:
    """A rich progress display on a terminal: one bar per stage (bytes or pages), transient.

    Log lines must never go through rich (it would re-wrap them): `writer(stream)` gives a stream that
    clears the display before each write; the next stage starts a fresh display below the lines.
    """

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live = False

    def stage(self, name: str) -> Callable[[int, int], None]:
        """Start a bar for one stage; the returned callback takes (done, total)."""
        if not self._live:
            for t in list(self._p.task_ids):  # bars of an earlier display, cleared by pause()
                self._p.remove_task(t)
            self._p.start()
            self._live = True
        task = self._p.add_task(name, total=None)
        last = [0.0]

        def update(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < _MIN_INTERVAL:
                return
            last[0] = now
            self._p.update(task, completed=done, total=total)

        return update

    def pause(self) -> None:
        """Clear the display (it comes back with the next stage)."""
        if self._live:
            self._p.stop()
            self._live = False

    close = pause

    def writer(self, stream: TextIO) -> _PausingWriter:
        return _PausingWriter(self, stream)

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PausingWriter:
    """A text stream that clears the progress display before writing to the real stream."""

    def __init__(self, bar: StageBar, stream: TextIO) -> None:
        self._bar, self._stream = bar, stream

    def write(self, text: str) -> int:
        self._bar.pause()
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def open_bar(size: int, stream: TextIO | None = None) -> StageBar | None:
    """A StageBar on stream (default stderr) when it is a terminal and size is big enough, else None."""
    stream = sys.stderr if stream is None else stream
    if size < MIN_BYTES or not _is_tty(stream):
        return None
    try:
        return StageBar(stream)
    except Exception:  # noqa: BLE001 - a bar that cannot be drawn must never stop the real work
        return None
