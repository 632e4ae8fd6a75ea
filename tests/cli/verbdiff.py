"""Helpers for the differential tests of the printer-heavy verbs (txn, watch, lease, member, endpoint,
alarm, move-leader, elect, lock, auth, user, role).

`Diff` runs real etcdctl 3.5.1 against twin A and etcdctl-py against twin B and compares stdout,
masked stderr and exit codes. What can never match between the twins is substituted, never
ignored: each side's client port (member URLs name the twin's own port), lease IDs (random per
server: `subst` maps B's lease ID, in hex and decimal, to A's), and durations (`took`).
Long-running commands (watch, keep-alive, lock, elect) are started on both sides, fed, then
interrupted with SIGINT (`Diff.interrupt`).
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Callable

from tests import difftest, etcdproc

_DUR = re.compile(rb"([0-9]+(\.[0-9]+)?(ns|\xc2\xb5s|ms|s|m|h))+")


def durations(data: bytes) -> bytes:
    """Mask Go durations (`took` values differ run to run)."""
    return _DUR.sub(b"DUR", data)


class Diff:
    def __init__(self, pair: difftest.Pair):
        self.pair = pair
        self.subst: list[tuple[bytes, bytes]] = []  # (ours, real) replacements applied to our output

    def lease_pair(self, real_id: int, our_id: int) -> None:
        """Our lease ID `our_id` stands for the real side's `real_id` in every later comparison."""
        for fmt in ("%016x", "%x", "%d"):
            self.subst.append(((fmt % our_id).encode(), (fmt % real_id).encode()))

    def _norm(self, data: bytes, ours: bool, extra: Callable[[bytes], bytes] | None) -> bytes:
        ports = (self.pair.a.client_port, self.pair.b.client_port)
        if ours:
            for a, b in self.subst:
                data = data.replace(a, b)
        data = difftest.mask_stderr(data, ports)
        return extra(data) if extra else data

    def run(self, args: list[str], ours_args: list[str] | None = None, **kw) -> tuple[difftest.Result, difftest.Result]:
        p = self.pair
        real = difftest.run([p.etcdctl, "--endpoints", p.a.endpoint, *args], **kw)
        mine = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", p.b.endpoint, *(ours_args or args)], **kw)
        return real, mine

    def compare(
        self,
        args: list[str],
        real: difftest.Result,
        mine: difftest.Result,
        mask: Callable[[bytes], bytes] | None = None,
    ) -> difftest.Result:
        ro, mo = self._norm(real.stdout, False, mask), self._norm(mine.stdout, True, mask)
        assert mo == ro, f"stdout differs for {args}:\nreal: {real.stdout!r}\nours: {mine.stdout!r}"
        assert mine.rc == real.rc, f"exit code differs for {args}: real {real.rc}, ours {mine.rc}\n{real}\n{mine}"
        re_, me = self._norm(real.stderr, False, mask), self._norm(mine.stderr, True, mask)
        assert me == re_, f"stderr differs for {args}:\nreal: {real.stderr!r}\nours: {mine.stderr!r}"
        return mine

    def check(
        self, args: list[str], ours_args: list[str] | None = None, *, mask: Callable[[bytes], bytes] | None = None, **kw
    ) -> difftest.Result:
        real, mine = self.run(args, ours_args, **kw)
        return self.compare(args, real, mine, mask)

    # ------------------------------------------------------------ long-running commands
    def start(
        self, args: list[str], ours_args: list[str] | None = None, *, env: dict[str, str] | None = None
    ) -> tuple[Proc, Proc]:
        p = self.pair
        real = Proc([p.etcdctl, "--endpoints", p.a.endpoint, *args], env)
        mine = Proc([*difftest.ETCDCTL_PY, "--endpoints", p.b.endpoint, *(ours_args or args)], env)
        return real, mine


class Proc:
    """A running command whose stdout/stderr are collected by threads (so tests can wait for output)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        import threading

        full_env = difftest.child_env(argv, env)
        self.p = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE, env=full_env
        )
        self.out, self.err = bytearray(), bytearray()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(stream, buf: bytearray) -> None:  # noqa: ANN001
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            buf.extend(chunk)

    def send(self, data: bytes) -> None:
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def finish(self, sig: int | None = signal.SIGINT, timeout: float = 10) -> difftest.Result:
        if sig is not None and self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait(timeout)
        for t in self._threads:
            t.join(timeout)
        return difftest.Result(bytes(self.out), bytes(self.err), self.p.returncode)


def both(
    procs: tuple[Proc, Proc], pred: Callable[[Proc], bool], timeout: float = 10.0, what: str = "both commands"
) -> None:
    """Wait until `pred` holds for both processes."""
    etcdproc.wait_until(lambda: all(pred(p) for p in procs), timeout, what)
