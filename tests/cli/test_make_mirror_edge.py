"""make-mirror edge cases through real etcdctl 3.5.1 and etcdctl-py, each on its own twin pair of real etcd 3.5.1
sources and destinations:

* the mirror dies when the source compacts the revision its watch needs (between the initial copy and the watch,
  and while the watch lags behind): same exit code, same `Error:` line, same keys on the destination;
* a destination that serves TLS with client-certificate auth (--dest-cacert/--dest-cert/--dest-key), the same with
  auth enabled (--dest-user/--dest-password), and the ways those go wrong (wrong CA, missing key, bad password).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
import urllib.request

import pytest

import difftest
import etcdproc
import tlscerts
from opsdiff import check_masked, put_both

EXTRA = ("max-txn-ops", "until-synced", "checkpoint")
COMPACTED = b"Error: etcdserver: mvcc: required revision has been compacted\n"


# ------------------------------------------------------------------ helpers

def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=_env())


def _finish(p: subprocess.Popen, timeout: float = 15) -> difftest.Result:
    """Wait for a mirror that should exit by itself; stop it by pid (SIGINT, then SIGKILL) if it does not."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    return difftest.Result(out, err, p.returncode)


def _interrupt(p: subprocess.Popen) -> difftest.Result:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    return _finish(p, timeout=15)


def _client(endpoint: str, certs: dict[str, str] | None = None, **kw):
    from etcdctl_py.client import Client, TLSConfig

    tls = None
    if certs is not None:
        tls = TLSConfig(ca_file=certs["ca"], cert_file=certs["client_cert"], key_file=certs["client_key"])
    return Client([endpoint], tls=tls, **kw)


def _count(c, prefix: bytes) -> int:
    from etcdctl_py.client.kv import prefix_end

    return c.kv.range(prefix, prefix_end(prefix), count_only=True).count


def _wait(cond, what: str, timeout: float = 20.0, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def _dump(c, prefix: bytes) -> list[tuple[bytes, bytes, int, int, int]]:
    """Everything a destination holds under prefix, revisions included (twins must agree exactly)."""
    from etcdctl_py.client.kv import prefix_end

    resp = c.kv.range(prefix, prefix_end(prefix))
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) for kv in resp.kvs]


def _same(real: difftest.Result, ours: difftest.Result, ports: tuple[int, ...] = ()) -> None:
    assert ours.rc == real.rc, (real, ours)
    assert ours.stdout == real.stdout, (real, ours)
    assert difftest.mask_stderr(ours.stderr, ports) == difftest.mask_stderr(real.stderr, ports), (real, ours)


# ------------------------------------------------------------------ compaction

@pytest.fixture(scope="module")
def quad(twin_pair, tmp_path_factory, etcd_bin):
    """Sources A/B (twins) and plain destinations X/Y (twins): real etcdctl mirrors A->X, etcdctl-py B->Y."""
    x, y = etcdproc.twins(etcd_bin, etcd_bin, str(tmp_path_factory.mktemp("dests")), token="dest-token")
    yield twin_pair, x, y
    x.stop()
    y.stop()


def _compact_both(pair) -> int:
    revs = []
    for srv in (pair.a, pair.b):
        with _client(srv.endpoint) as c:
            rev = c.kv.range(b"foo").header.revision
            c.kv.compact(rev)
            revs.append(rev)
    assert revs[0] == revs[1], revs  # twins took the same writes
    return revs[0]


@pytest.mark.parametrize("n", [600, 1500], ids=["one-page", "two-pages"])
def test_compacted_between_copy_and_watch(quad, n):
    """The source compacts past the initial copy's revision R while the copy is still being written to the
    destination: the watch from R+1 is refused (compacted), so both exit 1 with etcd's ErrCompacted, after copying
    every key of revision R and nothing later. The destination is paused (SIGSTOP) during the copy, so the
    compaction surely lands before the watch is created."""
    pair, x, y = quad
    pfx = f"cmp{n}/"
    put_both(pair, [(f"{pfx}{i:04d}", f"v{i}") for i in range(n)])
    sides = [([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y)]
    running: list[tuple[subprocess.Popen, etcdproc.EtcdServer]] = []
    try:
        for argv, src, dst in sides:
            running.append((_start([*argv, "--endpoints", src.endpoint, "make-mirror", dst.endpoint,
                                    "--prefix", pfx]), dst))
            with _client(dst.endpoint) as d:
                _wait(lambda: _count(d, pfx.encode()) > 0, f"the first copied key on {dst.endpoint}")
            dst.proc.send_signal(signal.SIGSTOP)
        # both mirrors are stuck in their copy of revision R; the source moves on (R+1, R+2) and compacts at
        # R+2, so a watch from R+1 is refused (a compaction at R+1 would still allow it)
        put_both(pair, [(f"{pfx}late", "after the base revision"), ("elsewhere", "moves the revision on")])
        _compact_both(pair)
    except BaseException:
        for p, dst in running:
            dst.proc.send_signal(signal.SIGCONT)
            _interrupt(p)
        raise
    for _, dst in running:
        dst.proc.send_signal(signal.SIGCONT)
    real, ours = (_finish(p) for p, _ in running)
    _same(real, ours)
    assert (real.rc, real.stdout, real.stderr) == (1, b"", COMPACTED), real
    with _client(x.endpoint) as cx, _client(y.endpoint) as cy:
        got_x, got_y = _dump(cx, pfx.encode()), _dump(cy, pfx.encode())
    assert got_x == got_y and len(got_x) == n, (len(got_x), len(got_y))
    assert f"{pfx}late".encode() not in {k for k, *_ in got_x}



FLOOD, BLOB = 500, 100_000  # 50 MB of events: far more than TCP and gRPC buffers hold between etcd and a client


def _mirrors_watching(quad, prefix: str) -> list[tuple[subprocess.Popen, etcdproc.EtcdServer]]:
    """Both mirrors past their initial copy (a seed key) and applying watch events (a second key)."""
    pair, x, y = quad
    put_both(pair, [(f"{prefix}seed", "s")])
    running = []
    for argv, src, dst in (([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y)):
        running.append((_start([*argv, "--endpoints", src.endpoint, "make-mirror", dst.endpoint,
                                "--prefix", prefix]), dst))
    try:
        for _, dst in running:
            with _client(dst.endpoint) as d:
                _wait(lambda: _count(d, prefix.encode()) == 1, f"the copy on {dst.endpoint}")
        put_both(pair, [(f"{prefix}seed2", "s")])
        for _, dst in running:
            with _client(dst.endpoint) as d:
                _wait(lambda: _count(d, prefix.encode()) == 2, f"the first watch event on {dst.endpoint}")
    except BaseException:
        for p, _ in running:
            _interrupt(p)
        raise
    return running


def _flood_and_compact(pair, prefix: str) -> None:
    blob = "x" * BLOB
    put_both(pair, [(f"{prefix}{i:04d}", blob) for i in range(FLOOD)])
    put_both(pair, [("elsewhere", "one more revision")])
    _compact_both(pair)


def test_compacted_while_the_mirror_lags(quad):
    """A mirror that stops reading its watch (process paused) while the source writes 50 MB and compacts: etcd
    parks the watcher once its send buffers are full, finds it behind the compaction when it can send again, and
    cancels it with the compacted revision. Both exit 1 with ErrCompacted, each having applied an unbroken run of
    the source's history first. How much of the run arrived before the server parked the watcher depends on the
    socket and HTTP/2 window sizes of each client, so the two destinations are compared with the history, not with
    each other."""
    pair, x, y = quad
    running = _mirrors_watching(quad, "lag/")
    try:
        for p, _ in running:
            p.send_signal(signal.SIGSTOP)
        _flood_and_compact(pair, "lag/")
    finally:
        for p, _ in running:
            p.send_signal(signal.SIGCONT)
    real, ours = (_finish(p) for p, _ in running)
    _same(real, ours)
    assert (real.rc, real.stdout, real.stderr) == (1, b"", COMPACTED), real
    blob = b"x" * BLOB
    for dst in (x, y):
        with _client(dst.endpoint) as d:
            got = [(k, v) for k, v, *_ in _dump(d, b"lag/")]
        history = [(f"lag/{i:04d}".encode(), blob) for i in range(FLOOD)]
        applied = [kv for kv in got if kv[0] not in (b"lag/seed", b"lag/seed2")]
        assert len(got) - len(applied) == 2 and applied == history[:len(applied)], (dst.endpoint, len(applied))
        assert len(applied) < FLOOD, (dst.endpoint, "the whole flood arrived: the watcher never lagged")


def test_slow_destination_keeps_the_watch(quad):
    """The destination stalls (paused) while the source writes 50 MB and compacts. Real etcdctl's client keeps
    reading the watch into memory meanwhile, so etcd never sees it lag: once the destination is back it mirrors
    every event and runs on. etcdctl-py reads ahead the same way (it used to leave the backlog on the server and
    die with ErrCompacted here). Both destinations end up identical, revisions included (counted from the first
    mirrored key: the lagging test before leaves the two destinations at different revisions)."""
    pair, x, y = quad
    running = _mirrors_watching(quad, "slow/")
    try:
        for _, dst in running:
            dst.proc.send_signal(signal.SIGSTOP)
        _flood_and_compact(pair, "slow/")
    finally:
        for _, dst in running:
            dst.proc.send_signal(signal.SIGCONT)
    try:
        for _, dst in running:
            with _client(dst.endpoint) as d:
                _wait(lambda: _count(d, b"slow/") == FLOOD + 2, f"the whole flood on {dst.endpoint}", timeout=60,
                      step=0.1)
        time.sleep(0.3)
        assert [p.poll() for p, _ in running] == [None, None]  # both still mirroring
    finally:
        real, ours = (_interrupt(p) for p, _ in running)
    _same(real, ours)
    assert (real.rc, real.stderr) == (-signal.SIGINT, b""), real
    with _client(x.endpoint) as cx, _client(y.endpoint) as cy:
        assert _relative(_dump(cx, b"slow/")) == _relative(_dump(cy, b"slow/"))


def _relative(dump: list[tuple[bytes, bytes, int, int, int]]) -> list[tuple[bytes, bytes, int, int, int]]:
    base = min(c for _, _, c, _, _ in dump)
    return [(k, v, c - base, m - base, ver) for k, v, c, m, ver in dump]


# ------------------------------------------------------------------ TLS destination

PW = "mirror-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate whose CN is no user of the destination
    (so with auth on, the certificate alone grants nothing: --dest-user decides), and a second, unrelated CA."""
    d = str(tmp_path_factory.mktemp("certs"))
    c = tlscerts.make_certs(d, client_cn="mirror-client")
    other = os.path.join(d, "other")
    os.mkdir(other)
    c["other_ca"] = tlscerts.make_certs(other)["ca"]
    return c


def _wait_https(srv: etcdproc.EtcdServer, certs: dict[str, str]) -> None:
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["client_cert"], certs["client_key"])

    def up() -> bool:
        if srv.proc.poll() is not None:
            raise RuntimeError(f"etcd exited with {srv.proc.returncode}: {srv.log()}")
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{srv.client_port}/health", timeout=2, context=ctx) as r:
                return r.status == 200
        except OSError:
            return False

    _wait(up, f"https etcd on {srv.client_port}", step=0.05)


def _tls_twins(etcd_bin: str, base: str, certs: dict[str, str], token: str):
    """Two identical-ID real etcd servers serving only https, with --client-cert-auth."""
    shared_peer = etcdproc.free_port()
    servers = []
    for _ in range(2):
        s = etcdproc.make_server(etcd_bin, base, name="twin", advertise_peer_port=shared_peer, token=token,
                                 extra=["--cert-file", certs["server_cert"], "--key-file", certs["server_key"],
                                        "--trusted-ca-file", certs["ca"], "--client-cert-auth"])
        http = f"http://127.0.0.1:{s.client_port}"
        s.argv = [a.replace(http, f"https://127.0.0.1:{s.client_port}") for a in s.argv]
        servers.append(s.start(wait=False))
    try:
        for s in servers:
            _wait_https(s, certs)
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


@pytest.fixture(scope="module")
def tls_dests(tmp_path_factory, etcd_bin, certs):
    x, y = _tls_twins(etcd_bin, str(tmp_path_factory.mktemp("tlsdests")), certs, "tls-dest")
    yield x, y
    x.stop()
    y.stop()


@pytest.fixture(scope="module")
def auth_dests(tmp_path_factory, etcd_bin, certs):
    """TLS twins with auth enabled: user root (password PW, role root) is the only user."""
    x, y = _tls_twins(etcd_bin, str(tmp_path_factory.mktemp("authdests")), certs, "auth-dest")
    try:
        for s in (x, y):
            with _client(f"https://{s.endpoint}", certs) as c:
                c.auth.user_add("root", PW)
                c.auth.user_grant_role("root", "root")
                c.auth.auth_enable()
    except BaseException:
        x.stop()
        y.stop()
        raise
    yield x, y
    x.stop()
    y.stop()
