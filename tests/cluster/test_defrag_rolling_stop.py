"""`defrag --rolling` stops at the first failure in the middle of a run, against real etcd 3.5.1 members.

Each test starts its own three-member cluster (real etcd processes on 127.0.0.1; the shared docker cluster is not
touched because a member is killed or frozen here) and fragments every member's backend, so a member's file size
(Status.dbSize) tells afterwards whether it was defragmented.

Determinism: the CLI's stdout is a one-page pipe that the test pre-fills so that exactly the first line
("Cluster healthy: ...") fits. The CLI then defragments the first follower, re-checks health and blocks writing
"Finished defragmenting ..." until the test reads. While it is blocked (seen in /proc/<pid>/wchan), the first member
has been defragmented and checked and nothing else has been touched; the test makes the failure real (SIGKILL or
SIGSTOP of a member by pid) and only then lets the CLI go on.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from tests import difftest, etcdproc

TOKEN = "etcdctl-py-rolling-stop"
NAMES = ("m1", "m2", "m3")  # equal lengths: the first stdout line's length is known before the leader is
PAGE = 4096


@dataclass
class Member:
    server: etcdproc.EtcdServer
    id: int = 0

    @property
    def url(self) -> str:
        return self.server.client_url


def _status(m: Member, timeout: float = 3):  # noqa: ANN202 - rpc_pb2.StatusResponse
    from etcdctl_py.client import Client

    with Client([m.server.endpoint], command_timeout=timeout) as c:
        return c.maintenance.status()


def _db_size(m: Member) -> int:
    return _status(m).dbSize


def _start_cluster(base: str, members: list[Member]) -> list[Member]:
    """Start the three members into `members` (so the caller can stop whatever started if this fails)."""
    binary = etcdproc.distro_bin("etcd")
    ports = [(etcdproc.free_port(), etcdproc.free_port()) for _ in NAMES]
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, (_, p) in zip(NAMES, ports, strict=True))
    for n, (cp, pp) in zip(NAMES, ports, strict=True):
        srv = etcdproc.EtcdServer(
            name=n,
            data_dir=os.path.join(base, n),
            client_port=cp,
            peer_port=pp,
            log_path=os.path.join(base, f"{n}.log"),
        )
        srv.argv = etcdproc.etcd_argv(
            binary, name=n, data_dir=srv.data_dir, client_port=cp, peer_port=pp, initial_cluster=initial, token=TOKEN
        )
        srv.start(wait=False)
        members.append(Member(srv))
    for m in members:
        etcdproc.wait_ready(m.url, m.server.proc, timeout=30)
    for m in members:
        m.id = _status(m).header.member_id
    return members


def _fragment(members: list[Member]) -> None:
    """Write ~3 MB, delete it and compact: every member's file keeps its size until it is defragmented."""
    from etcdctl_py.client import Client

    with Client([m.server.endpoint for m in members], command_timeout=10) as c:
        for i in range(48):
            c.kv.put(f"/frag/{i:03d}".encode(), bytes([i]) * 64_000)
        rev = c.kv.delete(b"/frag/", b"/frag0").header.revision
        c.kv.compact(rev, physical=True)


def _leader(members: list[Member]) -> Member:
    """The member every member names as leader (waits out an election in progress)."""
    deadline = time.monotonic() + 15
    while True:
        leads = {_status(m).leader for m in members}
        if len(leads) == 1 and (lead := leads.pop()) != 0:
            return next(m for m in members if m.id == lead)
        if time.monotonic() > deadline:
            raise TimeoutError("no agreed leader")
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path):
    """A fresh fragmented three-member cluster per test (one member gets killed or frozen)."""
    base = str(tmp_path)
    members: list[Member] = []
    try:
        _start_cluster(base, members)
        _fragment(members)
        yield members
    finally:
        for m in members:
            if m.server.proc is not None:
                os.kill(m.server.proc.pid, signal.SIGCONT)  # a frozen member must be able to exit on SIGTERM
            m.server.stop()
        shutil.rmtree(base, ignore_errors=True)


class HeldCli:
    """etcdctl-py `defrag --rolling` whose stdout pipe has room for exactly its first line."""

    def __init__(self, members: list[Member], leader: Member, *args: str):
        first = f"Cluster healthy: {len(members)} members, leader {leader.server.name}\n".encode()
        self.rfd, wfd = os.pipe()
        assert fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, PAGE) == PAGE
        os.write(wfd, b"#" * (PAGE - len(first) - 1) + b"\n")  # the filler: the pipe now holds `first` at most
        self.stderr = tempfile.TemporaryFile()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        self.proc = subprocess.Popen(
            [*difftest.ETCDCTL_PY, "--endpoints", members[0].server.endpoint, *args, "defrag", "--rolling"],
            stdin=subprocess.DEVNULL,
            stdout=wfd,
            stderr=self.stderr,
            env=env,
        )
        os.close(wfd)

    def wait_blocked_on_stdout(self, timeout: float = 60) -> None:
        """Until the CLI's main thread sleeps in a pipe write (its second stdout line does not fit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"CLI exited early: {self.finish()}"
            with open(f"/proc/{self.proc.pid}/wchan") as f:
                if f.read().endswith("pipe_write"):
                    return
            time.sleep(0.01)
        raise TimeoutError("the CLI never blocked on its stdout")

    def finish(self, timeout: float = 60) -> difftest.Result:
        """Drain stdout to EOF (letting the CLI go on), wait for it and drop the filler line."""
        chunks = []
        deadline = time.monotonic() + timeout
        while chunk := os.read(self.rfd, 65536):
            chunks.append(chunk)
            assert time.monotonic() < deadline, "CLI did not finish"
        os.close(self.rfd)
        rc = self.proc.wait(timeout)
        self.stderr.seek(0)
        out = b"".join(chunks)
        return difftest.Result(out.split(b"\n", 1)[1], self.stderr.read(), rc)


def _stderr_lines(r: difftest.Result) -> list[str]:
    """stderr without the client library's JSON retry warnings (etcdctl prints those too)."""
    return [ln for ln in r.stderr.decode().splitlines() if not ln.startswith('{"level":')]


def _first_defragmented(members: list[Member], sizes: dict[int, int]) -> Member:
    shrunk = [m for m in members if _db_size(m) < sizes[m.id]]
    assert len(shrunk) == 1, f"exactly one member defragmented while the CLI is held: {shrunk}"
    return shrunk[0]


def test_killed_follower_stops_the_run(cluster):
    """The second follower dies after the first was defragmented: its defragment fails, the leader is left alone,
    the summary names who was done, who failed and who was skipped, and the run ends with an Error line."""
    leader = _leader(cluster)
    sizes = {m.id: _db_size(m) for m in cluster}
    assert min(sizes.values()) > 2_000_000, sizes
    cli = HeldCli(cluster, leader, "--command-timeout", "3s")
    cli.wait_blocked_on_stdout()
    first = _first_defragmented(cluster, sizes)
    assert first is not leader  # a follower goes first
    second = next(m for m in cluster if m is not first and m is not leader)
    second.server.kill()
    r = cli.finish()

    assert r.rc == 1, r
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"Cluster healthy: 3 members, leader {leader.server.name}"
    assert lines[1].startswith(
        f"Finished defragmenting etcd member[{first.url}] (follower {first.server.name}, db size "
    )
    assert len(lines) == 2, r
    err = _stderr_lines(r)
    assert err[0].startswith(f"Failed to defragment etcd member[{second.url}] (")
    assert err[1:] == [
        f"Defragmented: {first.server.name}",
        f"Failed: {second.server.name}",
        f"Skipped: {leader.server.name}",
        f"Error: defragmenting follower {second.server.name} failed; stopped after 1 of 3 members",
    ], r
    # On the servers: the leader was never defragmented; the dead member neither (restart it and look). A file
    # only shrinks through a defragment (new raft entries may still add a page).
    assert _db_size(leader) >= sizes[leader.id]
    assert _db_size(first) < sizes[first.id] // 4
    second.server.start()
    assert _db_size(second) >= sizes[second.id]


def test_frozen_leader_fails_the_health_check(cluster):
    """The leader hangs (SIGSTOP) after the first follower was done: the second follower is still defragmented
    (defrag is local to a member), the health check that follows fails on the leader and the leader is never
    defragmented."""
    leader = _leader(cluster)
    sizes = {m.id: _db_size(m) for m in cluster}
    cli = HeldCli(cluster, leader, "--command-timeout", "2s")
    cli.wait_blocked_on_stdout()
    first = _first_defragmented(cluster, sizes)
    assert first is not leader
    second = next(m for m in cluster if m is not first and m is not leader)
    os.kill(leader.server.proc.pid, signal.SIGSTOP)
    try:
        r = cli.finish()
    finally:
        os.kill(leader.server.proc.pid, signal.SIGCONT)

    assert r.rc == 1, r
    lines = r.stdout.decode().splitlines()
    assert [ln.split("]")[0] for ln in lines[1:]] == [
        f"Finished defragmenting etcd member[{first.url}",
        f"Finished defragmenting etcd member[{second.url}",
    ], r
    err = _stderr_lines(r)
    # The frozen leader fails its check; the followers may fail theirs too while they elect a new leader.
    assert any(ln.startswith(f"unhealthy: {leader.server.name} ({leader.url}): ") for ln in err), r
    assert f"Defragmented: {first.server.name}, {second.server.name}" in err
    failed = next(ln for ln in err if ln.startswith("Failed: "))
    assert leader.server.name in failed.removeprefix("Failed: ").split(", "), r
    assert "Skipped: none" in err
    assert (
        err[-1] == f"Error: cluster is not healthy after defragmenting {second.server.name}; stopped after "
        f"2 of 3 members"
    ), r
    assert not any(ln.startswith("Failed to defragment") for ln in err)
    assert _db_size(second) < sizes[second.id] // 4
    assert _db_size(leader) >= sizes[leader.id]  # the deposed leader may have appended a page since
