"""etcd's accessController on the client port, real etcd 3.5.1 vs etcd-py: --host-whitelist refuses a plain-HTTP
request whose Host is not listed (421, the DNS-rebinding answer), --cors sends the CORS headers only to listed
origins, and an HTTPS request is never checked for its Host."""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Iterator

import pytest

from tests import etcdproc, tlscerts

FLAGS = ["--host-whitelist", "127.0.0.1,alpha", "--cors", "http://beta:8080,https://gamma:443"]


def raw(port: int, head: str, tls: ssl.SSLContext | None = None) -> str:
    """Send one request head (Connection: close) and return the whole answer, its Date masked."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    with sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    text = data.decode("latin-1")
    return re.sub(r"Date: [^\r]*", "Date: D", text)


@pytest.fixture(scope="module")
def ac_twins(server_tmp: str, etcd_py_bin: str) -> Iterator[tuple[etcdproc.EtcdServer, etcdproc.EtcdServer]]:
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, extra=FLAGS, token="ac")
    try:
        yield real, ours
    finally:
        real.stop()
        ours.stop()


CASES = [
    "GET /version HTTP/1.1\r\nHost: 127.0.0.1:2379\r\n",
    "GET /version HTTP/1.1\r\nHost: alpha\r\n",
    "GET /version HTTP/1.1\r\nHost: rebound.attacker:2379\r\n",
    "GET /health HTTP/1.1\r\nHost: [::1]:2379\r\n",
    "GET /version HTTP/1.0\r\n",
    "OPTIONS /v3/kv/range HTTP/1.1\r\nHost: nothere\r\nOrigin: http://beta:8080\r\n",
    "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://beta:8080\r\n",
    "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://gamma:443\r\n",
    "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://beta\r\n",
    "OPTIONS /anything HTTP/1.1\r\nHost: alpha:1\r\nOrigin: http://beta:8080\r\n",
    "POST /v3/kv/range HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://beta:8080\r\nContent-Length: 0\r\n",
    "POST /v3/kv/range HTTP/1.1\r\nHost: evil\r\nContent-Length: 0\r\n",
]


@pytest.mark.parametrize("head", CASES)
def test_host_whitelist_and_cors_like_etcd(ac_twins, head: str) -> None:
    real, ours = ac_twins
    a, b = (raw(s.client_port, head) for s in (real, ours))
    a = re.sub(r'"revision":"\d+"', "", a.replace(str(real.client_port), "PORT"))
    b = re.sub(r'"revision":"\d+"', "", b.replace(str(ours.client_port), "PORT"))
    assert b == a


def test_refused_host_is_a_421_with_etcds_advice(ac_twins) -> None:
    _, ours = ac_twins
    answer = raw(ours.client_port, "GET /version HTTP/1.1\r\nHost: rebound.attacker:2379\r\n")
    assert answer.startswith("HTTP/1.1 421 Misdirected Request\r\n")
    assert 'etcd --host-whitelist "rebound.attacker"' in answer
    assert "Access-Control-Allow-Origin" not in answer


def test_https_requests_skip_the_host_check(server_tmp: str, etcd_py_bin: str) -> None:
    """etcd checks the Host only on plain HTTP: over TLS any Host is served, and CORS still follows --cors."""
    d = os.path.join(server_tmp, "ac-tls")
    os.makedirs(d, exist_ok=True)
    certs = tlscerts.make_certs(d)
    ctx = ssl.create_default_context(cafile=certs["ca"])
    out = []
    for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
        srv = etcdproc.make_https_server(binary, server_tmp, certs, name="ac-tls", client_cert_auth=False, extra=FLAGS)
        srv.start(wait=False)
        try:
            etcdproc.wait_ready(srv.client_url, srv.proc, context=ctx)
            head = "GET /version HTTP/1.1\r\nHost: nothere\r\nOrigin: http://beta:8080\r\n"
            out.append(raw(srv.client_port, head, ctx))
        finally:
            srv.stop()
    assert out[1] == out[0]
    assert out[0].startswith("HTTP/1.1 200 OK") and "Access-Control-Allow-Origin: http://beta:8080" in out[0]
