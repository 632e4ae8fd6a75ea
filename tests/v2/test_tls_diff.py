"""ETCDCTL_API=2 over TLS: real etcdctl 3.5.1 vs etcdctl-py against real etcd 3.5.1 `--enable-v2` twins
serving https with client-certificate auth, and real etcdctl against etcd-py vs real etcd (same TLS
setup): identical stdout, stderr and exit codes, including a missing CA and a missing client cert."""

from __future__ import annotations

import os

import pytest

from tests import etcdproc, tlscerts
from tests.v2.v2tools import TLS_CONTEXTS, Pair, Side, mask, py_argv, real_argv, run


def _tls_twins(bin_a: str, bin_b: str, base: str, certs: dict):
    """Two identical-ID servers listening with https and --client-cert-auth."""
    shared_peer = etcdproc.free_port()
    servers = []
    for binary in (bin_a, bin_b):
        s = etcdproc.make_https_server(
            binary, base, certs, name="twin", advertise_peer_port=shared_peer, token="tls-token", extra=["--enable-v2"]
        )
        s.start(wait=False)
        servers.append(s)
    for s in servers:
        etcdproc.wait_ready(s.client_url, s.proc, timeout=30, context=tlscerts.client_context(certs))
    return servers


class TlsSide(Side):
    """A Side whose endpoint is https and whose URL mask covers the https form."""

    def run(self, args, stdin="", env=None, endpoint=True):  # type: ignore[override]
        pre = [f"--endpoints={self.url}"] if endpoint else []
        r = run(self.argv, pre + args, stdin, env)
        for text in ("out", "err"):
            setattr(r, text, mask(getattr(r, text), self.url))
        return r


@pytest.fixture(scope="module")
def certs(workdir):
    d = os.path.join(workdir, "certs")
    os.makedirs(d)
    return tlscerts.make_certs(d)


def _flags(certs: dict, which: str = "all") -> list[str]:
    out = []
    if which in ("all", "ca"):
        out += ["--ca-file", certs["ca"]]
    if which in ("all", "cert"):
        out += ["--cert-file", certs["client_cert"], "--key-file", certs["client_key"]]
    return out


@pytest.fixture(scope="module")
def tls_cli_pair(workdir, certs):
    etcd = etcdproc.distro_bin("etcd")
    a, b = _tls_twins(etcd, etcd, workdir, certs)
    yield Pair(
        TlsSide(real_argv(), f"https://127.0.0.1:{a.client_port}"),
        TlsSide(py_argv(), f"https://127.0.0.1:{b.client_port}"),
    )
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def tls_server_pair(workdir, certs):
    a, b = _tls_twins(etcdproc.distro_bin("etcd"), etcdproc.etcd_py_wrapper(workdir), workdir, certs)
    urls = [f"https://127.0.0.1:{a.client_port}", f"https://127.0.0.1:{b.client_port}"]
    for url in urls:
        TLS_CONTEXTS[url] = tlscerts.client_context(certs)
    yield Pair(TlsSide(real_argv(), urls[0]), TlsSide(real_argv(), urls[1]))
    for url in urls:
        TLS_CONTEXTS.pop(url, None)
    a.stop()
    b.stop()


STEPS = [
    ["set", "/t/a", "1"],
    ["-o", "json", "set", "/t/b", "2"],
    ["-o", "extended", "get", "/t/a"],
    ["ls", "--sort", "-r", "/"],
    ["-o", "json", "get", "/t"],
    ["mk", "/t/a", "x"],
    ["rm", "/t/nope"],
    ["member", "list"],
    ["cluster-health"],
    ["--debug", "get", "/t/a"],
    ["--no-sync", "get", "/t/b"],
    ["user", "list"],
]


@pytest.mark.parametrize("args", STEPS, ids=lambda a: " ".join(a))
def test_tls_cli_same(tls_cli_pair, certs, args):
    r = tls_cli_pair.same(_flags(certs) + args)
    assert r.rc in (0, 1, 4)


@pytest.mark.parametrize("which", ["ca", "cert", "none"])
def test_tls_cli_missing_material(tls_cli_pair, certs, which):
    r = tls_cli_pair.same(_flags(certs, which) + ["get", "/t/a"])
    assert r.rc != 0


@pytest.mark.parametrize("args", STEPS, ids=lambda a: " ".join(a))
def test_tls_server_same(tls_server_pair, certs, args):
    tls_server_pair.same(_flags(certs) + args)


def test_tls_server_watch(tls_server_pair, certs):
    r = tls_server_pair.watch_same(_flags(certs) + ["watch", "/t/w"], [_flags(certs) + ["set", "/t/w", "w"]])
    assert r.out == "w\n"


@pytest.mark.parametrize("which", ["cert", "none"])
def test_tls_server_missing_material(tls_server_pair, certs, which):
    r = tls_server_pair.same(_flags(certs, which) + ["get", "/t/a"])
    assert r.rc == 4 and "x509: certificate signed by unknown authority" in r.err


def test_tls_server_no_client_cert_known_difference(tls_server_pair, certs):
    """Known etcd-py front-listener gap (not v2-specific): without a client certificate real etcd sends the
    TLS alert `bad certificate`; etcd-py's asyncio TLS listener closes without an alert, so Go reports EOF."""
    real, ours = tls_server_pair.both(_flags(certs, "ca") + ["get", "/t/a"])
    assert real.rc == ours.rc == 4
    assert "error #0: remote error: tls: bad certificate" in real.err
    assert ours.err == real.err.replace("remote error: tls: bad certificate", "EOF")


CERT_AUTH_STEPS = [
    ["user", "add", "root:rootpw"],
    ["auth", "enable"],
    ["role", "revoke", "--path", "/*", "--write", "guest"],
    ["user", "list"],
    ["set", "/t/cn", "by-cert"],
    ["-o", "extended", "get", "/t/cn"],
    ["-u", "root:wrong", "user", "list"],
    ["-u", "root:wrong", "set", "/t/cn", "x"],
    ["-u", "root:rootpw", "role", "get", "guest"],
    ["auth", "disable"],
    ["user", "remove", "root"],
]


@pytest.mark.parametrize("args", CERT_AUTH_STEPS, ids=lambda a: " ".join(a))
def test_tls_server_v2_auth_by_client_cert(tls_server_pair, certs, args):
    """With --client-cert-auth and no basic auth, the client certificate's CN ("root") is the v2 user."""
    r = tls_server_pair.same(_flags(certs) + args)
    assert (r.rc != 0) == ("root:wrong" in args), r.err
