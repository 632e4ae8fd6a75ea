"""etcd's JSON gateway (/v3/...): raw HTTP/1.1 requests to real etcd 3.5.1 and etcd-py twins must get the same
status, headers and body bytes (after masking what differs by nature: ports, Date, database sizes).

Every request goes over a fresh socket to the literal 127.0.0.1; the reply is read until the server closes
(Connection: close), or, for a stream, chunk by chunk."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
from collections.abc import Iterator

import pytest

from tests import etcdproc, tlscerts
from tests.server.servertools import mask

COMPARED = (
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "content-type",
    "grpc-metadata-content-type",
    "content-length",
    "transfer-encoding",
    "x-content-type-options",
    "location",
)


def _mask(body: bytes) -> str:
    text = mask(body.decode("latin-1"))
    return re.sub(r'"(dbSize|dbSizeInUse)":"\d+"', r'"\1":"N"', text)


def _request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def _split(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return lines[0], headers, body


def call(
    port: int,
    path: str,
    body: str | bytes = b"",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> tuple[str, list[tuple[str, str]], str]:
    """One request: (status line, the compared headers in order, masked body)."""
    data = body.encode() if isinstance(body, str) else body
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    with sock:
        sock.sendall(_request(method, path, data, headers or {}))
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status, hdrs, payload = _split(raw)
    return status, [(k, v) for k, v in hdrs if k in COMPARED], _mask(payload)


def same(twins, path: str, body: str | bytes = b"", **kw) -> tuple[str, list[tuple[str, str]], str]:
    real, ours = twins
    a = call(real.client_port, path, body, **kw)
    b = call(ours.client_port, path, body, **kw)
    assert b == a, f"{path} {body!r}\nreal: {a}\nours: {b}"
    return a


@pytest.fixture(scope="module")
def gw_twins(server_tmp: str, etcd_py_bin: str) -> Iterator[tuple[etcdproc.EtcdServer, etcdproc.EtcdServer]]:
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="gw-twins")
    try:
        yield real, ours
    finally:
        real.stop()
        ours.stop()


UNARY = [
    ("/v3/kv/put", '{"key":"Zm9v","value":"YmFy"}'),
    ("/v3/kv/put", '{"key":"Zm9v","value":"YmF6","prev_kv":true}'),
    ("/v3/kv/range", '{"key":"Zm9v"}'),
    ("/v3beta/kv/range", '{"key":"Zm9v","keys_only":true}'),
    ("/v3/kv/range", '{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sort_target":"MOD","limit":"1"}'),
    ("/v3/kv/range", '{"key":"Zm9v","count_only":true,"serializable":true}'),
    (
        "/v3/kv/txn",
        '{"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE","value":"YmF6"}],'
        '"success":[{"request_put":{"key":"Zm9v","value":"dHhu"}},{"request_range":{"key":"Zm9v"}}],'
        '"failure":[{"request_delete_range":{"key":"Zm9v"}}]}',
    ),
    ("/v3/kv/txn", '{"compare":[{"key":"Zm9v","target":"VERSION","version":"99"}],"failure":[{"request_range":{}}]}'),
    ("/v3/kv/deleterange", '{"key":"Zm9v","prev_kv":true}'),
    ("/v3/kv/compaction", '{"revision":"2","physical":true}'),
    ("/v3/kv/compaction", '{"revision":"2"}'),
    ("/v3/kv/range", '{"key":"Zm9v","revision":"1"}'),
    ("/v3/lease/grant", '{"TTL":"60","ID":"4242"}'),
    ("/v3/lease/grant", '{"TTL":60,"ID":4242}'),
    ("/v3/kv/put", '{"key":"bGVhc2Vk","value":"eA==","lease":"4242"}'),
    ("/v3/lease/timetolive", '{"ID":"4242"}'),
    ("/v3/kv/lease/timetolive", '{"ID":"4242","keys":true}'),
    ("/v3/lease/leases", "{}"),
    ("/v3/kv/lease/leases", ""),
    ("/v3/lock/lock", '{"name":"bG9jaw==","lease":"4242"}'),
    ("/v3/lock/unlock", '{"key":"bG9jaw=="}'),
    ("/v3/election/campaign", '{"name":"ZWw=","lease":"4242","value":"djE="}'),
    ("/v3/election/leader", '{"name":"ZWw="}'),
    ("/v3/election/leader", '{"name":"bm9uZQ=="}'),
    ("/v3/lease/revoke", '{"ID":"4242"}'),
    ("/v3/kv/lease/revoke", '{"ID":"4242"}'),
    ("/v3/lease/timetolive", '{"ID":"4242"}'),
    ("/v3/cluster/member/list", "{}"),
    ("/v3/cluster/member/add", '{"peerURLs":["bad"]}'),
    ("/v3/cluster/member/remove", '{"ID":"1"}'),
    ("/v3/cluster/member/update", '{"ID":"1","peerURLs":["http://127.0.0.1:1"]}'),
    ("/v3/cluster/member/promote", '{"ID":"1"}'),
    ("/v3/maintenance/status", "{}"),
    ("/v3/maintenance/alarm", '{"action":"GET"}'),
    ("/v3/maintenance/hash", "{}"),
    ("/v3/maintenance/transfer-leadership", '{"targetID":"1"}'),
    ("/v3/maintenance/downgrade", '{"action":"VALIDATE","version":"3.4"}'),
    ("/v3/auth/status", "{}"),
    ("/v3/auth/user/list", "{}"),
    ("/v3/auth/role/list", "{}"),
    ("/v3/auth/user/get", '{"name":"nobody"}'),
    ("/v3/auth/authenticate", '{"name":"nobody","password":"x"}'),
    ("/v3/auth/enable", "{}"),
]


def test_unary_methods(gw_twins) -> None:
    """Each unary method, with its good requests and the errors the server answers, in the same order."""
    for path, body in UNARY:
        same(gw_twins, path, body)


BAD_BODIES = [
    "",
    "   \n",
    "null",
    '{"key":',
    "{",
    '"x"',
    "[1,2]",
    "5",
    "tru",
    '{"key":"Zm9v"} trailing garbage',
    '{"key":"Zm9v",}',
    '{"key" "Zm9v"}',
    '{"key":"Zm9v" "a"}',
    '{"key":tru}',
    '{"key":"\\x"}',
    '{"key":"\\u12G4"}',
    '{"key":"a\x01"}',
    '{"key":5}',
    '{"key":true}',
    '{"key":{}}',
    '{"key":[1,2,3]}',
    '{"key":[1,2,300]}',
    '{"key":"Zm9v="}',
    '{"key":"Zm9"}',
    '{"key":"Z@9v"}',
    '{"key":"Zm9v","limit":"abc"}',
    '{"key":"Zm9v","limit":"1.5"}',
    '{"key":"Zm9v","limit":1e3}',
    '{"key":"Zm9v","limit":99999999999999999999}',
    '{"key":"Zm9v","limit":""}',
    '{"key":"Zm9v","limit":true}',
    '{"key":"Zm9v","limit":-01}',
    '{"key":"Zm9v","limit":1.}',
    '{"key":"Zm9v","sort_order":"FOO"}',
    '{"key":"Zm9v","sort_order":1}',
    '{"key":"Zm9v","sort_order":"1"}',
    '{"key":"Zm9v","serializable":"true"}',
    '{"key":"Zm9v","rangeEnd":"Zm9w","unknown_field":{"a":[1,2]}}',
    '{"key":"Zm9v","key":"YmFy"}',
    '{"key":null,"limit":null}',
    '{"key":"\\u00e9\\ud800"}',
    "\x7f",
    "\x01",
    '{"key":"Zm9v","sort_order":"\x7fX\u00e9"}',
]


def test_bad_and_odd_bodies(gw_twins) -> None:
    """Malformed JSON, wrong types, unknown fields, empty bodies: encoding/json's and jsonpb's own texts."""
    for body in BAD_BODIES:
        same(gw_twins, "/v3/kv/range", body)
    for body in ('{"compare":{}}', '{"success":[{"request_put":5}]}', '{"success":[null]}', '{"compare":[1]}'):
        same(gw_twins, "/v3/kv/txn", body)
    same(gw_twins, "/v3/lease/grant", '{"TTL":"3000000000","ID":"31"}')
    same(gw_twins, "/v3/lease/revoke", '{"ID":"31"}')
    same(gw_twins, "/v3/auth/role/grant", '{"name":"r","perm":{"permType":"BOGUS"}}')


def test_routing(gw_twins) -> None:
    """Unknown paths, other methods than POST, OPTIONS, the /v3beta alias and HashKV's path shared with Hash."""
    for path in ("/v3/", "/v3/kv", "/v3/kv/range/", "/v3/kv/range:x", "/v3beta/kv/nope", "/v3/maintenance/hash"):
        same(gw_twins, path, "{}")
    for method in ("GET", "PUT", "DELETE", "HEAD", "OPTIONS"):
        same(gw_twins, "/v3/kv/range", "", method=method)
    real, ours = gw_twins
    a, b = call(real.client_port, "/v3", "{}"), call(ours.client_port, "/v3", "{}")
    assert a == b  # 301 to /v3/


def test_metadata_headers(gw_twins) -> None:
    """Grpc-Metadata-* headers reach the server as metadata (hasleader is etcd's leader requirement)."""
    same(gw_twins, "/v3/kv/range", '{"key":"Zm9v"}', headers={"Grpc-Metadata-Hasleader": "true"})
    same(gw_twins, "/v3/kv/range", '{"key":"Zm9v"}', headers={"Accept": "application/json", "User-Agent": "t"})


class Stream:
    """A streaming gateway request: the head, then one JSON line at a time from the chunked body."""

    def __init__(self, port: int, path: str, body: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.sock.sendall(_request("POST", path, body.encode(), headers or {}))
        self.buf = b""
        self.body = b""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, hdrs, _ = _split(head + b"\r\n\r\n")
        self.status = status
        self.headers = [(k, v) for k, v in hdrs if k in COMPARED]
        self.chunked = ("transfer-encoding", "chunked") in hdrs

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the server closed the stream")
        self.buf += data

    def _dechunk(self) -> None:
        while True:
            if not self.chunked:
                self.body += self.buf
                self.buf = b""
                return
            line, sep, rest = self.buf.partition(b"\r\n")
            if not sep:
                return
            size = int(line, 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.buf = rest[size + 2 :]

    def line(self) -> str:
        """The next newline-terminated JSON line, masked."""
        while b"\n" not in self.body:
            self._dechunk()
            if b"\n" in self.body:
                break
            self._more()
        first, _, self.body = self.body.partition(b"\n")
        return _mask(first)

    def close(self) -> None:
        self.sock.close()


def test_watch_stream(gw_twins) -> None:
    """A watch: the created line at once, then each event as its own `{"result":...}` line."""
    real, ours = gw_twins
    lines: dict[int, list[object]] = {}
    for srv in (real, ours):
        s = Stream(srv.client_port, "/v3/watch", '{"create_request":{"key":"d2F0Y2g=","prev_kv":true}}')
        try:
            got: list[object] = [s.status, s.headers, s.line()]
            call(srv.client_port, "/v3/kv/put", '{"key":"d2F0Y2g=","value":"MQ=="}')
            got.append(s.line())
            call(srv.client_port, "/v3/kv/put", '{"key":"d2F0Y2g=","value":"Mg=="}')
            got.append(s.line())
        finally:
            s.close()
        lines[srv.client_port] = got
    assert lines[ours.client_port] == lines[real.client_port]
    last = lines[real.client_port][4]
    assert isinstance(last, str) and json.loads(last)["result"]["events"][0]["prev_kv"]["value"] == "MQ=="


def test_stream_errors_and_keepalive(gw_twins) -> None:
    """A first watch request that does not decode is a plain error (code Unknown); a keep-alive answers per line."""
    for body in ('{"create_request":', "[1]", '{"create_request":{"key":5}}'):
        same(gw_twins, "/v3/watch", body)
    same(gw_twins, "/v3/maintenance/snapshot", '{"x":')
    real, ours = gw_twins
    out = {}
    for srv in (real, ours):
        call(srv.client_port, "/v3/lease/grant", '{"TTL":"60","ID":"77"}')
        s = Stream(srv.client_port, "/v3/lease/keepalive", '{"ID":"77"}\n{"ID":"77"}')
        try:
            out[srv.client_port] = [s.status, s.headers, s.line(), s.line()]
        finally:
            s.close()
    assert out[ours.client_port] == out[real.client_port]


def test_auth(gw_twins) -> None:
    """With auth on: no token, a wrong token and a token without permission get the gRPC errors; the
    Authorization header and Grpc-Metadata-Token carry a token the gateway's authenticate gave."""
    steps = [
        ("/v3/auth/user/add", '{"name":"root","password":"rootpw"}'),
        ("/v3/auth/user/grant", '{"user":"root","role":"root"}'),
        ("/v3/auth/user/add", '{"name":"bob","password":"bobpw"}'),
        ("/v3/auth/role/add", '{"name":"app"}'),
        ("/v3/auth/role/grant", '{"name":"app","perm":{"key":"YXBw","range_end":"YXBx","permType":"READWRITE"}}'),
        ("/v3/auth/user/grant", '{"user":"bob","role":"app"}'),
        ("/v3/auth/enable", "{}"),
        ("/v3/kv/range", '{"key":"YXBw"}'),
        ("/v3/auth/authenticate", '{"name":"bob","password":"wrong"}'),
    ]
    for path, body in steps:
        same(gw_twins, path, body)
    real, ours = gw_twins
    tokens = {}
    for srv in (real, ours):
        _, _, body = call(srv.client_port, "/v3/auth/authenticate", '{"name":"bob","password":"bobpw"}')
        tokens[srv.client_port] = json.loads(body)["token"]
    try:
        for hdr in ({"Authorization": "bogus"}, {"Grpc-Metadata-Token": "bogus"}):
            same(gw_twins, "/v3/kv/range", '{"key":"YXBw"}', headers=hdr)
        for path, body in (
            ("/v3/kv/put", '{"key":"YXBwL2s=","value":"dg=="}'),
            ("/v3/kv/range", '{"key":"YXBwL2s="}'),
            ("/v3/kv/put", '{"key":"b3RoZXI=","value":"dg=="}'),
            ("/v3/auth/user/list", "{}"),
            ("/v3/maintenance/hash", "{}"),
            ("/v3/maintenance/snapshot", "{}"),
        ):
            for header in ("Authorization", "Grpc-Metadata-Token"):
                a = call(real.client_port, path, body, headers={header: tokens[real.client_port]})
                b = call(ours.client_port, path, body, headers={header: tokens[ours.client_port]})
                assert b == a, f"{path} {header}\nreal: {a}\nours: {b}"
    finally:
        for srv in (real, ours):
            _, _, body = call(srv.client_port, "/v3/auth/authenticate", '{"name":"root","password":"rootpw"}')
            call(srv.client_port, "/v3/auth/disable", "{}", headers={"Authorization": json.loads(body)["token"]})
    same(gw_twins, "/v3/auth/status", "{}")


def test_gateway_disabled(server_tmp: str, etcd_py_bin: str) -> None:
    """--enable-grpc-gateway=false: /v3/ paths are etcd's plain 404."""
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, extra=["--enable-grpc-gateway=false"], token="gw-off"
    )
    try:
        for path in ("/v3/kv/range", "/v3beta/kv/range", "/v3", "/v3/watch"):
            status, _, body = same((real, ours), path, '{"key":"Zm9v"}')
            assert status.startswith("HTTP/1.1 404"), (path, status, body)
    finally:
        real.stop()
        ours.stop()


def test_tls_and_client_cert_auth(server_tmp: str, etcd_py_bin: str) -> None:
    """Over TLS on the same port, with --client-cert-auth: served as over plain HTTP; once auth is on, a client
    certificate with a CN is refused for /v3/ (etcd's gateway would not use the CN)."""
    d = os.path.join(server_tmp, "gw-tls")
    os.makedirs(d, exist_ok=True)
    certs = tlscerts.make_certs(d, client_cn="alice")
    shared_peer = etcdproc.free_port()
    servers = []
    try:
        for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
            srv = etcdproc.make_https_server(
                binary, server_tmp, certs, name="gwtls", advertise_peer_port=shared_peer, token="gw-tls"
            )
            srv.start(wait=False)
            servers.append(srv)
        ctx = tlscerts.client_context(certs)
        for srv in servers:
            etcdproc.wait_ready(srv.client_url, srv.proc, context=ctx)
        steps = [
            ("/v3/kv/put", '{"key":"Zm9v","value":"YmFy"}'),
            ("/v3/kv/range", '{"key":"Zm9v"}'),
            ("/v3/auth/user/add", '{"name":"root","password":"rootpw"}'),
            ("/v3/auth/user/grant", '{"user":"root","role":"root"}'),
            ("/v3/auth/enable", "{}"),
        ]
        for path, body in steps:
            same(servers, path, body, tls=ctx)
        for path in ("/v3/kv/range", "/v3beta/auth/status"):
            real, ours = (call(srv.client_port, path, "{}", tls=ctx) for srv in servers)
            assert ours == real  # refused before the CORS headers are added, as etcd does
            assert real[0] == "HTTP/1.1 400 Bad Request" and "CommonName" in real[2]
    finally:
        for srv in servers:
            srv.stop()


def test_limits_and_alarms(gw_twins) -> None:
    """The gRPC request limit and the NOSPACE alarm hold for the gateway as for gRPC: the same errors."""
    real, ours = gw_twins
    big = '{"key":"Ymln","value":"' + "eHh4" * (700 * 1024) + '"}'
    a, b = call(real.client_port, "/v3/kv/put", big), call(ours.client_port, "/v3/kv/put", big)
    assert b == a, f"real: {a}\nours: {b}"
    assert "received message larger than max" in a[2]
    same(gw_twins, "/v3/maintenance/alarm", '{"action":"ACTIVATE","memberID":"0","alarm":"NOSPACE"}')
    try:
        a, b = (call(srv.client_port, "/v3/kv/put", '{"key":"YQ==","value":"Yg=="}') for srv in (real, ours))
        assert b == a, f"real: {a}\nours: {b}"
        assert "database space exceeded" in a[2]
        same(gw_twins, "/v3/kv/range", '{"key":"YQ=="}')
    finally:
        same(gw_twins, "/v3/maintenance/alarm", '{"action":"DEACTIVATE","memberID":"0","alarm":"NOSPACE"}')


def test_snapshot_and_observe_streams(gw_twins) -> None:
    """Server streams: a snapshot's first blob line and an election's observe lines, as etcd streams them."""
    real, ours = gw_twins
    out: dict[int, list[object]] = {}
    for srv in (real, ours):
        snap = Stream(srv.client_port, "/v3/maintenance/snapshot", "{}")
        try:
            first = json.loads(snap.line())["result"]
            got: list[object] = [snap.status, snap.headers, sorted(first), first.get("remaining_bytes") is not None]
        finally:
            snap.close()
        call(srv.client_port, "/v3/lease/grant", '{"TTL":"60","ID":"91"}')
        call(srv.client_port, "/v3/election/campaign", '{"name":"b2Jz","lease":"91","value":"djE="}')
        obs = Stream(srv.client_port, "/v3/election/observe", '{"name":"b2Jz"}')
        try:
            got += [obs.status, obs.headers, obs.line()]
        finally:
            obs.close()
        call(srv.client_port, "/v3/lease/revoke", '{"ID":"91"}')
        out[srv.client_port] = got
    assert out[ours.client_port] == out[real.client_port]
