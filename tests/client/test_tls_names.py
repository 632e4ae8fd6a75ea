"""A server certificate that does not name the endpoint: etcdctl-py words it as Go 1.16's x509.HostnameError.

Real etcd 3.5.1 serves https with a certificate that names some other address (or no address, or only its Common
Name); real etcdctl 3.5.1 and etcdctl-py, v3 and v2, must fail with the same lines and exit codes.
"""

from __future__ import annotations

import os
import ssl

import pytest

from tests import difftest, etcdproc, tlscerts

CERTS = {
    "other-ip": "IP:127.0.0.2, IP:::1",
    "dns-only": "DNS:etcd.local, DNS:*.etcd.local",
    "cn-only": None,
}


@pytest.fixture(scope="module", params=sorted(CERTS))
def misnamed(request, tmp_path_factory):
    """Real etcd 3.5.1 on https://127.0.0.1:P with a certificate that does not name 127.0.0.1."""
    base = str(tmp_path_factory.mktemp(f"tls-{request.param}"))
    certs = tlscerts.make_certs(base, san=CERTS[request.param])
    srv = etcdproc.make_https_server(etcdproc.distro_bin("etcd"), base, certs, client_cert_auth=False)
    try:
        srv.start(wait=False)
        etcdproc.wait_ready(srv.client_url, srv.proc, context=ssl._create_unverified_context())
        yield request.param, srv, certs
    finally:
        srv.stop()


WANT = {
    "other-ip": "x509: certificate is valid for 127.0.0.2, ::1, not 127.0.0.1",
    "dns-only": "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
    "cn-only": "x509: certificate relies on legacy Common Name field, use SANs or temporarily enable Common Name "
    "matching with GODEBUG=x509ignoreCN=0",
}


def _both(srv: etcdproc.EtcdServer, argv: list[str], env: dict[str, str] | None = None) -> difftest.Result:
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *argv], env=env)
    ours = difftest.run([*difftest.ETCDCTL_PY, *argv], env=env)
    masked = [(r.rc, r.stdout, difftest.mask_stderr(r.stderr, (srv.client_port,))) for r in (real, ours)]
    assert masked[1] == masked[0]
    return real


def test_v3_names_what_the_certificate_is_valid_for(misnamed):
    kind, srv, certs = misnamed
    argv = [f"--endpoints={srv.endpoint}", "--cacert", certs["ca"], "--dial-timeout=1s", "--command-timeout=1s"]
    real = _both(srv, [*argv, "get", "x"])
    assert real.rc == 1 and WANT[kind].encode() in real.stderr


def test_v2_names_what_the_certificate_is_valid_for(misnamed):
    kind, srv, certs = misnamed
    argv = [f"--endpoints={srv.client_url}", "--ca-file", certs["ca"], "ls", "/"]
    real = _both(srv, argv, env={"ETCDCTL_API": "2"})
    assert real.rc == 4 and f"error #0: {WANT[kind]}".encode() in real.stderr


def test_the_unverified_fetch_never_trusts(misnamed):
    """The certificate is read only to word the error: the command still fails, and nothing reaches the server."""
    _, srv, certs = misnamed
    r = difftest.run([*difftest.ETCDCTL_PY, f"--endpoints={srv.endpoint}", "--cacert", certs["ca"], "put", "k", "v"])
    assert r.rc != 0 and r.stdout == b""
    ok = difftest.run(
        [*difftest.ETCDCTL_PY, f"--endpoints={srv.endpoint}", "--insecure-skip-tls-verify", "get", "k"],
        env={"ETCDCTL_INSECURE_TRANSPORT": "false"},
    )
    assert ok.rc == 0 and ok.stdout == b"", ok
    assert os.path.exists(certs["ca"])
