"""The tail of a large range's output formatted by a forked helper process while this one formats the head.

Why a process: once the Range response is in, formatting (`-w json`: ~1 CPU second for 107 MB, mostly base64 and
`%` templates, all holding the GIL) is this process's only work, and the machine's second core idles. Measured on
200,000 keys (docs/benchmarks.md): the server takes ~0.7 s before its first byte and then sends 107 MB in ~0.15 s,
during which our receive loop is CPU-bound (0.146 CPU s in a 0.147 s window), so formatting spans in between
receives cannot shorten the call, and a formatting *thread* stalls the receive on the GIL (its window grows from
0.15 s to 0.9-2.1 s). A forked process has its own interpreter and shares the response's pages copy-on-write.

The order: fork (before this process writes anything, so it is still single-threaded: the BackgroundWriter starts
its thread at its first write); this process formats and writes its spans; the helper formats the rest into its
memory and reports `ready`; once this process has written and flushed its part it says `go`, the helper writes its
bytes to the same file descriptor and exits; this process writes the end. A helper that fails before it is ready
(it died, its formatting raised) wrote nothing, and its spans are formatted here instead, so an error surfaces
exactly as without the helper. A write error in the helper comes back as its exit code (the errno) and is raised
here as that OSError (a BrokenPipeError for a reader that stopped early). The whole response has arrived before
any of this starts, so a failed call still prints nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from etcdctl_py.output.background import BackgroundWriter

Span = tuple[int, int, int]  # fastkv.RangeParts.spans: (start, end, records)
Render = Callable[[Sequence[Span]], Iterator[bytes]]

FORK_MIN_BYTES = 8 << 20  # below this the fork (a few ms) and the split gain less than they cost
HELPER_SHARE = 0.5  # of the span bytes formatted by the helper
PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size


class Helper:
    """A forked process formatting `spans` with `render`; finish() or abandon() it."""

    def __init__(self, pid: int, ready: int, go: int, render: Render, spans: Sequence[Span]):
        self.pid = pid
        self.ready = ready  # read end: b"r" once the helper's output is in its memory
        self.go = go  # write end: b"g" lets the helper write
        self.render = render
        self.spans = spans

    def finish(self, writer: BackgroundWriter) -> None:
        """After this process's part: the helper's part written to the same output (formatted here if the helper
        failed before it was ready); the helper's write error raised here."""
        writer.drain()
        ready = os.read(self.ready, 1) == b"r"
        if ready:
            os.write(self.go, b"g")
        status = self._reap()
        if not ready:
            for chunk in self.render(self.spans):
                writer.write(chunk)
            return
        if status < 0:
            raise OSError(f"output helper process ended by signal {-status}")
        if status:
            raise OSError(status, os.strerror(status))

    def abandon(self) -> None:
        """Stop the helper unheard (this process's part failed); a no-op after finish()."""
        if self.pid:
            import signal

            os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> int:
        os.close(self.ready)
        os.close(self.go)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return os.waitstatus_to_exitcode(status)


def fork_for(writer: object, spans: Sequence[Span], render: Render) -> tuple[Sequence[Span], Helper | None]:
    """(the spans this process formats, the helper formatting the others, or None: then all are ours)."""
    nbytes = sum(end - start for start, end, _ in spans)
    if (
        nbytes < FORK_MIN_BYTES
        or len(spans) < 2
        or not isinstance(writer, BackgroundWriter)
        or not _may_fork()
        or (fd := writer.fileno()) is None
    ):
        return spans, None
    _widen_pipe(fd)
    cut, mine = 1, 0
    for cut in range(1, len(spans)):  # noqa: B007 - the cut is used after the loop
        mine += spans[cut - 1][1] - spans[cut - 1][0]
        if mine >= nbytes * (1 - HELPER_SHARE):
            break
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no memory or process slot for it: format everything here
        for end in (ready_r, ready_w, go_r, go_w):
            os.close(end)
        return spans, None
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        _helper(render, spans[cut:], fd, ready_w, go_r)
    os.close(ready_w)
    os.close(go_r)
    return spans[:cut], Helper(pid, ready_r, go_w, render, spans[cut:])


def _widen_pipe(fd: int) -> None:
    """A pipe's buffer raised to PIPE_BYTES (from Linux's 64 KiB; a file or terminal: nothing to do): a small pipe
    costs a context switch per 64 KiB between writer and reader, and the helper's part goes through it at the end,
    with nothing left to overlap it."""
    import fcntl

    get, set_ = getattr(fcntl, "F_GETPIPE_SZ", None), getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if get is None or set_ is None:
        return
    try:
        if fcntl.fcntl(fd, get) < PIPE_BYTES:
            fcntl.fcntl(fd, set_, PIPE_BYTES)
    except OSError:  # not a pipe, or above the user's pipe-buffer quota (/proc/sys/fs/pipe-user-pages-soft)
        pass


def _may_fork() -> bool:
    """Only a single-threaded process forks (a thread's locks would stay held in the child); grpcio's C threads
    are not Python threads, so its presence alone rules the fork out."""
    return hasattr(os, "fork") and threading.active_count() == 1 and "grpc" not in sys.modules


def _helper(render: Render, spans: Sequence[Span], fd: int, ready: int, go: int) -> None:
    """The forked process: format, report ready, wait for go, write, exit (never returns, never runs atexit or
    flushes the parent's buffers)."""
    code = 255
    try:
        out = list(render(spans))
        os.write(ready, b"r")
        if os.read(go, 1) == b"g":
            for chunk in out:
                _write_all(fd, chunk)
        code = 0
    except OSError as e:
        code = e.errno if e.errno and e.errno < 255 else 255
    except BaseException:  # noqa: BLE001, S110 - not ready: the parent formats these spans itself
        pass
    finally:
        os._exit(code)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
