"""A large `get --prefix -w json` (12 MB, printed in batches, partly by a forked helper process: see
etcdctl_py/output/forkfmt.py) through real etcdctl 3.5.1 and etcdctl-py against one scripted HTTP/2 server
(tests/client/h2server.py) that answers the Range in full, or fails it after part or all of the message: a connection
cut mid-message, a gRPC error status in the trailers, a RST_STREAM. Both tools must print the same bytes, and for a
failed call nothing at all on stdout, with the same error line and exit code."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import textwrap

import pytest

from etcdctl_py.client.transport import hpack
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from tests import difftest, etcdproc
from tests.client.h2server import (
    DATA,
    OK_HEADERS,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    H2Server,
    ServerConn,
    frame,
    grpc_message,
)

KEYS = 20_000  # of 600-byte values: a 12 MB response, above forkfmt.FORK_MIN_BYTES
FRAME = 16384  # the largest DATA frame the clients accept without asking


def big_range() -> bytes:
    rng = random.Random(17)
    r = rpc_pb2.RangeResponse(count=KEYS)
    r.header.cluster_id, r.header.member_id, r.header.revision, r.header.raft_term = 0xC1, 0xAB, KEYS + 1, 2
    for i in range(KEYS):
        r.kvs.add(
            key=b"/registry/pods/ns%d/pod-%07d" % (i % 100, i),
            value=rng.randbytes(600),
            create_revision=i + 2,
            mod_revision=i + 2,
            version=1,
        )
    return r.SerializeToString()


@pytest.fixture(scope="module")
def message() -> bytes:
    return grpc_message(big_range())


class Flow:
    """HTTP/2 flow control as a sender keeps it: the Go client opens its windows only as it reads (grpc-go starts
    at 64 KiB), so a 12 MB answer goes out as the client's WINDOW_UPDATEs allow."""

    def __init__(self, conn: ServerConn):
        self.conn = conn
        self.seen = 0  # frames of conn.frames_seen taken into account
        self.conn_window = self.initial = self.window = 65535
        self.sid = 0

    def _take(self) -> None:
        for kind, flags, sid, payload in self.conn.frames_seen[self.seen :]:
            if kind == SETTINGS and not flags & 1:
                for i in range(0, len(payload) - 5, 6):
                    if int.from_bytes(payload[i : i + 2], "big") == 4:  # SETTINGS_INITIAL_WINDOW_SIZE
                        value = int.from_bytes(payload[i + 2 : i + 6], "big")
                        self.window += value - self.initial
                        self.initial = value
            elif kind == WINDOW_UPDATE:
                inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if sid == 0:
                    self.conn_window += inc
                elif sid == self.sid:
                    self.window += inc
        self.seen = len(self.conn.frames_seen)

    def send(self, sid: int, payload: bytes) -> None:
        """`payload` in DATA frames of the stream `sid`, each sent once both windows have room for it."""
        if sid != self.sid:
            self._take()
            self.sid, self.window = sid, self.initial
        pos = 0
        while pos < len(payload):
            self._take()
            room = min(self.conn_window, self.window, FRAME, len(payload) - pos)
            if room <= 0:
                self.conn.read_frame()
                continue
            self.conn.send(frame(DATA, 0, sid, payload[pos : pos + room]))
            self.conn_window -= room
            self.window -= room
            pos += room


def serve(message: bytes, how: str):
    """A server script: every connection answers its Range with `message`, then ends the call as `how` says."""

    def script(conn: ServerConn, n: int) -> None:
        conn.handshake()
        flow = Flow(conn)
        while True:
            req = conn.read_request()
            conn.send_headers(req.sid, hpack.encode(OK_HEADERS))
            if how == "cut":  # half the message, then the connection goes away (inside a DATA frame)
                flow.send(req.sid, message[: len(message) // 2])
                conn.send(frame(DATA, 0, req.sid, b"x" * 99)[:50])
                conn.close()
                return
            if how == "rst":  # all but the last byte, then the stream is reset
                flow.send(req.sid, message[:-1])
                conn.send(frame(RST_STREAM, 0, req.sid, (2).to_bytes(4, "big")))
                continue
            if how == "status-mid-message":  # all but the last byte, then trailers with an error status
                flow.send(req.sid, message[:-1])
                status = [(b"grpc-status", b"13"), (b"grpc-message", b"boom")]
                conn.send_headers(req.sid, hpack.encode(status), end_stream=True)
                continue
            flow.send(req.sid, message)
            status = [(b"grpc-status", b"0")] if how == "ok" else [(b"grpc-status", b"13"), (b"grpc-message", b"boom")]
            conn.send_headers(req.sid, hpack.encode(status), end_stream=True)

    return script


def both(server: H2Server) -> tuple[difftest.Result, difftest.Result]:
    args = ["--endpoints", server.endpoint, "--command-timeout", "3s", "get", "/registry", "--prefix", "-w", "json"]
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *args], timeout=60)
    ours = difftest.run([*difftest.ETCDCTL_PY, *args], timeout=60)
    return real, ours


def test_large_json_range_prints_etcdctls_bytes(message):
    with H2Server(serve(message, "ok")) as server:
        real, ours = both(server)
    assert server.errors == []
    assert real.rc == 0 and len(real.stdout) > 12_000_000
    assert (ours.stdout, ours.rc, ours.stderr) == (real.stdout, real.rc, real.stderr)


@pytest.mark.parametrize("how", ["status", "rst", "status-mid-message"])
def test_large_json_range_that_fails_late_prints_nothing(message, how):
    """The call fails after (nearly) all of 12 MB arrived: no byte of output, etcdctl's error line and exit code
    (grpc-go's `unexpected EOF` when the stream ends inside the message, whatever status or reset ends it)."""
    with H2Server(serve(message, how)) as server:
        real, ours = both(server)
    assert server.errors == []
    assert real.stdout == b"" and real.rc != 0 and b"Error: " in real.stderr
    assert ours.stdout == b""
    assert ours.rc == real.rc
    ports = (server.port,)
    assert difftest.mask_stderr(ours.stderr, ports) == difftest.mask_stderr(real.stderr, ports)


def test_large_json_range_cut_mid_message_prints_nothing(message):
    """The connection goes away with half of 12 MB received, every time: nothing on stdout from either tool. A Range
    is "repeatable" to clientv3's retry interceptor, so both make it again on every Unavailable (a warn line per
    attempt, numbered from 0) until the command timeout, then `Error: context deadline exceeded`. How the read
    fails (EOF or a reset) depends on timing, and so do the number of attempts and whether the last one logged is
    the deadline's."""
    with H2Server(serve(message, "cut")) as server:
        real, ours = both(server)
    assert server.errors == []
    for r in (real, ours):
        assert r.stdout == b"" and r.rc == 1
        *warns, last = r.stderr.decode().splitlines()
        assert last == "Error: context deadline exceeded"
        attempts = [int(re.search(r'"attempt":(\d+),', w).group(1)) for w in warns]
        assert len(attempts) >= 3 and attempts == list(range(len(attempts))), r.stderr[-2000:]
        # the deadline may fall inside an attempt (logged as DeadlineExceeded) or in the wait between two (not logged)
        if '"error":"rpc error: code = DeadlineExceeded desc = context deadline exceeded"}' in warns[-1]:
            warns.pop()
        assert all("rpc error: code = Unavailable desc = error reading from server: " in w for w in warns), warns[-3:]


# etcdctl-py's console entry with forkfmt.HELPER_SHARE set by argv[1] and the pid of each process it forks written
# to the file descriptor argv[2]
COUNTED_CLI = textwrap.dedent(
    """
    import os, sys
    from etcdctl_py.output import forkfmt
    forkfmt.HELPER_SHARE = float(sys.argv.pop(1))
    marks = int(sys.argv.pop(1))
    fork = os.fork
    def counted_fork():
        pid = fork()
        if pid:
            os.write(marks, b"%d\\n" % pid)
        return pid
    os.fork = counted_fork
    from etcdctl_py.cli.main import run
    run()
    """
)


class Counted:
    """What a COUNTED_CLI run gave: its output, exit status and stderr, the pids it forked, the size of its stdout
    pipe after the run."""

    def __init__(self, out: bytes, rc: int, err: bytes, pids: list[int], pipe_size: int):
        self.out, self.rc, self.err, self.pids, self.pipe_size = out, rc, err, pids, pipe_size


def run_counted(args: list[str], share: float, stop_after: int = 0) -> Counted:
    """etcdctl-py through COUNTED_CLI; with `stop_after`, the reader takes that many bytes and goes away."""
    import fcntl

    marks_r, marks_w = os.pipe()
    try:
        argv = [sys.executable, "-c", COUNTED_CLI, str(share), str(marks_w), *args]
        with subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            pass_fds=(marks_w,),
            cwd=str(etcdproc.ROOT),
            env={**difftest.child_env(argv), "PYTHONPATH": str(etcdproc.ROOT)},
        ) as p:
            os.close(marks_w)
            marks_w = -1
            assert p.stdout is not None and p.stderr is not None
            out = p.stdout.read(stop_after) if stop_after else p.stdout.read()
            pipe_size = fcntl.fcntl(p.stdout.fileno(), fcntl.F_GETPIPE_SZ)
            p.stdout.close()
            err = p.stderr.read()
            rc = p.wait(timeout=60)
        marks = b""
        while chunk := os.read(marks_r, 64):
            marks += chunk
        return Counted(out, rc, err, [int(pid) for pid in marks.split()], pipe_size)
    finally:
        os.close(marks_r)
        if marks_w >= 0:
            os.close(marks_w)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_cli_prints_a_large_json_range_with_a_helper_process(message):
    """The CLI process forks one helper for this 12 MB range, widens its stdout pipe to 1 MiB, and prints
    etcdctl's bytes."""
    with H2Server(serve(message, "ok")) as server:
        args = ["--endpoints", server.endpoint, "get", "/registry", "--prefix", "-w", "json"]
        real = difftest.run([etcdproc.distro_bin("etcdctl"), *args], timeout=60)
        ours = run_counted(args, 0.5)
    assert server.errors == []
    assert len(ours.pids) == 1 and gone(ours.pids[0])
    assert ours.pipe_size == 1 << 20
    assert (ours.out, ours.rc, ours.err) == (real.stdout, real.rc, real.stderr)


@pytest.mark.parametrize(
    "share,stop_after",
    [(0.99, 3_000_000), (0.5, 100)],
    ids=["in-the-helpers-part", "in-the-cli-process-part"],
)
def test_a_reader_that_stops_early(message, share, stop_after):
    """`| head -c N` where the helper writes from about byte 1.4 M on: a write error in either process ends the
    CLI like etcdctl (dead of SIGPIPE, nothing on stderr), and no helper outlives it."""
    with H2Server(serve(message, "ok")) as server:
        args = ["--endpoints", server.endpoint, "get", "/registry", "--prefix", "-w", "json"]
        with subprocess.Popen(
            [etcdproc.distro_bin("etcdctl"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=difftest.child_env(["etcdctl"]),
        ) as p:
            assert p.stdout is not None and p.stderr is not None
            real_out = p.stdout.read(stop_after)
            p.stdout.close()
            real = (p.wait(timeout=60), p.stderr.read())
        ours = run_counted(args, share, stop_after=stop_after)
    assert server.errors == []
    assert len(ours.pids) == 1 and gone(ours.pids[0])
    assert len(ours.out) == len(real_out) == stop_after and ours.out == real_out
    assert (ours.rc, ours.err) == real


# The printer as the CLI runs it (a single-threaded process, stdout a pipe), os.fork counted, `FORK_MIN_BYTES` and
# `HELPER_SHARE` as the test says; the helper process may be made to fail before it is ready.
PRINT = textwrap.dedent(
    """
    import os, sys
    from etcdctl_py.output import forkfmt
    from etcdctl_py.output.json import JSONPrinter
    min_bytes, share, helper_fails = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
    forkfmt.FORK_MIN_BYTES, forkfmt.HELPER_SHARE = min_bytes, share
    forks, fork = [], os.fork
    def counted_fork():
        pid = fork()
        if pid == 0 and helper_fails:
            os._exit(3)
        forks.append(pid)
        return pid
    os.fork = counted_fork
    JSONPrinter().get_raw(sys.stdin.buffer.read())
    sys.stdout.flush()
    sys.stderr.write(f"forks {len(forks)}")
    """
)


def print_json(raw: bytes, min_bytes: int, share: float = 0.5, helper_fails: bool = False) -> tuple[bytes, bytes]:
    p = subprocess.run(
        [sys.executable, "-c", PRINT, str(min_bytes), str(share), "1" if helper_fails else "0"],
        input=raw,
        capture_output=True,
        timeout=60,
        cwd=str(etcdproc.ROOT),
    )
    assert p.returncode == 0, p.stderr
    return p.stdout, p.stderr


@pytest.mark.parametrize("share", [0.5, 0.01, 0.99])
def test_helper_process_output_is_the_single_process_output(share):
    raw = big_range()
    alone, note = print_json(raw, 1 << 40)
    assert note == b"forks 0"
    forked, note = print_json(raw, 1 << 20, share)
    assert note == b"forks 1"
    assert forked == alone
    assert alone.startswith(b'{"header":{"cluster_id":193,') and alone.endswith(b',"count":20000}\n')


def test_helper_that_dies_before_it_is_ready_is_replaced():
    raw = big_range()
    alone, _ = print_json(raw, 1 << 40)
    forked, note = print_json(raw, 1 << 20, helper_fails=True)
    assert note == b"forks 1"
    assert forked == alone
