"""The client layer as a Python library, against real etcd 3.5.1: KV, failover, deadlines, auth, TLS."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from etcdctl_py.client import AuthenticationFailed, Client, DeadlineExceeded, EtcdError, TLSConfig, prefix_end
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from tests import etcdproc


@pytest.fixture(scope="module")
def server(tmp_path_factory, etcd_bin):
    with etcdproc.scratch_dir(tmp_path_factory, "lib") as scratch:
        srv = etcdproc.make_server(etcd_bin, str(scratch), name="lib")
        srv.start()
        yield srv
        srv.stop()


def test_kv_round_trip(server):
    with Client([server.endpoint]) as c:
        r = c.kv.put(b"/lib/a", b"1")
        assert r.header.revision >= 2
        c.kv.put(b"/lib/b", b"2")
        assert c.kv.get(b"/lib/a") == b"1"
        assert c.kv.get(b"/lib/missing") is None
        resp = c.kv.range(b"/lib/", prefix_end(b"/lib/"))
        assert [kv.key for kv in resp.kvs] == [b"/lib/a", b"/lib/b"]
        assert resp.count == 2
        prev = c.kv.put(b"/lib/a", b"3", prev_kv=True)
        assert prev.prev_kv.value == b"1"
        d = c.kv.delete(b"/lib/", prefix_end(b"/lib/"), prev_kv=True)
        assert d.deleted == 2 and sorted(kv.value for kv in d.prev_kvs) == [b"2", b"3"]


def test_txn_and_compact(server):
    with Client([server.endpoint]) as c:
        c.kv.put(b"t", b"old")
        cmp = rpc_pb2.Compare(key=b"t", target=rpc_pb2.Compare.VALUE, result=rpc_pb2.Compare.EQUAL, value=b"old")
        ok = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"t", value=b"new"))
        r = c.kv.txn([cmp], [ok], [])
        assert r.succeeded and c.kv.get(b"t") == b"new"
        r = c.kv.txn([cmp], [ok], [rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"t"))])
        assert not r.succeeded and r.responses[0].response_range.kvs[0].value == b"new"
        rev = c.kv.range(b"t").header.revision
        c.kv.compact(rev)
        with pytest.raises(EtcdError) as e:
            c.kv.range(b"t", revision=rev - 1)
        assert str(e.value) == "etcdserver: mvcc: required revision has been compacted"
        assert e.value.code_name == "OutOfRange"


def test_status(server):
    with Client([server.endpoint]) as c:
        st = c.maintenance.status()
        assert st.version == "3.5.1" and st.leader == st.header.member_id


def test_failover_skips_dead_endpoint(server):
    with Client(["127.0.0.1:1", server.endpoint], command_timeout=5) as c:
        t0 = time.monotonic()
        c.kv.put(b"fo", b"ok")
        assert c.kv.get(b"fo") == b"ok"
        assert time.monotonic() - t0 < 3


def test_deadline_on_dead_endpoint():
    with Client(["127.0.0.1:1"], command_timeout=0.5) as c:
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceeded) as e:
            c.kv.get(b"x")
        assert 0.4 < time.monotonic() - t0 < 3
        assert str(e.value) == "context deadline exceeded"
        assert "connection refused" in e.value.go_error


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory, etcd_bin, etcdctl_bin):
    """Real etcd with auth on and a 1-second simple-token TTL, so tokens expire during the test."""
    with etcdproc.scratch_dir(tmp_path_factory, "auth") as scratch:
        srv = etcdproc.make_server(
            etcd_bin, str(scratch), name="auth", extra=["--auth-token", "simple", "--auth-token-ttl", "1"]
        )
        srv.start()
        ctl = [etcdctl_bin, "--endpoints", srv.endpoint]
        subprocess.run([*ctl, "user", "add", "root:rootpw"], check=True, capture_output=True)
        subprocess.run([*ctl, "auth", "enable"], check=True, capture_output=True)
        yield srv
        srv.stop()


def test_auth_token_attached_and_refreshed(auth_server):
    with Client([auth_server.endpoint], user="root", password="rootpw") as c:
        c.kv.put(b"secret", b"1")
        time.sleep(2.5)  # the simple token has expired: the client re-authenticates once and retries
        assert c.kv.get(b"secret") == b"1"


def test_auth_failures(auth_server):
    with pytest.raises(AuthenticationFailed) as e:
        Client([auth_server.endpoint], user="root", password="wrong")
    assert str(e.value) == "etcdserver: authentication failed, invalid user ID or password"
    with Client([auth_server.endpoint]) as c, pytest.raises(EtcdError) as e2:
        c.kv.get(b"secret")
    assert str(e2.value) == "etcdserver: user name is empty"


def test_cli_auth_errors_match_etcdctl(auth_server, etcdctl_bin):
    from tests import difftest

    ep = ["--endpoints", auth_server.endpoint]
    for args in (
        ["get", "secret", "--user=root:wrong"],
        ["get", "secret"],
        ["get", "secret", "--user=root:rootpw"],
        ["get", "secret", "--user=root", "--password=rootpw", "-w", "json"],
    ):
        real = difftest.run([etcdctl_bin, *ep, *args])
        mine = difftest.run([*difftest.ETCDCTL_PY, *ep, *args])
        assert (mine.stdout, mine.rc) == (real.stdout, real.rc), args
        assert difftest.mask_stderr(mine.stderr) == difftest.mask_stderr(real.stderr), args


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, etcd_bin):
    from tests import tlscerts

    with etcdproc.scratch_dir(tmp_path_factory, "tls") as scratch:
        d = str(scratch)
        certs = tlscerts.make_certs(d)
        srv = etcdproc.make_https_server(etcd_bin, d, certs, name="tls")
        srv.start(wait=False)
        etcdproc.wait_ready(srv.client_url, srv.proc, context=tlscerts.client_context(certs))
        yield srv, certs
        srv.stop()


def test_tls_client_certificates(tls_server):
    srv, certs = tls_server
    tls = TLSConfig(ca_file=certs["ca"], cert_file=certs["client_cert"], key_file=certs["client_key"])
    with Client([f"https://{srv.endpoint}"], tls=tls) as c:
        c.kv.put(b"tls", b"yes")
        assert c.kv.get(b"tls") == b"yes"
    with Client([srv.endpoint], tls=TLSConfig(ca_file=certs["ca"]), command_timeout=1) as c:
        with pytest.raises(EtcdError):  # no client certificate: the server refuses the handshake
            c.kv.get(b"tls")


def test_tls_cli_matches_etcdctl(tls_server, etcdctl_bin):
    from tests import difftest

    srv, certs = tls_server
    flags = [
        "--endpoints",
        f"https://{srv.endpoint}",
        "--cacert",
        certs["ca"],
        "--cert",
        certs["client_cert"],
        "--key",
        certs["client_key"],
    ]
    for args in (["put", "tlscli", "v"], ["get", "tlscli", "-w", "json"], ["get", "tlscli", "--prefix"]):
        real = difftest.run([etcdctl_bin, *flags, *args])
        mine = difftest.run([*difftest.ETCDCTL_PY, *flags, *args])
        assert (mine.stdout, mine.rc, mine.stderr) == (real.stdout, real.rc, real.stderr), args


def test_tls_failures_print_no_grpc_core_lines(tls_server, etcdctl_bin, tmp_path):
    """A wrong CA or no client certificate: etcdctl prints its zap warning and `Error:` line only; grpc-core's
    own `I... Handshake failed` lines must not reach our stderr (and GRPC_VERBOSITY must not leak into the
    environment of a command we run)."""
    from tests import difftest, tlscerts

    srv, certs = tls_server
    other = tlscerts.make_certs(str(tmp_path))
    ep = ["--endpoints", f"https://{srv.endpoint}", "--command-timeout", "1s"]
    for flags in (
        ["--cacert", other["ca"], "--cert", certs["client_cert"], "--key", certs["client_key"]],
        ["--cacert", certs["ca"]],
    ):
        real = difftest.run([etcdctl_bin, *ep, *flags, "get", "k"])
        mine = difftest.run([*difftest.ETCDCTL_PY, *ep, *flags, "get", "k"])
        assert (mine.rc, mine.stdout) == (real.rc, real.stdout) == (1, b""), flags
        lines = mine.stderr.decode().splitlines()
        assert lines[-1] == real.stderr.decode().splitlines()[-1] == "Error: context deadline exceeded"
        assert all(ln.startswith('{"level":"warn"') for ln in lines[:-1]), lines
    good = ["--cacert", certs["ca"], "--cert", certs["client_cert"], "--key", certs["client_key"]]
    # (other tests run the CLI in this process, which sets the variable here: start from an environment without it)
    clean = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY" and not k.startswith("ETCDCTL_")}
    lock = [*difftest.ETCDCTL_PY, *ep, *good, "lock", "grpclog-lock", "--", "env"]
    r = subprocess.run(lock, env=clean, capture_output=True, timeout=30)
    assert r.returncode == 0 and b"ETCD_LOCK_KEY=" in r.stdout
    assert b"GRPC_VERBOSITY" not in r.stdout
    # a user's own setting is theirs: it reaches the command unchanged
    r = subprocess.run(lock, env={**clean, "GRPC_VERBOSITY": "ERROR"}, capture_output=True, timeout=30)
    assert r.returncode == 0 and b"GRPC_VERBOSITY=ERROR\n" in r.stdout
