"""--client-cert-auth: the verified client certificate's CN is the user, as in etcd 3.5.1.

Real etcd and etcd-py run as TLS twins; the real etcdctl presents a certificate with CN=alice
and no --user, so every permission decision rests on the CN alone."""

from __future__ import annotations

import os

import pytest

from tests import etcdproc, tlscerts
from tests.server.servertools import Ctl, mask


@pytest.fixture(scope="module")
def tls_twins(server_tmp, etcd_py_bin):
    d = os.path.join(server_tmp, "tls-auth")
    os.makedirs(d, exist_ok=True)
    certs = tlscerts.make_certs(d, client_cn="alice")
    shared_peer = etcdproc.free_port()
    servers = []
    for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
        srv = etcdproc.make_https_server(
            binary, server_tmp, certs, name="tlstwin", advertise_peer_port=shared_peer, token="tls-twins"
        )
        srv.start(wait=False)
        servers.append(srv)
    for srv in servers:
        etcdproc.wait_ready(srv.client_url, srv.proc, context=tlscerts.client_context(certs))
    yield servers, certs
    for srv in servers:
        srv.stop()


def test_cn_is_the_user(tls_twins):
    servers, certs = tls_twins
    tls = ["--cacert", certs["ca"], "--cert", certs["client_cert"], "--key", certs["client_key"]]
    root = "--user=root:rootpw"
    steps = [
        ["user", "add", "root:rootpw"],
        ["user", "add", "alice:alicepw"],
        ["role", "add", "app"],
        ["role", "grant-permission", "app", "readwrite", "app/", "--prefix"],
        ["user", "grant-role", "alice", "app"],
        ["auth", "enable"],
        ["put", "app/k", "v"],
        ["get", "app/k"],
        ["get", "other"],
        ["put", "other", "x"],
        ["user", "list"],
        ["auth", "status"],
        ["user", "get", "alice"],
        ["endpoint", "hashkv"],
        ["role", "get", "app"],
        ["user", "list", root],
        ["user", "revoke-role", "alice", "app", root],
        ["get", "app/k"],
        ["auth", "disable", root],
        ["get", "other"],
    ]
    outs = []
    for srv in servers:
        ctl = Ctl(f"https://127.0.0.1:{srv.client_port}")
        outs.append([tuple(mask(x) if isinstance(x, str) else x for x in ctl(*s, *tls)) for s in steps])
    for i, s in enumerate(steps):
        assert outs[1][i] == outs[0][i], (s, outs[0][i], outs[1][i])
    assert outs[0][7][1] == "app/k\nv\n"
    assert "permission denied" in outs[0][8][2] and "permission denied" in outs[0][17][2]
