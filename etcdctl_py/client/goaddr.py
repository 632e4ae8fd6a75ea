"""Go's address rules that decide what etcdctl does with an endpoint or a peer URL.

etcdctl 3.5.1 (Go 1.16) hands endpoints through net/url's Parse, grpc-go's parseDialTarget and net.Dial's
SplitHostPort/LookupPort/ParseIP; users see the results (a path or `user@` ignored, `address ...: missing port in
address` in the client's warning, `URL scheme must be ...` from `member add`). This module reproduces those
functions and their error texts. It never resolves a host name: callers get `is_ip`/`host` and decide.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from etcdctl_py.gofmt import quote as go_quote


class URLError(ValueError):
    """url.Parse's *url.Error: `parse "<url>": <reason>`."""


class AddrError(ValueError):
    """net.AddrError: `address <addr>: <why>` (or just <why> without an address)."""

    def __init__(self, why: str, addr: str):
        super().__init__(f"address {addr}: {why}" if addr else why)


@dataclass
class URL:
    """The parts of Go's url.URL that etcd looks at."""

    scheme: str = ""
    opaque: str = ""
    user: str | None = None  # raw userinfo, None when absent
    host: str = ""
    path: str = ""
    raw_query: str = ""
    fragment: str = ""

    def hostname(self) -> str:
        """url.URL.Hostname(): the host without port and without IPv6 brackets."""
        host = self.host
        colon = host.rfind(":")
        if colon != -1 and _valid_optional_port(host[colon:]):
            host = host[:colon]
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return host


# ---------------------------------------------------------------- net/url

_HEX = "0123456789abcdefABCDEF"
_HOST_OK = set("!$&'()*+,;=:[]<>\"")
_USERINFO_OK = set("-._:~!$&'()*+,;=%@")


def _should_escape_host(c: str) -> bool:
    """shouldEscape(c, encodeHost) for an ASCII character."""
    if c.isascii() and c.isalnum():
        return False
    return c not in _HOST_OK and c not in "-_.~"


def _unescape(s: str, host: bool) -> str:
    """Go's unescape: the %-escape checks (and, for hosts, the character checks); the text is returned as is."""
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise ValueError(f"invalid URL escape {go_quote(s[i:i + 3])}")
            if host and int(s[i + 1], 16) < 8 and s[i:i + 3] != "%25":
                raise ValueError(f"invalid URL escape {go_quote(s[i:i + 3])}")
            i += 3
            continue
        if host and ord(c) < 0x80 and _should_escape_host(c):
            raise ValueError(f"invalid character {go_quote(c)} in host name")
        i += 1
    return s


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= c <= "9" for c in port[1:])


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if "a" <= c <= "z" or "A" <= c <= "Z":
            continue
        if "0" <= c <= "9" or c in "+-.":
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1:]
        return "", raw
    return "", raw


def _parse_host(host: str) -> str:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            raise ValueError("missing ']' in host")
        colon_port = host[i + 1:]
        if not _valid_optional_port(colon_port):
            raise ValueError(f"invalid port {go_quote(colon_port)} after host")
        zone = host[:i].find("%25")
        if zone >= 0:
            _unescape(host[:zone], True)
            _unescape(host[i:], True)
            return host
    else:
        i = host.rfind(":")
        if i != -1:
            colon_port = host[i:]
            if not _valid_optional_port(colon_port):
                raise ValueError(f"invalid port {go_quote(colon_port)} after host")
    return _unescape(host, True)


def _parse_authority(authority: str) -> tuple[str | None, str]:
    i = authority.rfind("@")
    host = _parse_host(authority[i + 1:] if i >= 0 else authority)
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if not all((c.isascii() and c.isalnum()) or c in _USERINFO_OK for c in userinfo):
        raise ValueError("net/url: invalid userinfo")
    for part in userinfo.split(":", 1):
        _unescape(part, False)
    return userinfo, host


def _parse(raw: str) -> URL:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError("net/url: invalid control character in URL")
    u = URL()
    if raw == "*":
        u.path = "*"
        return u
    scheme, rest = _get_scheme(raw)
    u.scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    elif "?" in rest:
        rest, u.raw_query = rest.split("?", 1)
    if not rest.startswith("/"):
        if u.scheme:
            u.opaque = rest
            return u
        colon, slash = rest.find(":"), rest.find("/")
        if colon >= 0 and (slash < 0 or colon < slash):
            raise ValueError("first path segment in URL cannot contain colon")
    if (u.scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, rest = rest[2:], ""
        cut = authority.find("/")
        if cut >= 0:
            authority, rest = authority[:cut], authority[cut:]
        u.user, u.host = _parse_authority(authority)
    u.path = _unescape(rest, False)
    return u


def url_parse(raw: str) -> URL:
    """net/url.Parse; raises URLError with Go's text."""
    u, _, frag = raw.partition("#")
    try:
        url = _parse(u)
    except ValueError as e:
        raise URLError(f"parse {go_quote(u)}: {e}") from None
    if frag:
        try:
            _unescape(frag, False)
        except ValueError as e:
            raise URLError(f"parse {go_quote(raw)}: {e}") from None
        url.fragment = frag
    return url


def new_urls(strs: list[str]) -> list[URL]:
    """etcd's types.NewURLs checks (what clientv3's MemberAdd/MemberUpdate run before sending)."""
    if not strs:
        raise ValueError("no valid URLs given")
    out = []
    for raw in strs:
        s = raw.strip(" \t\n\r\v\f")
        u = url_parse(s)
        if u.scheme not in ("http", "https", "unix", "unixs"):
            raise ValueError(f"URL scheme must be http, https, unix, or unixs: {s}")
        try:
            split_host_port(u.host)
        except AddrError:
            raise ValueError(f'URL address does not have the form "host:port": {s}') from None
        if u.path:
            raise ValueError(f"URL must not contain a path: {s}")
        out.append(u)
    return out


# ---------------------------------------------------------------- net

def split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort; raises AddrError with Go's text."""
    i = hostport.rfind(":")
    if i < 0:
        raise AddrError("missing port in address", hostport)
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise AddrError("missing ']' in address", hostport)
        if end + 1 == len(hostport):
            raise AddrError("missing port in address", hostport)
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise AddrError("too many colons in address", hostport)
            raise AddrError("missing port in address", hostport)
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise AddrError("too many colons in address", hostport)
    if "[" in hostport[j:]:
        raise AddrError("unexpected '[' in address", hostport)
    if "]" in hostport[k:]:
        raise AddrError("unexpected ']' in address", hostport)
    return host, hostport[i + 1:]


def _parse_port(service: str) -> int | None:
    """net.parsePort: the number, or None when the service needs a lookup by name."""
    if service == "":
        return 0
    cutoff, big = 1 << 30, (1 << 32) - 1
    neg = service[0] == "-"
    if service[0] in "+-":
        service = service[1:]
    n = 0
    for c in service:
        if not "0" <= c <= "9":
            return None
        if n >= cutoff:
            n = big
            break
        n = n * 10 + int(c)
        if n > big:
            n = big
            break
    port = cutoff - 1 if not neg and n >= cutoff else cutoff if neg and n > cutoff else n
    return -port if neg else port


_SERVICES: dict[str, int] | None = None


def _services() -> dict[str, int]:
    """Go's readServices for tcp: /etc/services names and aliases (a local file, no network)."""
    global _SERVICES
    if _SERVICES is None:
        _SERVICES = {}
        try:
            with open("/etc/services", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if len(fields) < 2:
                continue
            port, _, proto = fields[1].partition("/")
            if proto != "tcp" or not port.isdigit():
                continue
            for name in [fields[0], *fields[2:]]:
                _SERVICES.setdefault(name, int(port))
    return _SERVICES


def lookup_port(service: str, network: str = "tcp") -> int:
    """net.LookupPort as the pure-Go resolver does it; raises AddrError."""
    port = _parse_port(service)
    if port is None:
        found = _services().get(service.lower()) if len(service) <= 25 else None
        if found is None:
            raise AddrError("unknown port", f"{network}/{service}")
        port = found
    if not 0 <= port <= 65535:
        raise AddrError("invalid port", service)
    return port


def _dtoi(s: str) -> int | None:
    if not s or not all("0" <= c <= "9" for c in s):
        return None
    n = int(s)
    return n if n < 0xFFFFFF else None


def parse_ip(host: str) -> str | None:
    """Go 1.16's net.ParseIP (with an IPv6 zone, as the dialer allows), formatted as IP.String(); None if not an IP."""
    if "." in host and ":" not in host:
        parts = host.split(".")
        if len(parts) != 4:
            return None
        nums = [_dtoi(p) for p in parts]
        if any(n is None or n > 255 for n in nums):
            return None
        return ".".join(str(n) for n in nums)
    if ":" not in host:
        return None
    addr, _, zone = host.partition("%")
    try:
        ip = ipaddress.IPv6Address(addr)
    except ValueError:
        return None
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return ip.compressed + (f"%{zone}" if zone else "")


def join_host_port(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_domain_name(s: str) -> bool:
    """Go's isDomainName: a name the pure-Go resolver would send to DNS (anything else: `no such host` at once)."""
    n = len(s)
    if n == 0 or n > 254 or (n == 254 and s[-1] != "."):
        return False
    last, non_numeric, partlen = ".", False, 0
    for c in s:
        if "a" <= c <= "z" or "A" <= c <= "Z" or c == "_":
            non_numeric = True
            partlen += 1
        elif "0" <= c <= "9":
            partlen += 1
        elif c == "-":
            if last == ".":
                return False
            partlen += 1
            non_numeric = True
        elif c == ".":
            if last in ".-" or partlen > 63 or partlen == 0:
                return False
            partlen = 0
        else:
            return False
        last = c
    return last != "-" and partlen <= 63 and non_numeric


def parse_dial_target(target: str) -> tuple[str, str]:
    """grpc-go's parseDialTarget: (network, address) handed to net.Dial."""
    m1, m2 = target.find(":"), target.find(":/")
    if m1 >= 0 and m2 < 0 and target[:m1] == "unix":
        return "unix", target[m1 + 1:]
    if m2 >= 0:
        try:
            u = url_parse(target)
        except URLError:
            return "tcp", target
        if u.scheme == "unix":
            return "unix", u.path or u.host
    return "tcp", target
