"""Auth state survives restarts and migrations: etcd-py replays auth entries after kill -9, real etcd
3.5.1 serves the users/roles/permissions that etcd-py stored (bcrypt hashes in etcd's buckets),
and tokens behave like etcd's simple tokens (unknown token, TTL expiry) on both servers."""

from __future__ import annotations

import time

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc
from tests.server.servertools import Ctl

ROOT = "--user=root:rootpw"
ALICE = "--user=alice:alicepw"


def _setup_auth(ctl: Ctl) -> None:
    for args in (
        ["user", "add", "root:rootpw"],
        ["user", "add", "alice:alicepw"],
        ["role", "add", "app"],
        ["role", "grant-permission", "app", "readwrite", "app/", "--prefix"],
        ["user", "grant-role", "alice", "app"],
        ["auth", "enable"],
    ):
        rc, out, err = ctl(*args)
        assert rc == 0, (args, err)
    assert ctl("put", "app/k", "v1", ALICE)[0] == 0


def _observe(ctl: Ctl) -> list:
    return [
        ctl("get", "app/k", ALICE),
        ctl("get", "other", ALICE)[0],
        ctl("get", "app/k", "--user=alice:bad")[0],
        ctl("auth", "status", ROOT)[1],
        ctl("role", "get", "app", ROOT)[1],
        ctl("user", "list", ROOT)[1],
    ]


def test_auth_replayed_after_kill9(tmp_path, etcd_py_bin):
    ours = etcdproc.make_server(etcd_py_bin, str(tmp_path), name="akill")
    ours.start()
    try:
        ctl = Ctl(ours.endpoint)
        _setup_auth(ctl)
        before = _observe(ctl)
        ours.kill()
        ours.start()
        after = _observe(Ctl(ours.endpoint))
        assert after == before
        assert before[0][1] == "app/k\nv1\n" and before[1] == 1 and before[2] == 2
        assert "Authentication Status: true" in before[3]
    finally:
        ours.stop()


def test_real_etcd_serves_etcd_py_users(tmp_path, etcd_py_bin):
    ours = etcdproc.make_server(etcd_py_bin, str(tmp_path), name="amig")
    ours.start()
    ctl = Ctl(ours.endpoint)
    _setup_auth(ctl)
    want = _observe(ctl)
    ours.stop()
    real = etcdproc.EtcdServer(
        name="amig",
        data_dir=ours.data_dir,
        client_port=ours.client_port,
        peer_port=ours.peer_port,
        argv=[etcdproc.distro_bin("etcd"), *ours.argv[1:]],
        log_path=str(tmp_path / "real-amig.log"),
    )
    real.start()
    try:
        rctl = Ctl(real.endpoint)
        got = _observe(rctl)
        # real etcd applied no new auth entries: same revision, same users, same answers
        assert got == want
        assert rctl("put", "app/k2", "x", ALICE)[0] == 0
        rc, _, err = rctl("put", "nope", "x", ALICE)
        assert rc == 1 and "permission denied" in err
    finally:
        real.stop()


def test_etcd_py_serves_real_etcd_users(tmp_path, etcd_py_bin):
    real = etcdproc.make_server(etcdproc.distro_bin("etcd"), str(tmp_path), name="arev")
    real.start()
    ctl = Ctl(real.endpoint)
    _setup_auth(ctl)
    want = _observe(ctl)
    real.stop()
    ours = etcdproc.EtcdServer(
        name="arev",
        data_dir=real.data_dir,
        client_port=real.client_port,
        peer_port=real.peer_port,
        argv=[etcd_py_bin, *real.argv[1:]],
        log_path=str(tmp_path / "ours-arev.log"),
    )
    ours.start()
    try:
        assert _observe(Ctl(ours.endpoint)) == want
    finally:
        ours.stop()


@pytest.fixture(scope="module")
def ttl_twins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="ttl-twins", extra=["--auth-token-ttl", "2"]
    )
    for srv in (real, ours):
        _setup_auth(Ctl(srv.endpoint))
    yield real, ours
    real.stop()
    ours.stop()


def _call(endpoint: str, fn, *, token: str | None = None):
    with grpc.insecure_channel(endpoint) as ch:
        md = [("token", token)] if token is not None else None
        try:
            return "ok", fn(ch, md)
        except grpc.RpcError as e:
            return e.code().name, e.details()


def _auth(ch, md):
    return pbg.AuthStub(ch).Authenticate(pb.AuthenticateRequest(name="alice", password="alicepw")).token


def _get(ch, md):
    return len(pbg.KVStub(ch).Range(pb.RangeRequest(key=b"app/k"), metadata=md).kvs)


def test_tokens_like_etcd(ttl_twins):
    results = []
    for srv in ttl_twins:
        ep = srv.endpoint
        st, token = _call(ep, _auth)
        assert st == "ok"
        prefix, index = token.split(".")
        assert len(prefix) == 16 and prefix.isalpha() and index.isdigit()
        row = [
            _call(ep, _get, token=token),
            _call(ep, _get, token="bogus"),
            _call(ep, _get, token="x.1"),
            _call(ep, _get, token="{}.{}".format("A" * 16, index)),
            _call(ep, _get),
        ]
        time.sleep(1.2)  # deliberate (this and the next two): the token's TTL runs
        row.append(_call(ep, _get, token=token))  # used within the TTL: renewed
        time.sleep(1.2)
        row.append(_call(ep, _get, token=token))
        time.sleep(3.5)
        row.append(_call(ep, _get, token=token))  # idle longer than --auth-token-ttl: gone
        st, t2 = _call(ep, _auth)
        row.append(
            _call(
                ep,
                lambda ch, md: (
                    pbg.AuthStub(ch)
                    .UserChangePassword(pb.AuthUserChangePasswordRequest(name="alice", password="alicepw"), metadata=md)
                    .header.member_id
                    > 0
                ),
                token=_call(
                    ep,
                    lambda ch, md: (
                        pbg.AuthStub(ch).Authenticate(pb.AuthenticateRequest(name="root", password="rootpw")).token
                    ),
                )[1],
            )
        )
        row.append(_call(ep, _get, token=t2))  # a password change kills the user's tokens
        results.append(row)
    assert results[0] == results[1]
    assert results[0][0] == ("ok", 1)
    assert results[0][1] == ("UNAUTHENTICATED", "etcdserver: invalid auth token")
    assert results[0][7] == ("UNAUTHENTICATED", "etcdserver: invalid auth token")
    assert results[0][9] == ("UNAUTHENTICATED", "etcdserver: invalid auth token")
