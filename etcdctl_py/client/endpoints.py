"""Endpoint strings as clientv3 3.5.1 reads them, turned into gRPC targets that never need a resolver.

clientv3 translates each endpoint (`host:port`, `http(s)://host:port[/path]`, `unix(s)://path`, `unix:path`,
anything else as typed) into an address, grpc-go picks the network, and Go's net.Dial parses the address.
Whatever etcdctl would fail to dial shows up here as `dial_error`, Go's own text, so the client can report it
exactly when etcdctl does: as the last connection error once the request's deadline has passed.

A host name is left to grpc's resolver (`dns:///name:port`: getaddrinfo, so /etc/hosts first), as etcdctl leaves it
to Go's; the names Go refuses without a query are refused here with Go's text. The test suite only ever uses
literal IP addresses, so it never makes the machine resolve a name.
"""

from __future__ import annotations

import posixpath
from typing import NamedTuple

from etcdctl_py import goaddr

CREDS_REQUIRE, CREDS_DROP, CREDS_OPTIONAL = "require", "drop", "optional"

# An address that refuses at once: where a channel must exist for an endpoint that can never be dialed.
UNREACHABLE_TARGET = "ipv4:127.0.0.1:0"


class Endpoint(NamedTuple):
    raw: str  # as the user typed it (spaces trimmed, as etcdctl does)
    target: str  # gRPC target: ipv4:/ipv6:/unix:, UNREACHABLE_TARGET when dial_error is set
    authority: str  # clientv3's authority(): what Go shows after `etcd-endpoints://0x.../`
    creds: str  # CREDS_REQUIRE (https, unixs), CREDS_DROP (http) or CREDS_OPTIONAL
    server_name: str  # the name clientv3 verifies a TLS certificate against
    dial_addr: str  # what Go's dial errors name: `tcp 127.0.0.1:2379`, `unix /path`
    dial_error: str  # Go's dial error when this address can never be dialed ("" if it can)
    host: str = ""  # the IP (or, for a name left to the resolver, the name) of a TCP endpoint; "" otherwise
    port: int = 0

    @property
    def secure(self) -> bool:
        return self.creds == CREDS_REQUIRE


def _scheme_creds(scheme: str) -> str:
    return {"https": CREDS_REQUIRE, "unixs": CREDS_REQUIRE, "http": CREDS_DROP}.get(scheme, CREDS_OPTIONAL)


def _host_of_hostport(ep: str) -> str:
    try:
        return goaddr.split_host_port(ep)[0]
    except goaddr.AddrError:
        return ep


def translate(ep: str) -> tuple[str, str, str]:
    """clientv3's translateEndpoint: (address for grpc, TLS server name, credentials requirement)."""
    if ep.startswith(("unix:", "unixs:")):
        if ep.startswith(("unix://", "unixs://")):
            scheme, _, rest = ep.partition("://")
        else:
            scheme, _, rest = ep.partition(":")
        addr = ("unix://" + rest) if ep.startswith(("unix:///", "unixs:///")) else "unix:" + rest
        return addr, _host_of_hostport(_go_path_base(rest)), _scheme_creds(scheme)
    if "://" in ep:
        try:
            u = goaddr.url_parse(ep)
        except goaddr.URLError:
            return ep, _host_of_hostport(ep), CREDS_OPTIONAL
        if u.scheme in ("http", "https"):
            return u.host, u.hostname(), _scheme_creds(u.scheme)
        return ep, u.hostname(), _scheme_creds(u.scheme)
    return ep, _host_of_hostport(ep), CREDS_OPTIONAL


def _go_path_base(p: str) -> str:
    """Go's path.Base: the last element, trailing slashes dropped; "." for empty, "/" for only slashes."""
    if p == "":
        return "."
    p = p.rstrip("/")
    return posixpath.basename(p) if p else "/"


def authority(ep: str) -> str:
    """clientv3's authority(): the part after `://`, or the endpoint less a `unix:`/`unixs:` prefix."""
    head, sep, tail = ep.partition("://")
    if sep:
        return tail
    for prefix in ("unix:", "unixs:"):
        if ep.startswith(prefix):
            return ep[len(prefix) :]
    return ep


def parse_endpoint(raw: str) -> Endpoint:
    ep = raw.strip(" \t\n\r\v\f")
    addr, server_name, creds = translate(ep)
    network, address = goaddr.parse_dial_target(addr)
    base = dict(raw=ep, authority=authority(ep), creds=creds, server_name=server_name)
    if network == "unix":
        return _unix(address, base)
    return _tcp(address, base)


def _unix(path: str, base: dict) -> Endpoint:
    if path == "":
        return Endpoint(target=UNREACHABLE_TARGET, dial_addr="unix", dial_error="dial unix: missing address", **base)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")  # the kernel reads `//x` as `/x`; grpc's unix: target would not
    return Endpoint(target="unix:" + path, dial_addr=f"unix {path}", dial_error="", **base)


def _tcp(address: str, base: dict) -> Endpoint:
    def fail(text: str) -> Endpoint:
        return Endpoint(target=UNREACHABLE_TARGET, dial_addr="tcp", dial_error=text, **base)

    if address == "":
        return fail("dial tcp: missing address")
    try:
        host, service = goaddr.split_host_port(address)
        port = goaddr.lookup_port(service)
    except goaddr.AddrError as e:
        return fail(f"dial tcp: {e}")
    if host == "":
        # Go dials the local system (0.0.0.0, which Linux delivers to the loopback)
        return Endpoint(target=f"ipv4:0.0.0.0:{port}", dial_addr=f"tcp :{port}", dial_error="", **base)
    ip = goaddr.parse_ip(host)
    if ip is None:
        if not goaddr.is_domain_name(host):
            return fail(f"dial tcp: lookup {host}: no such host")  # Go refuses these names without a query
        hostport = goaddr.join_host_port(host, port)
        return Endpoint(
            target=f"dns:///{hostport}", dial_addr=f"tcp {hostport}", dial_error="", host=host, port=port, **base
        )
    hostport = goaddr.join_host_port(ip, port)
    target = f"ipv6:{hostport}" if ":" in ip else f"ipv4:{hostport}"
    return Endpoint(target=target, dial_addr=f"tcp {hostport}", dial_error="", host=ip, port=port, **base)
