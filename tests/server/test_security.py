"""etcd-py has no side door: what reaches its gRPC layer is what real etcd 3.5.1 would let through.

- Only the configured client URLs listen (found from /proc/<pid>/net/tcp{,6} by the process's socket inodes);
  each listener, tried without TLS, refuses what its URL's TLS settings refuse. The hand-off to grpcio is a unix
  socket in a 0700 directory (found from /proc/<pid>/net/unix) that grants no identity of its own: a client
  certificate's CN reaches the gRPC layer only through the TLS front listener.
- Downgrade, TLS start-up refusals and an auth matrix (read-only and write-only roles, a token made stale by a
  password change or a role revoke, client-certificate CN users) answer as the real server does, side by side.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc, tlscerts
from tests.server.servertools import Ctl, both, mask

ROOT = "--user=root:rootpw"
NOBODY = 65534


# ---- /proc: what a process listens on ------------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets the process holds (its /proc/<pid>/fd links 'socket:[N]')."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            found.add(link[len("socket:[") : -1])
    return found


def _ip(hexaddr: str) -> str:
    """An address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hexaddr)
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def tcp_listeners(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket of the process in state LISTEN (0A)."""
    inodes = _socket_inodes(pid)
    found = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                addr, port = cols[1].split(":")
                if cols[3] == "0A" and cols[9] in inodes:
                    found.add((_ip(addr), int(port, 16)))
    return found


def unix_sockets(pid: int) -> list[tuple[str, bool]]:
    """(path, listening) of the process's unix sockets that have a name ('@...' is an abstract name)."""
    inodes = _socket_inodes(pid)
    found = []
    with open(f"/proc/{pid}/net/unix") as fh:
        next(fh)
        for line in fh:
            cols = line.split()
            if len(cols) >= 8 and cols[6] in inodes:
                found.append((cols[7], int(cols[3], 16) & 0x10000 != 0))  # __SO_ACCEPTCON: a listener
    return found


def _uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(ln for ln in fh if ln.startswith("Uid:")).split()[2])  # effective uid


def real_path(pid: int, path: str) -> str:
    """A socket path as the process named it, resolved: etcd-py reaches the sockets of a long data dir through
    /proc/self/fd/<its open fd of the directory>/, which means that process's fd."""
    if path.startswith("/proc/self/"):
        path = f"/proc/{pid}/" + path[len("/proc/self/") :]
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def grpc_socket(pid: int) -> str:
    """The real path of the process's one listening unix socket: grpcio's."""
    listening = [real_path(pid, p) for p, lst in unix_sockets(pid) if lst]
    assert len(listening) == 1, listening
    return listening[0]


# ---- probes ---------------------------------------------------------------------------------------------------


def _rpc(target: str, fn, creds=None, md=None) -> tuple[str, str]:
    ch = grpc.secure_channel(target, creds) if creds is not None else grpc.insecure_channel(target)
    try:
        return "OK", fn(ch, md)
    except grpc.RpcError as e:
        return e.code().name, e.details() or ""
    finally:
        ch.close()


def _put(ch, md) -> str:
    pbg.KVStub(ch).Put(pb.PutRequest(key=b"probe", value=b"x"), metadata=md, timeout=5)
    return ""


def plain_http_get(port: int) -> int | None:
    """The status of a plain HTTP GET /health; None when the server would not answer it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tls_creds(pki: dict, who: str | None) -> grpc.ChannelCredentials:
    """Trust the server's CA; present the client certificate of `who` (None: no certificate)."""
    ca = _read(pki["main"]["ca"])
    if who is None:
        return grpc.ssl_channel_credentials(root_certificates=ca)
    c = pki[who]
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=_read(c["client_key"]), certificate_chain=_read(c["client_cert"])
    )


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def tls_args(pki: dict, who: str | None) -> list[str]:
    args = ["--cacert", pki["main"]["ca"]]
    if who is not None:
        args += ["--cert", pki[who]["client_cert"], "--key", pki[who]["client_key"]]
    return args


# ---- servers --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(server_tmp):
    """Three CAs the servers trust (one bundle file) with client CNs alice, root and mallory; one they do not."""
    base = tempfile.mkdtemp(prefix="pki-", dir=server_tmp)
    sets = {}
    for name, cn in (("main", "alice"), ("root", "root"), ("stranger", "mallory"), ("untrusted", "root")):
        os.makedirs(os.path.join(base, name))
        sets[name] = tlscerts.make_certs(os.path.join(base, name), client_cn=cn)
    sets["bundle"] = os.path.join(base, "bundle.pem")
    with open(sets["bundle"], "w") as out:
        for name in ("main", "root", "stranger"):
            out.write(_read(sets[name]["ca"]).decode())
    return sets


def tls_flags(pki: dict) -> list[str]:
    return [
        "--cert-file",
        pki["main"]["server_cert"],
        "--key-file",
        pki["main"]["server_key"],
        "--trusted-ca-file",
        pki["bundle"],
        "--client-cert-auth",
    ]


def make(binary: str, base: str, schemes: list[str], extra: list[str], **kw) -> tuple[etcdproc.EtcdServer, dict]:
    """A server (not started) whose client URLs are one 127.0.0.1 port per scheme; returns it and {port: scheme}."""
    srv = etcdproc.make_server(binary, base, extra=extra, **kw)
    ports = {srv.client_port: schemes[0]}
    for scheme in schemes[1:]:
        ports[etcdproc.free_port()] = scheme
    urls = [f"{scheme}://127.0.0.1:{port}" for port, scheme in ports.items()]
    srv.argv[srv.argv.index("--listen-client-urls") + 1] = ",".join(urls)
    srv.argv[srv.argv.index("--advertise-client-urls") + 1] = urls[0]
    return srv, ports


def wait_all(srv: etcdproc.EtcdServer, ports: dict, pki: dict) -> None:
    for port, scheme in ports.items():
        if scheme == "https":
            etcdproc.wait_ready(
                f"https://127.0.0.1:{port}",
                srv.proc,
                context=tlscerts.client_context(pki["root"] | {"ca": pki["main"]["ca"]}),
            )
        else:
            etcdproc.wait_ready(f"http://127.0.0.1:{port}", srv.proc)


@pytest.fixture
def started(server_tmp, etcd_py_bin, pki):
    """Start etcd-py servers for one test; every one is stopped afterwards, even on failure."""
    servers = []

    def start(schemes: list[str], extra: list[str], **kw):
        srv, ports = make(etcd_py_bin, server_tmp, schemes, extra, **kw)
        servers.append(srv)
        srv.start(wait=False)
        wait_all(srv, ports, pki)
        return srv, ports

    yield start
    for srv in servers:
        srv.stop()


CONFIGS = {
    "https+client-cert-auth": (["https"], True, []),
    "http": (["http"], False, []),
    "http+v2": (["http"], False, ["--enable-v2"]),
    "https+http": (["https", "http"], True, []),
}


# ---- the listeners and the internal socket -------------------------------------------------------------------


@pytest.mark.parametrize("config", list(CONFIGS))
def test_listens_only_on_configured_urls(started, pki, config):
    """No TCP listener but the client URLs; without TLS an https listener serves neither gRPC nor HTTP, a client
    without a trusted certificate is refused, and the process's unix sockets all sit in a 0700 directory."""
    schemes, tls, extra = CONFIGS[config]
    srv, ports = started(schemes, (tls_flags(pki) if tls else []) + extra)
    pid = srv.proc.pid
    assert tcp_listeners(pid) == {("127.0.0.1", port) for port in ports}
    for port, scheme in ports.items():
        put, status = _rpc(f"127.0.0.1:{port}", _put)[0], plain_http_get(port)
        if scheme == "http":
            assert (put, status) == ("OK", 200)  # the probes work where the URL allows them
            continue
        assert put != "OK" and status in (None, 400), (port, put, status)
        for who in (None, "untrusted"):
            assert _rpc(f"127.0.0.1:{port}", _put, tls_creds(pki, who))[0] != "OK", who
        assert _rpc(f"127.0.0.1:{port}", _put, tls_creds(pki, "root"))[0] == "OK"
    named = unix_sockets(pid)
    assert [p for p, listening in named if listening], "no internal gRPC socket found"
    for path, _ in named:
        assert not path.startswith("@"), f"abstract unix socket {path}: reachable by anyone"
        st = os.stat(os.path.dirname(real_path(pid, path)))
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, _uid(pid)), path


def _forward_from(bound_path: str, server_path: str) -> int:
    """A one-connection TCP port whose bytes reach `server_path` from a unix socket bound to `bound_path`."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        with lsock:
            conn, _ = lsock.accept()
        up = socket.socket(socket.AF_UNIX)
        up.bind(bound_path)
        up.connect(server_path)
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    threading.Thread(target=serve, daemon=True).start()
    return lsock.getsockname()[1]


def _connect_as_nobody(path: str) -> int:
    """errno of connecting to a unix socket from a child that dropped to uid/gid 65534 (0: it connected)."""
    pid = os.fork()
    if pid == 0:  # child: no grpc, no locks, only syscalls
        code = 99
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            code = 0
        except OSError as e:
            code = e.errno or 98
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_internal_socket_grants_no_identity(started, pki):
    """With auth on and --client-cert-auth, the CN 'root' works through the TLS front listener; the same request
    straight to grpcio's socket, or from a path of our own in its directory, has no user at all."""
    srv, ports = started(["https"], tls_flags(pki))
    port = next(iter(ports))
    ctl = Ctl(f"https://127.0.0.1:{port}")
    for args in (["user", "add", "root:rootpw"], ["auth", "enable"]):
        rc, _, err = ctl(*args, *tls_args(pki, "root"))
        assert rc == 0, (args, err)
    assert _rpc(f"127.0.0.1:{port}", _put, tls_creds(pki, "root")) == ("OK", "")
    assert _rpc(f"127.0.0.1:{port}", _put, tls_creds(pki, "stranger")) == (
        "PERMISSION_DENIED",
        "etcdserver: permission denied",
    )
    server_path = grpc_socket(srv.proc.pid)
    empty = ("INVALID_ARGUMENT", "etcdserver: user name is empty")
    assert _rpc("unix:" + quote(server_path), _put) == empty
    mine = os.path.join(os.path.dirname(server_path), "c0123456789abcdef-1")
    try:
        assert _rpc(f"127.0.0.1:{_forward_from(mine, server_path)}", _put) == empty
    finally:
        if os.path.exists(mine):
            os.unlink(mine)
    # a live spliced connection's own path cannot be taken over while it is registered
    ch = grpc.secure_channel(f"127.0.0.1:{port}", tls_creds(pki, "root"))
    try:
        pbg.KVStub(ch).Range(pb.RangeRequest(key=b"probe"), timeout=5)
        live = [real_path(srv.proc.pid, p) for p, listening in unix_sockets(srv.proc.pid) if not listening]
        assert live, "the spliced connection has no bound path"
        for path in live:
            s = socket.socket(socket.AF_UNIX)
            with pytest.raises(OSError) as exc, s:
                s.bind(path)
            assert exc.value.errno == errno.EADDRINUSE
    finally:
        ch.close()
    if os.geteuid() == 0:  # another user cannot even reach the socket
        assert _connect_as_nobody(server_path) in (errno.EACCES, errno.EPERM)


def test_socket_dir_lifecycle(server_tmp, etcd_py_bin):
    """The private dir lives in member/, is removed at stop, and a killed server's stale dir is replaced at the
    next start (a data dir too long for a socket path included: its sockets are named through /proc/self/fd)."""
    short, _ = make(etcd_py_bin, server_tmp, ["http"], [])
    long_dir = os.path.join(tempfile.mkdtemp(prefix="long-", dir=server_tmp), "d" * 100)
    long, _ = make(etcd_py_bin, server_tmp, ["http"], [], data_dir=long_dir)
    try:
        for srv in (short, long):
            sock_dir = os.path.join(srv.data_dir, "member", "etcd-py-grpc")
            srv.start()
            assert grpc_socket(srv.proc.pid) == os.path.join(sock_dir, "grpc.sock")
            assert Ctl(srv.endpoint)("put", "k", "v") == (0, "OK\n", "")
            srv.kill()
            marker = os.path.join(sock_dir, "stale-marker")
            open(marker, "w").close()
            srv.start()
            assert not os.path.exists(marker)
            assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700
            assert Ctl(srv.endpoint)("get", "k", "--print-value-only") == (0, "v\n", "")
            srv.stop()
            assert sorted(os.listdir(os.path.join(srv.data_dir, "member"))) == ["snap", "wal"]
        raw = [p for p, listening in unix_sockets(long.start().proc.pid) if listening]
        assert len(raw) == 1 and raw[0].startswith("/proc/self/fd/"), raw
    finally:
        short.stop()
        long.stop()


def test_shared_member_dir_falls_back_to_a_private_temp_dir(server_tmp, etcd_py_bin):
    """A member/ dir others may write into is no place for the sockets: a fresh 0700 temp dir is used, nobody
    else can enter it, and it is gone when the server stops."""
    data_dir = os.path.join(tempfile.mkdtemp(prefix="shared-", dir=server_tmp), "data")
    os.makedirs(os.path.join(data_dir, "member"))
    os.chmod(os.path.join(data_dir, "member"), 0o770)
    srv, _ = make(etcd_py_bin, server_tmp, ["http"], [], data_dir=data_dir)
    fallback = None
    try:
        srv.start()
        fallback = os.path.dirname(grpc_socket(srv.proc.pid))
        assert not fallback.startswith(data_dir) and os.path.basename(fallback).startswith("etcd-py-grpc-")
        assert stat.S_IMODE(os.stat(fallback).st_mode) == 0o700
        assert Ctl(srv.endpoint)("put", "k", "v") == (0, "OK\n", "")
        if os.geteuid() == 0:  # only our 0700 dir stands between another user and the socket
            assert _connect_as_nobody(os.path.join(fallback, "grpc.sock")) in (errno.EACCES, errno.EPERM)
        srv.stop()
        assert not os.path.exists(fallback)
    finally:
        srv.stop()
        if fallback:
            shutil.rmtree(fallback, ignore_errors=True)


# ---- Downgrade ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dtwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="downgrade-twins")
    yield real, ours
    real.stop()
    ours.stop()


def _token(endpoint: str, user: str, password: str) -> str:
    with grpc.insecure_channel(endpoint) as ch:
        return pbg.AuthStub(ch).Authenticate(pb.AuthenticateRequest(name=user, password=password)).token


def _downgrade(endpoint: str, action: int, version: str, token: str | None = None) -> tuple[str, str]:
    def call(ch, md):
        return (
            pbg.MaintenanceStub(ch)
            .Downgrade(pb.DowngradeRequest(action=action, version=version), metadata=md, timeout=30)
            .version
        )

    return _rpc(endpoint, call, md=[("token", token)] if token else None)


V, E, C = pb.DowngradeRequest.VALIDATE, pb.DowngradeRequest.ENABLE, pb.DowngradeRequest.CANCEL


def test_downgrade_like_etcd(dtwins):
    """etcd 3.5.1 lets anyone validate, enable and cancel a downgrade (no admin check, even with auth on and no
    token); ENABLE/CANCEL check a token they are given, take effect, and answer 'request timed out'."""
    off = [
        (V, "3.4.0"),
        (V, "3.4"),
        (V, "3.4.0-rc.1+b"),
        (V, "v3.4.0"),
        (V, "3.3.0"),
        (V, "3.5.0"),
        (V, ""),
        (V, "3.4.x"),
        (C, ""),
        (7, "3.4.0"),
    ]
    results = [[_downgrade(s.endpoint, *c) for c in off] for s in dtwins]
    assert results[0] == results[1]
    assert results[0][0] == ("OK", "3.5.0") and results[0][3][0] == "INVALID_ARGUMENT"
    for srv in dtwins:
        ctl = Ctl(srv.endpoint)
        for args in (["user", "add", "root:rootpw"], ["user", "add", "alice:alicepw"], ["auth", "enable"]):
            assert ctl(*args)[0] == 0, args

    def with_auth(srv) -> list:
        alice, ep = _token(srv.endpoint, "alice", "alicepw"), srv.endpoint
        return [
            _downgrade(ep, V, "3.4.0"),
            _downgrade(ep, V, "3.4.0", "bogus.1"),
            _downgrade(ep, E, "3.4.0", "bogus.1"),
            _downgrade(ep, E, "3.4.0", alice),
            _downgrade(ep, V, "3.4.0"),
            _downgrade(ep, E, "3.4.0"),
            _downgrade(ep, C, "", "bogus.1"),
            _downgrade(ep, C, ""),
            _downgrade(ep, C, ""),
        ]

    with ThreadPoolExecutor(2) as pool:  # ENABLE/CANCEL wait out etcd's request timeout: both servers at once
        results = list(pool.map(with_auth, dtwins))
    assert results[0] == results[1]
    assert results[0][0] == ("OK", "3.5.0")
    assert results[0][2] == ("UNAUTHENTICATED", "etcdserver: invalid auth token")
    assert results[0][3] == ("UNAVAILABLE", "etcdserver: request timed out")
    assert results[0][4] == ("FAILED_PRECONDITION", "etcdserver: cluster has a downgrade job in progress")
    assert results[0][8] == ("FAILED_PRECONDITION", "etcdserver: no inflight downgrade job")


def test_enumeration_sees_every_listener(dtwins):
    """The /proc enumeration is not blind: real etcd's peer listener shows up beside its client one."""
    real, _ = dtwins
    assert tcp_listeners(real.proc.pid) == {("127.0.0.1", real.client_port), ("127.0.0.1", real.peer_port)}


# ---- TLS start-up refusals ------------------------------------------------------------------------------------


def _fatal_error(srv: etcdproc.EtcdServer) -> str:
    for line in reversed(srv.log().splitlines()):
        if line.startswith("{") and '"level":"fatal"' in line:
            return json.loads(line).get("error", "")
    return ""


def _listening(port: int, proc) -> bool:
    """Wait until the port accepts a connection (True) or the process exits (False)."""
    while proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def test_tls_startup_refusals_like_etcd(server_tmp, etcd_py_bin, pki):
    """Unreadable or mismatched TLS files stop both servers with etcd's error text; an https listener with a CA
    file holding no PEM data, or --client-cert-auth without a CA, or cert files beside http-only URLs, start."""
    base = tempfile.mkdtemp(prefix="tlsboot-", dir=server_tmp)
    garbage = os.path.join(base, "garbage.pem")
    with open(garbage, "w") as fh:
        fh.write("not a pem\n")
    m, s = pki["main"], pki["stranger"]
    missing = os.path.join(base, "missing.pem")
    cases = [
        (["https"], ["--cert-file", missing, "--key-file", m["server_key"]], 1),
        (["https"], ["--cert-file", m["server_cert"], "--key-file", missing], 1),
        (["https"], ["--cert-file", m["server_cert"], "--key-file", s["server_key"]], 1),
        (["https"], ["--cert-file", garbage, "--key-file", m["server_key"]], 1),
        (["https"], ["--cert-file", m["server_cert"], "--key-file", garbage], 1),
        (["https"], ["--cert-file", m["server_key"], "--key-file", m["server_cert"]], 1),
        (
            ["https"],
            [
                "--cert-file",
                m["server_cert"],
                "--key-file",
                m["server_key"],
                "--trusted-ca-file",
                missing,
                "--client-cert-auth",
            ],
            1,
        ),
        (
            ["https"],
            [
                "--cert-file",
                m["server_cert"],
                "--key-file",
                m["server_key"],
                "--trusted-ca-file",
                garbage,
                "--client-cert-auth",
            ],
            None,
        ),
        (["https"], ["--cert-file", m["server_cert"], "--key-file", m["server_key"], "--client-cert-auth"], None),
        (["http"], ["--cert-file", missing, "--key-file", missing], None),
    ]
    for schemes, extra, want in cases:
        outcome = []
        for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
            srv, ports = make(binary, base, schemes, extra, name="tlsboot")
            try:
                srv.start(wait=False)
                if want is None:  # serving: the port answers and the process is still there
                    rc = None if _listening(next(iter(ports)), srv.proc) else srv.proc.returncode
                else:
                    rc = srv.proc.wait(30)
                outcome.append((rc, _fatal_error(srv).replace(base, "BASE")))
            finally:
                srv.stop()
        assert outcome[0] == outcome[1], (extra, outcome)
        assert outcome[0][0] == want, (extra, outcome)


# ---- the auth matrix, with the real etcdctl -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rbac(server_tmp, etcd_py_bin):
    """Twins with auth on: ro reads ro/, wo writes wo/, locker read-writes lk/ (all through roles)."""
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="rbac-twins")
    try:
        for srv in (real, ours):
            ctl = Ctl(srv.endpoint)
            for args in (
                ["user", "add", "root:rootpw"],
                ["user", "add", "ro:ropw"],
                ["user", "add", "wo:wopw"],
                ["user", "add", "locker:lockpw"],
                ["role", "add", "reader"],
                ["role", "add", "writer"],
                ["role", "add", "lockers"],
                ["role", "grant-permission", "reader", "read", "ro/", "--prefix"],
                ["role", "grant-permission", "writer", "write", "wo/", "--prefix"],
                ["role", "grant-permission", "lockers", "readwrite", "lk/", "--prefix"],
                ["user", "grant-role", "ro", "reader"],
                ["user", "grant-role", "wo", "writer"],
                ["user", "grant-role", "locker", "lockers"],
                ["put", "ro/k", "v"],
                ["put", "wo/k", "v"],
                ["auth", "enable"],
            ):
                rc, _, err = ctl(*args)
                assert rc == 0, (args, err)
        yield real, ours
    finally:
        real.stop()
        ours.stop()


def test_read_only_role(rbac):
    ro = "--user=ro:ropw"
    assert both(rbac, "get", "ro/k", ro)[1] == "ro/k\nv\n"
    both(rbac, "get", "ro/", "--prefix", "-w", "json", ro)
    both(rbac, "get", "ro/", "--prefix", "--keys-only", ro)
    rc, _, err = both(rbac, "put", "ro/k", "x", ro)
    assert rc == 1 and "permission denied" in err
    both(rbac, "put", "ro/k", "x", "--prev-kv", ro)
    both(rbac, "del", "ro/k", ro)
    both(rbac, "del", "ro/k", "--prev-kv", ro)
    both(rbac, "get", "wo/k", ro)
    both(rbac, "get", "", "--prefix", ro)
    both(rbac, "txn", ro, stdin='value("ro/k") = "v"\n\nget ro/k\n\nput ro/k x\n\n')
    both(rbac, "txn", ro, stdin='value("ro/k") = "v"\n\nput ro/k x\n\n\n')
    both(rbac, "txn", ro, stdin="\n\nget ro/k\n\nget wo/k\n\n")
    both(rbac, "endpoint", "hashkv", ro)
    both(rbac, "get", "ro/k", ROOT)


def test_write_only_role(rbac):
    wo = "--user=wo:wopw"
    assert both(rbac, "put", "wo/new", "1", wo)[:2] == (0, "OK\n")
    rc, _, err = both(rbac, "get", "wo/new", wo)
    assert rc == 1 and "permission denied" in err
    both(rbac, "put", "wo/new", "2", "--prev-kv", wo)
    both(rbac, "put", "wo/new", "--ignore-value", wo)
    both(rbac, "del", "wo/new", "--prev-kv", wo)
    both(rbac, "del", "wo/new", wo)
    both(rbac, "del", "wo/", "--prefix", wo)
    both(rbac, "put", "ro/k", "x", wo)
    both(rbac, "txn", wo, stdin='value("wo/k") = "v"\n\nput wo/t 1\n\n\n')
    both(rbac, "txn", wo, stdin="\n\nput wo/t 1\nput wo/u 2\n\n")
    both(rbac, "get", "wo/", "--prefix", ROOT)


def test_watch_refused_for_lack_of_permission(rbac):
    """A watch on keys the user may not read is canceled at once; the reason is the gRPC status text, as etcd's."""
    real_etcd = both(rbac, "watch", "wo/k", "--user=ro:ropw")
    assert (
        "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)" in (real_etcd[2])
    )
    both(rbac, "watch", "ro/", "wo/z", "--user=ro:ropw")


def _lock_then(rbac, base: str, name: str, change: list[str], stdin: str | None = None) -> list[tuple]:
    """locker holds lock `name` with its token while root makes `change`; then the lock is released (Unlock
    with that now stale token). The real etcdctl's exit code and output, per server."""
    procs = []
    for srv in rbac:
        trigger = os.path.join(base, f"release-{name.replace('/', '_')}-{srv.client_port}")
        argv = [
            etcdproc.distro_bin("etcdctl"),
            f"--endpoints={srv.endpoint}",
            "--user=locker:lockpw",
            "lock",
            name,
            "--",
            "sh",
            "-c",
            f"echo held; while [ ! -e {trigger} ]; do sleep 0.05; done; echo released",
        ]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append((srv, p, trigger))
    try:
        for srv, p, trigger in procs:
            assert p.stdout.readline() == "held\n"  # the lock is ours: the token is in use
            rc, _, err = Ctl(srv.endpoint)(*change, ROOT, stdin=stdin)
            assert rc == 0, err
            open(trigger, "w").close()
        out = []
        for _srv, p, _ in procs:
            rest, err = p.communicate(timeout=60)
            out.append((p.returncode, "held\n" + rest, mask(err)))
        return out
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_stale_token_after_password_change_or_role_revoke(rbac, server_tmp):
    """etcdctl's token dies with a password change (its re-login with the old password fails) and a role revoke
    takes effect at once for a live token: both servers answer the stale Unlock the same way."""
    base = tempfile.mkdtemp(prefix="stale-", dir=server_tmp)
    out = _lock_then(rbac, base, "lk/a", ["user", "passwd", "locker", "--interactive=false"], stdin="newpw\n")
    assert out[0] == out[1], out
    assert out[0][0] == 1 and "invalid auth token" in out[0][2] and "authentication failed" in out[0][2]
    for srv in rbac:
        assert Ctl(srv.endpoint)("user", "passwd", "locker", "--interactive=false", ROOT, stdin="lockpw\n")[0] == 0
    out = _lock_then(rbac, base, "lk/b", ["user", "revoke-role", "locker", "lockers"])
    assert out[0] == out[1], out
    assert out[0][0] == 1 and "Error: etcdserver: permission denied" in out[0][2]


@pytest.fixture(scope="module")
def cn_twins(server_tmp, etcd_py_bin, pki):
    """TLS twins with --client-cert-auth trusting three CAs; auth on, alice may read-write app/."""
    shared_peer = etcdproc.free_port()
    servers = []
    try:
        for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
            srv, _ = make(
                binary,
                server_tmp,
                ["https"],
                tls_flags(pki),
                name="cntwin",
                advertise_peer_port=shared_peer,
                token="cn-twins",
            )
            servers.append(srv)
            srv.start(wait=False)
        for srv in servers:
            wait_all(srv, {srv.client_port: "https"}, pki)
            ctl = Ctl(f"https://127.0.0.1:{srv.client_port}")
            for args in (
                ["user", "add", "root:rootpw"],
                ["user", "add", "alice:alicepw"],
                ["role", "add", "app"],
                ["role", "grant-permission", "app", "readwrite", "app/", "--prefix"],
                ["user", "grant-role", "alice", "app"],
                ["auth", "enable"],
                ["put", "app/k", "v"],
            ):
                rc, _, err = ctl(*args, *tls_args(pki, "root"))
                assert rc == 0, (args, err)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


def _cn_both(servers, pki: dict, who: str | None, *args: str) -> tuple:
    """The real etcdctl with `who`'s client certificate against both TLS twins: same exit code and output."""
    outs = []
    for srv in servers:
        rc, out, err = Ctl(f"https://127.0.0.1:{srv.client_port}")(*args, *tls_args(pki, who))
        outs.append((rc, mask(out), mask(err)))
    assert outs[0] == outs[1], (who, args, outs)
    return outs[0]


def test_cn_users(cn_twins, pki):
    """CN root is the admin; an unknown CN is a user that does not exist; a token beats the CN."""
    assert _cn_both(cn_twins, pki, "root", "user", "list")[:2] == (0, "alice\nroot\n")
    _cn_both(cn_twins, pki, "root", "endpoint", "hashkv")
    _cn_both(cn_twins, pki, "root", "auth", "status")
    _cn_both(cn_twins, pki, "root", "put", "app/x", "1")
    rc, _, err = _cn_both(cn_twins, pki, "stranger", "get", "app/k")
    assert rc == 1 and "permission denied" in err
    _cn_both(cn_twins, pki, "stranger", "put", "app/x", "2")
    _cn_both(cn_twins, pki, "stranger", "user", "list")
    _cn_both(cn_twins, pki, "stranger", "endpoint", "health")
    assert _cn_both(cn_twins, pki, "stranger", "get", "app/k", "--user=alice:alicepw")[:2] == (0, "app/k\nv\n")
    _cn_both(cn_twins, pki, "root", "user", "list", "--user=alice:alicepw")


HANDSHAKE = "transport: authentication handshake failed: "


@pytest.mark.parametrize("who", [None, "untrusted"])
def test_no_trusted_cert_is_refused(cn_twins, pki, who):
    """No client certificate, or one from a CA the servers do not trust: refused at the handshake by both.
    The TLS alert differs (etcd's Go server sends 'bad certificate', etcd-py's OpenSSL closes or names the CA), so
    the reason after 'authentication handshake failed: ' is compared only for being present."""
    outs = []
    for srv in cn_twins:
        ctl = Ctl(f"https://127.0.0.1:{srv.client_port}")
        rc, out, err = ctl("get", "app/k", "--dial-timeout=2s", "--command-timeout=3s", *tls_args(pki, who), timeout=60)
        assert HANDSHAKE in err, err
        reason = [ln.split(HANDSHAKE, 1)[1].split('\\"', 1)[0] for ln in err.splitlines() if HANDSHAKE in ln]
        outs.append((rc, out, mask(err).replace(reason[0], "REASON")))
    assert outs[0] == outs[1], outs
    assert outs[0][0] == 1 and outs[0][2].endswith("Error: context deadline exceeded\n")
