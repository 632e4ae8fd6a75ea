"""Fresh three-member etcd 3.5.1 clusters as loopback processes, for tests that change membership or leadership.

The session-wide docker cluster (conftest.three_node_cluster) is shared with other tests, so verbs that add,
promote or remove members, or move the leader around, get their own cluster per module here: three real etcd
processes on free 127.0.0.1 ports (about a second to start, much faster than compose). Everything is stopped by
the pid we started.

Also: the helpers that run real etcdctl and etcdctl-py with given endpoints, and `started_member`, which starts
a new member from the `ETCD_*` lines `member add` printed (the documented way to join a cluster).
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests import difftest, etcdproc

TOKEN = "etcdctl-py-members"
# Short raft timings: elections, leader transfers and learner catch-up happen in tens of milliseconds.
RAFT = ["--heartbeat-interval", "50", "--election-timeout", "500"]


def etcdctl(
    *args: str, endpoints: list[str], env: dict[str, str] | None = None, timeout: float = 30
) -> difftest.Result:
    """Real etcdctl 3.5.1."""
    return difftest.run(
        [etcdproc.distro_bin("etcdctl"), "--endpoints", ",".join(endpoints), *args], env=env, timeout=timeout
    )


def etcdctl_py(
    *args: str, endpoints: list[str], env: dict[str, str] | None = None, timeout: float = 30
) -> difftest.Result:
    """etcdctl-py from the source tree."""
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", ",".join(endpoints), *args], env=env, timeout=timeout)


TOOLS: dict[str, Callable[..., difftest.Result]] = {"real": etcdctl, "ours": etcdctl_py}


@dataclass
class ProcCluster:
    """Three (or more, after `member add`) real etcd processes on loopback."""

    base: str
    servers: list[etcdproc.EtcdServer] = field(default_factory=list)
    last_add: float = 0.0  # when a test last added a member (etcd member IDs depend on the Unix second)

    @property
    def endpoints(self) -> list[str]:
        return [s.endpoint for s in self.servers]

    def status(self, i: int):  # noqa: ANN201 - rpc_pb2.StatusResponse
        from etcdctl_py.client import Client

        with Client([self.servers[i].endpoint], command_timeout=3) as c:
            return c.maintenance.status()

    def leader(self) -> int:
        """Index (into `servers`) of the current leader, waiting for one to be elected."""
        deadline = time.monotonic() + 15
        while True:
            ids = {}
            lead = 0
            for i, s in enumerate(self.servers):
                if s.proc is None:
                    continue
                try:
                    st = self.status(i)
                except Exception:  # noqa: BLE001 - a member may be restarting
                    continue
                ids[st.header.member_id] = i
                lead = lead or st.leader
            if lead in ids:
                return ids[lead]
            if time.monotonic() > deadline:
                raise TimeoutError("no leader")
            time.sleep(0.05)

    def member_id(self, i: int) -> int:
        return self.status(i).header.member_id

    def wait_healthy(self, timeout: float = 20) -> None:
        for s in self.servers:
            if s.proc is not None:
                etcdproc.wait_ready(s.client_url, s.proc, timeout=timeout)

    def stop_all(self) -> None:
        for s in self.servers:
            s.stop()


# etcd's --strict-reconfig-check refuses membership changes ("etcdserver: unhealthy cluster") until every
# voting member has been connected for HealthInterval (5 s).
HEALTH_INTERVAL = 5.0


def start_cluster(base: str, names: tuple[str, ...] = ("m1", "m2", "m3"), *, settle: bool = False) -> ProcCluster:
    """Start len(names) members together (none is healthy before a quorum is up) and wait for all;
    with `settle`, also wait until membership changes are allowed."""
    binary = etcdproc.distro_bin("etcd")
    ports = [(etcdproc.free_port(), etcdproc.free_port()) for _ in names]
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, (_, p) in zip(names, ports, strict=True))
    cl = ProcCluster(base)
    for n, (cp, pp) in zip(names, ports, strict=True):
        srv = etcdproc.EtcdServer(
            name=n,
            data_dir=os.path.join(base, n),
            client_port=cp,
            peer_port=pp,
            log_path=os.path.join(base, f"{n}.log"),
        )
        srv.argv = etcdproc.etcd_argv(
            binary,
            name=n,
            data_dir=srv.data_dir,
            client_port=cp,
            peer_port=pp,
            initial_cluster=initial,
            token=TOKEN,
            extra=RAFT,
        )
        srv.start(wait=False)
        cl.servers.append(srv)
    cl.wait_healthy(30)
    cl.leader()
    if settle:  # the peers connected around the election
        time.sleep(HEALTH_INTERVAL + 0.3)  # deliberate: one peer health probe interval passes (nothing to poll)
    return cl


def etcd_env_lines(stdout: bytes) -> dict[str, str]:
    """The `ETCD_X="..."` lines `member add` prints, as an environment (values are Go %q strings)."""
    env = {}
    for m in re.finditer(rb'^(ETCD_[A-Z_]+)="((?:[^"\\]|\\.)*)"$', stdout, re.M):
        env[m.group(1).decode()] = codecs.escape_decode(m.group(2))[0].decode()  # \" \\ \t \xNN; UTF-8 kept
    return env


def started_member(
    cl: ProcCluster, env: dict[str, str], client_port: int, peer_port: int, tag: str
) -> etcdproc.EtcdServer:
    """Start the member `member add` announced: name, initial cluster and state come from its ETCD_* lines."""
    data_dir = os.path.join(cl.base, f"{env.get('ETCD_NAME', 'new')}-{tag}-{peer_port}")
    srv = etcdproc.EtcdServer(
        name=env.get("ETCD_NAME", ""),
        data_dir=data_dir,
        client_port=client_port,
        peer_port=peer_port,
        log_path=data_dir + ".log",
    )
    srv.argv = [
        etcdproc.distro_bin("etcd"),
        "--data-dir",
        data_dir,
        "--listen-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer_port}",
        "--initial-cluster-token",
        TOKEN,
        "--log-level",
        "error",
        *RAFT,
    ]
    srv.start(wait=False, env=env)
    return srv
