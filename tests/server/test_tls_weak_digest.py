"""A CA that signs with SHA-1: etcd 3.5.1 (Go 1.16's crypto/x509) serves it; etcd-py, whose OpenSSL refuses such
signatures from security level 1 on, serves it too, with a warning line naming each weak certificate.

The certificates come from the openssl command as tests/tlscerts.py makes them, with -sha1: the cryptography
package refuses to sign with SHA-1."""

from __future__ import annotations

import os
import ssl
import urllib.request

import pytest

from etcdctl_py.server.frontend import server_ssl_context
from tests import etcdproc, tlscerts
from tests.server.servertools import Ctl


def make_sha1_certs(d: str) -> dict[str, str]:
    """A SHA-1-signed CA, and a server (127.0.0.1) and a client (CN=root) certificate it signed with SHA-1."""
    c = tlscerts.make_certs(d, digest="sha1", ca_cn="sha1 test CA")
    return {"ca": c["ca"], "server": c["server_cert"], "client": c["client_cert"]} | {
        "server_key": c["server_key"],
        "client_key": c["client_key"],
    }


def weak_client_context(certs: dict[str, str]) -> ssl.SSLContext:
    """A client that, like Go 1.16, accepts SHA-1 signatures (OpenSSL's security level 0)."""
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(certs["client"], certs["client_key"])
    return ctx


@pytest.fixture(scope="module")
def sha1_twins(server_tmp, etcd_py_bin):
    d = os.path.join(server_tmp, "sha1-pki")
    os.makedirs(d)
    certs = make_sha1_certs(d)
    shared_peer = etcdproc.free_port()
    servers = []
    for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
        srv = etcdproc.make_server(
            binary,
            server_tmp,
            name="sha1twin",
            advertise_peer_port=shared_peer,
            token="sha1-twins",
            extra=[
                "--cert-file",
                certs["server"],
                "--key-file",
                certs["server_key"],
                "--trusted-ca-file",
                certs["ca"],
                "--client-cert-auth",
                "--log-level",
                "info",
            ],
        )
        srv.argv = [
            a.replace(f"http://127.0.0.1:{srv.client_port}", f"https://127.0.0.1:{srv.client_port}") for a in srv.argv
        ]
        srv.start(wait=False)
        servers.append(srv)
    try:
        for srv in servers:
            etcdproc.wait_ready(f"https://127.0.0.1:{srv.client_port}", srv.proc, context=weak_client_context(certs))
        yield servers, certs
    finally:
        for srv in servers:
            srv.stop()


def test_both_serve_a_sha1_ca(sha1_twins):
    servers, certs = sha1_twins
    for srv in servers:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{srv.client_port}/health", timeout=10, context=weak_client_context(certs)
        ) as r:
            assert r.read() == b'{"health":"true","reason":""}'
    tls = ["--cacert", certs["ca"], "--cert", certs["client"], "--key", certs["client_key"]]
    outs = []
    for srv in servers:
        ctl = Ctl(f"https://127.0.0.1:{srv.client_port}")
        assert ctl(*tls, "put", "k", "v")[0] == 0
        outs.append(ctl(*tls, "get", "k"))
    assert outs[1] == outs[0] == (0, "k\nv\n", "")


def test_warning_names_each_weak_certificate(sha1_twins):
    servers, certs = sha1_twins
    log = servers[1].log()
    for path, subject in ((certs["server"], "CN=127.0.0.1"), (certs["ca"], "CN=sha1 test CA")):
        line = next(ln for ln in log.splitlines() if f'"certificate":"{path}"' in ln)
        assert '"level":"warn"' in line and f'"subject":"{subject}"' in line and '"signature":"sha1"' in line
        assert "re-issue it signed with SHA-256" in line


def test_level_lowered_only_when_needed(server_tmp, sha1_twins):
    """The server context keeps OpenSSL's default security level unless a configured certificate is weak."""
    _, weak = sha1_twins
    d = os.path.join(server_tmp, "sha256-pki")
    os.makedirs(d)
    good = tlscerts.make_certs(d)
    strict = server_ssl_context(good["server_cert"], good["server_key"], good["ca"], True, log_level="error")
    lowered = server_ssl_context(weak["server"], weak["server_key"], weak["ca"], True, log_level="error")
    assert strict.security_level == ssl.create_default_context().security_level > 0
    assert lowered.security_level == 0
