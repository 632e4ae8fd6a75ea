"""Failover on the shared three-member etcd 3.5.1 cluster: real etcdctl vs etcdctl-py when an endpoint is dead.

* `--endpoints=<dead>,<alive>...`: a port nobody listens on comes first; requests go to the live members.
* A member stopped mid-way (the cluster keeps its quorum): commands through the remaining endpoints work the
  same, the per-member verbs report the stopped one the same way; then it is started again and catches up.
* A watch whose member dies keeps watching through another endpoint and misses nothing; a lease keep-alive
  keeps renewing through another endpoint.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time

import pytest

from tests import difftest, etcdproc
from tests.cluster.fixtures_members import TOOLS

FAST = ["--dial-timeout=1s", "--command-timeout=2s"]


@pytest.fixture(scope="module")
def cluster(three_node_cluster):
    three_node_cluster.wait_healthy()
    return three_node_cluster


def both(*args: str, endpoints: list[str]) -> tuple[difftest.Result, difftest.Result]:
    return TOOLS["real"](*args, endpoints=endpoints), TOOLS["ours"](*args, endpoints=endpoints)


def same(args, real: difftest.Result, mine: difftest.Result, norm=lambda b: b) -> None:  # noqa: ANN001
    assert norm(mine.stdout) == norm(real.stdout), f"stdout differs for {args}:\nreal: {real}\nours: {mine}"
    assert mine.rc == real.rc, f"exit code differs for {args}:\nreal: {real}\nours: {mine}"
    assert norm(difftest.mask_stderr(mine.stderr)) == norm(difftest.mask_stderr(real.stderr)), (
        f"stderr differs for {args}:\nreal: {real}\nours: {mine}"
    )


def test_dead_endpoint_first(cluster):
    dead = f"127.0.0.1:{etcdproc.free_port()}"
    eps = [dead, *cluster.endpoints[1:]]
    from etcdctl_py.client import Client

    with Client(cluster.endpoints) as c:
        c.kv.put(b"/failover/b", b"2")  # so that both tools' --prev-kv see the same previous value
    for args in (["put", "/failover/a", "1"], ["put", "/failover/b", "2", "--prev-kv"]):
        real, mine = both(*args, endpoints=eps)
        same(args, real, mine)
        assert real.rc == 0
    for args in (
        ["get", "/failover/", "--prefix", "-w", "json"],
        ["get", "/failover/a", "-w", "fields"],
        ["get", "/failover/", "--prefix", "--consistency=s"],
        ["member", "list"],
        ["del", "/failover/zzz"],
    ):
        real, mine = both(*args, endpoints=[dead, cluster.endpoints[0]])
        same(args, real, mine, norm=lambda b: re.sub(rb'"(member_id|MemberID)"( : |:)[0-9]+', b"MID", b))
        assert real.rc == 0
    t0 = time.monotonic()
    mine = TOOLS["ours"]("get", "/failover/a", "--print-value-only", endpoints=eps)
    assert (mine.stdout, mine.rc) == (b"1\n", 0) and time.monotonic() - t0 < 3  # no wait on the dead one


def test_only_dead_endpoints(cluster):
    dead = [f"127.0.0.1:{etcdproc.free_port()}" for _ in range(2)]
    args = [*FAST, "get", "x"]
    real, mine = both(*args, endpoints=dead)
    same(args, real, mine, norm=lambda b: re.sub(rb"127\.0\.0\.1:[0-9]+", b"EP", b))
    assert real.rc != 0


def _status_norm(b: bytes) -> bytes:
    """Raft indexes move while a member is down (the cluster commits config and lease traffic): mask them."""
    b = re.sub(rb'"(raft_index|raftIndex|raftAppliedIndex|raft_applied_index)":[0-9]+', rb'"\1":N', b)
    return b


def test_member_stopped_midway(cluster):
    """Stop member 3; the other two keep a quorum. Everything is compared with member 3's endpoint listed first."""
    cluster.stop(2)
    try:
        eps = [cluster.endpoints[2], *cluster.endpoints[:2]]
        for args in (
            ["put", "/failover/down", "x"],
            ["get", "/failover/down", "--print-value-only"],
            ["member", "list", "-w", "table"],
        ):
            real, mine = both(*args, endpoints=eps)
            same(args, real, mine)
            assert real.rc == 0, real
        # per-member verbs report the stopped member and fail (exit 1) in both
        args = [*FAST, "endpoint", "status", "--cluster", "-w", "json"]
        real, mine = both(*args, endpoints=cluster.endpoints[:1])
        same(args, real, mine, norm=_status_norm)
        assert real.rc == 1
        assert f"Failed to get the status of endpoint {cluster.client_urls[2]} (".encode() in mine.stderr
        args = [*FAST, "endpoint", "health", "--cluster"]
        real, mine = both(*args, endpoints=cluster.endpoints[:1])
        norm = lambda b: b"\n".join(sorted(re.sub("took = [0-9.]+[a-zµ]+".encode(), b"took", b).split(b"\n")))  # noqa: E731
        same(args, real, mine, norm=norm)
        assert real.rc == 1 and f"{cluster.client_urls[2]} is unhealthy".encode() in mine.stderr
        assert mine.stderr.endswith(b"Error: unhealthy cluster\n")
    finally:
        cluster.start(2)
    # back: it caught up with what was written while it was down
    mine = TOOLS["ours"](
        "get", "/failover/down", "--print-value-only", "--consistency=s", endpoints=cluster.endpoints[2:]
    )
    assert mine.stdout == b"x\n"
    real, mine = both("endpoint", "hashkv", "--cluster", "-w", "json", endpoints=cluster.endpoints[2:])
    same(["hashkv"], real, mine)
    assert len({e["HashKV"]["hash"] for e in json.loads(mine.stdout)}) == 1


class Watcher:
    """A `watch` process whose output is read as it comes."""

    def __init__(self, argv: list[str]):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self) -> None:
        while chunk := self.p.stdout.read1(4096):
            self.out.extend(chunk)

    def wait_for(self, data: bytes, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while data not in self.out:
            assert time.monotonic() < deadline, f"{data!r} not seen; got {bytes(self.out)!r}"
            assert self.p.poll() is None, f"watch exited {self.p.returncode}: {self.p.stderr.read()!r}"
            time.sleep(0.05)

    def stop(self) -> tuple[bytes, bytes, int]:
        self.p.send_signal(signal.SIGINT)
        err = self.p.communicate(timeout=10)[1]
        self.t.join(5)
        return bytes(self.out), err, self.p.returncode


class LibraryWatch:
    """The client library's WatchStream on the same events: two watchers on one stream, from now and from
    revision 1, collected by a thread."""

    def __init__(self, endpoints: list[str]):
        from etcdctl_py.client import Client

        self.c = Client(endpoints)
        self.stream = self.c.watch.stream()
        self.created: list[int] = []
        self.stream.on_created = self.created.append
        self.stream.watch(b"/wf/", b"/wf0")
        self.stream.watch(b"/wf/while-down/", b"/wf/while-down0", start_revision=1)
        self.seen: dict[int, list[tuple[int, bytes, int]]] = {}
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for resp in self.stream:
            self.seen.setdefault(resp.watch_id, []).extend((e.type, e.kv.key, e.kv.mod_revision) for e in resp.events)

    def check(self) -> None:
        deadline = time.monotonic() + 10
        while not any(k == b"/wf/while-down/0" and t == 1 for t, k, _ in self.seen.get(self.created[0], [])):
            assert time.monotonic() < deadline, self.seen
            time.sleep(0.05)
        self.stream.close()
        self.c.close()
        assert sorted(self.seen) == self.created == [0, 1]  # the first IDs, whatever the new stream assigned
        for events in self.seen.values():
            revs = [r for _, _, r in events]
            assert revs == sorted(set(revs))  # nothing twice, nothing out of order
        down = [k for _, k, _ in self.seen[1]]
        assert down == [b"/wf/while-down/%d" % i for i in range(5)] + [b"/wf/while-down/0"]
        assert [k for _, k, _ in self.seen[0] if k != b"/wf/ready"][-7:] == down[:5] + [b"/wf/after", down[5]]


def test_watch_and_keepalive_survive_their_member_dying(cluster):
    """Both watchers start on member 1 (listed first and, for etcdctl-py, the one it uses); member 1 is stopped,
    keys are written through member 2, then member 1 comes back and more is written through it."""
    from etcdctl_py.client import Client

    eps = ",".join(cluster.endpoints)
    lib = LibraryWatch(cluster.endpoints)
    watchers = {
        "real": Watcher([etcdproc.distro_bin("etcdctl"), "--endpoints", eps, "watch", "/wf/", "--prefix"]),
        "ours": Watcher([*difftest.ETCDCTL_PY, "--endpoints", eps, "watch", "/wf/", "--prefix"]),
    }
    with Client(cluster.endpoints[1:2]) as c:
        lease = c.lease.grant(2).ID
    keepers = {
        "real": Watcher([etcdproc.distro_bin("etcdctl"), "--endpoints", eps, "lease", "keep-alive", f"{lease:x}"]),
        "ours": Watcher([*difftest.ETCDCTL_PY, "--endpoints", eps, "lease", "keep-alive", f"{lease:x}"]),
    }
    line = b"lease %016x keepalived with TTL(2)\n" % lease
    for k in keepers.values():
        k.wait_for(line)
    with Client(cluster.endpoints[1:2]) as c:
        for w in watchers.values():  # both are watching once they print an event
            deadline = time.monotonic() + 15
            while b"/wf/ready" not in w.out and time.monotonic() < deadline:
                c.kv.put(b"/wf/ready", b"1")
                time.sleep(0.2)
    cluster.stop(0)
    try:
        with Client(cluster.endpoints[1:2]) as c:
            for i in range(5):
                c.kv.put(f"/wf/while-down/{i}".encode(), b"v%d" % i)
        for w in watchers.values():
            w.wait_for(b"/wf/while-down/4\nv4\n")
        # the keep-alives go on through another member for longer than the lease's TTL
        counts = {n: k.out.count(line) for n, k in keepers.items()}
        time.sleep(3)  # deliberate: longer than the lease's 2 s TTL
        for n, k in keepers.items():
            assert k.p.poll() is None and k.out.count(line) >= counts[n] + 3, (n, bytes(k.out))
        with Client(cluster.endpoints[1:2]) as c:
            assert c.lease.time_to_live(lease).TTL > 0
    finally:
        cluster.start(0)
    with Client(cluster.endpoints[:1]) as c:
        c.kv.put(b"/wf/after", b"back")
        c.kv.delete(b"/wf/while-down/0")
    results = {}
    for name, w in watchers.items():
        w.wait_for(b"DELETE\n/wf/while-down/0\n\n")  # key line, then the (empty) value line
        results[name] = w.stop()
    real, mine = results["real"], results["ours"]
    kept = {n: k.stop() for n, k in keepers.items()}
    for out, err, _rc in kept.values():
        assert set(out.splitlines(keepends=True)) == {line} and err == b"", (out, err)
    assert kept["ours"][2] == kept["real"][2]  # death by SIGINT

    def events(out: bytes) -> bytes:
        return re.sub(rb"^(PUT\n/wf/ready\n1\n)+", b"", out)  # how many readiness puts each saw is timing

    assert events(mine[0]) == events(real[0])
    lib.check()
    assert events(mine[0]).count(b"PUT\n/wf/while-down/") == 5
    assert mine[2] == real[2]
