"""make-mirror edge cases through real etcdctl 3.5.1 and etcdctl-py, each on its own twin pair of real etcd 3.5.1
sources and destinations (real etcdctl: source A -> destination X; etcdctl-py: B -> Y):

* compaction: the source compacts the revision the mirror's watch needs -- between the initial copy and the watch
  (one and two pages of keys), or while the mirror process lags -- and both die alike (exit 1, ErrCompacted);
  a stalled destination, on the other hand, must not cost the watch (etcdctl reads ahead; so do we now);
* a TLS destination with client-certificate auth (--dest-cacert/--dest-cert/--dest-key, https:// or bare
  endpoints), the same with auth on (--dest-user/--dest-password and user:password), and what goes wrong: bad TLS
  flags, wrong CA or plain client with a login, refused logins, and destinations etcdctl waits for forever
  (there we assert our own, bounded, behaviour).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests import difftest, etcdproc, tlscerts
from tests.cli.opsdiff import check_masked, put_both

EXTRA = ("max-txn-ops", "until-synced", "checkpoint")
COMPACTED = b"Error: etcdserver: mvcc: required revision has been compacted\n"


# ------------------------------------------------------------------ helpers


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env())


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


def _compact_both(pair) -> int:
    revs = []
    for srv in (pair.a, pair.b):
        with _client(srv.endpoint) as c:
            rev = c.kv.range(b"foo").header.revision
            c.kv.compact(rev)
            revs.append(rev)
    assert revs[0] == revs[1], revs  # twins took the same writes
    return revs[0]


@pytest.mark.parametrize("n", [900, 1500], ids=["one-page", "two-pages"])
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
            running.append(
                (_start([*argv, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--prefix", pfx]), dst)
            )
            with _client(dst.endpoint) as d:
                etcdproc.wait_until(
                    lambda: _count(d, pfx.encode()) > 0, 20, f"the first copied key on {dst.endpoint}", step=0.005
                )
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


def test_no_rev_flag(quad):
    """etcdctl 3.5.1 cannot start a mirror at a chosen revision (3.6's --rev): both refuse the flag alike, so a
    compacted start revision can only come from the source compacting under a running mirror (the tests here)."""
    pair, x, _ = quad
    check_masked(pair, ["make-mirror", "--rev", "2", x.endpoint], extra_flags=EXTRA)


FLOOD, BLOB = 500, 100_000  # 50 MB of events: far more than TCP and gRPC buffers hold between etcd and a client


def _mirrors_watching(quad, prefix: str, *extra: str) -> list[tuple[subprocess.Popen, etcdproc.EtcdServer]]:
    """Both mirrors past their initial copy (a seed key) and applying watch events (a second key)."""
    pair, x, y = quad
    put_both(pair, [(f"{prefix}seed", "s")])
    running = []
    for argv, src, dst in (([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y)):
        running.append(
            (_start([*argv, "--endpoints", src.endpoint, "make-mirror", dst.endpoint, "--prefix", prefix, *extra]), dst)
        )
    try:
        for _, dst in running:
            with _client(dst.endpoint) as d:
                etcdproc.wait_until(
                    lambda: _count(d, prefix.encode()) == 1, 20, f"the copy on {dst.endpoint}", step=0.005
                )
        put_both(pair, [(f"{prefix}seed2", "s")])
        for _, dst in running:
            with _client(dst.endpoint) as d:
                etcdproc.wait_until(
                    lambda: _count(d, prefix.encode()) == 2, 20, f"the first watch event on {dst.endpoint}", step=0.005
                )
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
        assert len(got) - len(applied) == 2 and applied == history[: len(applied)], (dst.endpoint, len(applied))
        assert len(applied) < FLOOD, (dst.endpoint, "the whole flood arrived: the watcher never lagged")


def test_slow_destination_keeps_the_watch(quad):
    """The destination stalls (paused) while the source writes 50 MB and compacts. Real etcdctl's client keeps
    reading the watch into memory meanwhile, so etcd never sees it lag: once the destination is back it mirrors
    every event and runs on. etcdctl-py reads ahead the same way (it used to leave the backlog on the server and
    die with ErrCompacted here). Both destinations end up identical, revisions included (counted from the first
    mirrored key: the lagging test before leaves the two destinations at different revisions)."""
    pair, x, y = quad
    # keepalive (etcdctl's default: ping after 2 s, give up 6 s later) must not be what ends a long stall here
    running = _mirrors_watching(quad, "slow/", "--keepalive-time", "60s", "--keepalive-timeout", "60s")
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
                etcdproc.wait_until(
                    lambda: _count(d, b"slow/") == FLOOD + 2, 60, f"the whole flood on {dst.endpoint}", step=0.1
                )
        time.sleep(0.3)  # deliberate: time for a mirror that would die once caught up to do so
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
def certs(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate whose CN is no user of the destination
    (so with auth on, the certificate alone grants nothing: --dest-user decides), and a second, unrelated CA."""
    with etcdproc.scratch_dir(tmp_path_factory, "certs") as scratch:
        d = str(scratch)
        c = tlscerts.make_certs(d, client_cn="mirror-client")
        other = os.path.join(d, "other")
        os.mkdir(other)
        c["other_ca"] = tlscerts.make_certs(other)["ca"]
        yield c


def _tls_twins(etcd_bin: str, base: str, certs: dict[str, str], token: str):
    """Two identical-ID real etcd servers serving only https, with --client-cert-auth."""
    shared_peer = etcdproc.free_port()
    servers = []
    for _ in range(2):
        s = etcdproc.make_https_server(etcd_bin, base, certs, name="twin", advertise_peer_port=shared_peer, token=token)
        servers.append(s.start(wait=False))
    try:
        for s in servers:
            etcdproc.wait_ready(s.client_url, s.proc, context=tlscerts.client_context(certs))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


@pytest.fixture(scope="module")
def tls_dests(tmp_path_factory, etcd_bin, certs):
    with etcdproc.scratch_dir(tmp_path_factory, "tlsdests") as scratch:
        x, y = _tls_twins(etcd_bin, str(scratch), certs, "tls-dest")
        yield x, y
        x.stop()
        y.stop()


@pytest.fixture(scope="module")
def auth_dests(tmp_path_factory, etcd_bin, certs):
    """TLS twins with auth enabled: user root (password PW, role root) is the only user."""
    with etcdproc.scratch_dir(tmp_path_factory, "authdests") as scratch:
        x, y = _tls_twins(etcd_bin, str(scratch), certs, "auth-dest")
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


def _tls_args(certs: dict[str, str], ca: str = "ca") -> list[str]:
    return ["--dest-cacert", certs[ca], "--dest-cert", certs["client_cert"], "--dest-key", certs["client_key"]]


def _dest_client(srv: etcdproc.EtcdServer, certs: dict[str, str], auth: bool):
    return _client(f"https://{srv.endpoint}", certs, **({"user": "root", "password": PW} if auth else {}))


def _mirror_into(
    pair, dests, certs: dict[str, str], prefix: str, args: list[str], *, auth: bool = False, scheme: str = "https://"
) -> None:
    """Both mirrors copy three keys and follow two more writes into TLS destinations; then SIGINT. Same exit,
    output and destination contents (revisions included)."""
    x, y = dests
    put_both(pair, [(f"{prefix}{i}", f"value {i}") for i in range(3)])
    running = [
        _start(
            [*argv, "--endpoints", src.endpoint, "make-mirror", f"{scheme}{dst.endpoint}", "--prefix", prefix, *args]
        )
        for argv, src, dst in (([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y))
    ]
    try:
        for dst in dests:
            with _dest_client(dst, certs, auth) as d:
                etcdproc.wait_until(
                    lambda: _count(d, prefix.encode()) == 3, 20, f"the copy on {dst.endpoint}", step=0.02
                )
        put_both(pair, [(f"{prefix}late", "L"), (f"{prefix}0", "changed")])
        for dst in dests:
            with _dest_client(dst, certs, auth) as d:
                etcdproc.wait_until(
                    lambda: (
                        d.kv.get(f"{prefix}late".encode()) == b"L" and d.kv.get(f"{prefix}0".encode()) == b"changed"
                    ),
                    20,
                    f"the updates on {dst.endpoint}",
                    step=0.02,
                )
    finally:
        real, ours = (_interrupt(p) for p in running)
    _same(real, ours)
    assert (real.rc, real.stdout, real.stderr) == (-signal.SIGINT, b"", b""), real
    with _dest_client(x, certs, auth) as cx, _dest_client(y, certs, auth) as cy:
        got = _dump(cx, prefix.encode())
        assert got == _dump(cy, prefix.encode()) and len(got) == 4


@pytest.mark.parametrize(
    "scheme,extra",
    [
        ("https://", ["--dest-insecure-transport=false"]),
        ("", ["--dest-insecure-transport=false"]),  # no scheme: the TLS flags alone decide
        ("", []),  # --dest-insecure-transport keeps its default (true): given certificates still mean TLS
    ],
    ids=["https", "no-scheme", "insecure-transport-default"],
)
def test_tls_destination(quad, tls_dests, certs, scheme, extra):
    pfx = f"tls-{len(scheme)}-{len(extra)}/"
    _mirror_into(quad[0], tls_dests, certs, pfx, [*_tls_args(certs), *extra], scheme=scheme)


@pytest.mark.parametrize(
    "user",
    [["--dest-user", "root", "--dest-password", PW], ["--dest-user", f"root:{PW}"]],
    ids=["dest-password", "user-colon-password"],
)
def test_tls_destination_with_auth(quad, auth_dests, certs, user):
    pfx = f"auth-{len(user)}/"
    _mirror_into(
        quad[0], auth_dests, certs, pfx, [*_tls_args(certs), "--dest-insecure-transport=false", *user], auth=True
    )


def _run_both(pair, dests, args_for, *, timeout: float = 20) -> tuple[difftest.Result, difftest.Result]:
    """Both make-mirrors, started together; args_for(dest) gives each side's arguments after `make-mirror`."""
    x, y = dests
    procs = [
        _start([*argv, "--endpoints", src.endpoint, "make-mirror", *args_for(dst)])
        for argv, src, dst in (([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y))
    ]
    return _finish(procs[0], timeout), _finish(procs[1], timeout)


@pytest.mark.parametrize("which", ["missing-key-file", "cert-without-key", "key-without-cert"])
def test_tls_flag_errors(quad, tls_dests, certs, which):
    """Bad TLS flags end both before any connection: exit 128 and Go's TLSInfo message."""
    args = {
        "missing-key-file": [
            "--dest-cacert",
            certs["ca"],
            "--dest-cert",
            certs["client_cert"],
            "--dest-key",
            os.path.join(os.path.dirname(certs["ca"]), "no-such.key"),
        ],
        "cert-without-key": ["--dest-cacert", certs["ca"], "--dest-cert", certs["client_cert"]],
        "key-without-cert": ["--dest-key", certs["client_key"]],
    }[which]
    real, ours = _run_both(quad[0], tls_dests, lambda d: [f"https://{d.endpoint}", *args], timeout=10)
    _same(real, ours)
    assert real.rc == 128 and real.stderr.startswith(b"Error: ") and real.stderr.count(b"\n") == 1, real


def _warn_and_error(r: difftest.Result, ports: tuple[int, ...]) -> tuple[dict, bytes]:
    """The client's JSON warn line (timestamp, pointer, port masked; the gRPC error cut after its code, since Go's
    and grpcio's transport texts differ) and the Error line."""
    import json

    lines = difftest.mask_stderr(r.stderr, ports).split(b"\n")
    assert len(lines) == 3 and lines[2] == b"", r
    warn = json.loads(lines[0])
    warn["error"] = warn["error"].split(" desc = ")[0]
    return warn, lines[1]


@pytest.mark.parametrize("which", ["wrong-ca", "plain-client"])
def test_tls_unreachable_with_login(quad, auth_dests, certs, which):
    """With --dest-user, etcdctl logs in while it builds the client, bounded by --dial-timeout: a destination it
    cannot talk TLS to ends it with exit 2, a warn line and `Error: context deadline exceeded`."""
    args = {"wrong-ca": _tls_args(certs, "other_ca"), "plain-client": []}[which]
    scheme = "https://" if args else ""
    real, ours = _run_both(
        quad[0],
        auth_dests,
        lambda d: [f"{scheme}{d.endpoint}", "--dest-user", f"root:{PW}", "--dial-timeout", "1s", *args],
    )
    ports = tuple(d.client_port for d in auth_dests)
    assert _warn_and_error(ours, ports) == _warn_and_error(real, ports), (real, ours)
    assert (ours.rc, ours.stdout) == (real.rc, real.stdout) == (2, b""), (real, ours)
    assert real.stderr.endswith(b"\nError: context deadline exceeded\n"), real


@pytest.mark.parametrize("which", ["bad-password", "unknown-user", "no-user"])
def test_tls_auth_refused(quad, auth_dests, certs, which):
    """The destination answers but refuses: a bad login ends both at once (exit 2); without --dest-user the client
    certificate's CN (no user there) may not write, so the first copied key fails (exit 1, permission denied)."""
    user = {
        "bad-password": ["--dest-user", "root:wrong"],
        "unknown-user": ["--dest-user", "ghost", "--dest-password", PW],
        "no-user": [],
    }[which]
    pair = quad[0]
    put_both(pair, [("refused/k", "v")])
    real, ours = _run_both(
        pair, auth_dests, lambda d: [f"https://{d.endpoint}", "--prefix", "refused/", *_tls_args(certs), *user]
    )
    _same(real, ours, tuple(d.client_port for d in auth_dests))
    want = (
        b"Error: etcdserver: permission denied\n"
        if which == "no-user"
        else b"Error: etcdserver: authentication failed, invalid user ID or password\n"
    )
    assert (real.rc, real.stdout) == (1 if which == "no-user" else 2, b"") and real.stderr.endswith(want), real


@pytest.mark.parametrize(
    "which", ["wrong-ca", "no-client-cert", "plain-client", "https-without-ca", "destination-down"]
)
def test_unreachable_destination(quad, tls_dests, certs, which):
    """Without --dest-user, real etcdctl 3.5.1 never checks the destination: its first Put waits for a connection
    that cannot come, forever and silently (checked here for dial-timeout + 1.5 s, then it is interrupted).
    etcdctl-py instead gives the destination --dial-timeout to answer, then ends the way etcdctl does when its login
    cannot connect (exit 2, the client's warn line, `Error: context deadline exceeded`)."""
    args = {
        "wrong-ca": _tls_args(certs, "other_ca"),
        "no-client-cert": ["--dest-cacert", certs["ca"]],
        "plain-client": [],
        "https-without-ca": [],
        "destination-down": [],
    }[which]
    scheme = "https://" if which in ("wrong-ca", "no-client-cert", "https-without-ca") else ""
    down = f"127.0.0.1:{etcdproc.free_port()}"
    pair, (x, y) = quad[0], tls_dests
    put_both(pair, [("unreached/k", "v")])
    procs = []
    for argv, src, dst in (([pair.etcdctl], pair.a, x), (difftest.ETCDCTL_PY, pair.b, y)):
        target = down if which == "destination-down" else f"{scheme}{dst.endpoint}"
        procs.append(
            _start(
                [
                    *argv,
                    "--endpoints",
                    src.endpoint,
                    "make-mirror",
                    target,
                    "--prefix",
                    "unreached/",
                    "--dial-timeout",
                    "1s",
                    *args,
                ]
            )
        )
    t0 = time.monotonic()
    ours = _finish(procs[1], timeout=10)
    took = time.monotonic() - t0
    time.sleep(max(0.0, 2.5 - took))  # deliberate: real etcdctl must still be waiting well after its 1 s dial timeout
    still_waiting = procs[0].poll() is None
    real = _interrupt(procs[0])
    assert still_waiting and (real.rc, real.stdout, real.stderr) == (-signal.SIGINT, b"", b""), real
    assert ours.rc == 2 and ours.stdout == b"" and took < 6, (ours, took)
    warn, error = _warn_and_error(ours, (y.client_port, int(down.split(":")[1])))
    assert error == b"Error: context deadline exceeded", ours
    assert warn["msg"] == "retrying of unary invoker failed" and warn["error"] == "rpc error: code = DeadlineExceeded"
    for dst in (x, y):
        with _dest_client(dst, certs, False) as d:
            assert _count(d, b"unreached/") == 0
