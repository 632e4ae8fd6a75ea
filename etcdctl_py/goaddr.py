"""Go's address rules: net/url's Parse and URL.String, etcd's types.NewURLs, and net's SplitHostPort, LookupPort,
ParseIP, as Go 1.16 (etcd 3.5.1's toolchain) has them, with their error texts.

Users see these results: etcdctl ignores an endpoint's path or `user@`, warns `address ...: missing port in
address`, `member add` says `URL scheme must be ...`; etcd and etcdutl compute member IDs from the canonical
(String()) form of sorted peer URLs. The client, the offline engine and the server all read URLs through here.
It never resolves a host name: callers get `is_ip`/`host` and decide.
"""

from __future__ import annotations

from etcdctl_py.gofmt import quote as go_quote
from etcdctl_py.slotrecord import SlotRecord


class URLError(ValueError):
    """url.Parse's *url.Error: `parse "<url>": <reason>`."""


class AddrError(ValueError):
    """net.AddrError: `address <addr>: <why>` (or just <why> without an address)."""

    def __init__(self, why: str, addr: str):
        super().__init__(f"address {addr}: {why}" if addr else why)


class URL(SlotRecord):
    """The parts of Go's url.URL that etcd looks at.

    A plain class, not a dataclass (dataclasses imports inspect, ~10 ms of a cold `get`), and not a NamedTuple:
    parsing fills it in field by field.
    """

    __slots__ = ("scheme", "opaque", "user", "host", "path", "raw_query", "force_query", "fragment")

    def __init__(
        self,
        scheme: str = "",
        opaque: str = "",
        user: str | None = None,  # raw userinfo, None when absent
        host: str = "",  # as written: %-escapes checked, not decoded (so are user, path and fragment)
        path: str = "",
        raw_query: str = "",
        force_query: bool = False,  # a lone `?` ends the URL
        fragment: str = "",
    ) -> None:
        self.scheme = scheme
        self.opaque = opaque
        self.user = user
        self.host = host
        self.path = path
        self.raw_query = raw_query
        self.force_query = force_query
        self.fragment = fragment

    def hostname(self) -> str:
        """url.URL.Hostname(): the host without port and without IPv6 brackets."""
        host = self.host
        colon = host.rfind(":")
        if colon != -1 and _valid_optional_port(host[colon:]):
            host = host[:colon]
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return host

    def string(self) -> str:
        """url.URL.String(): the canonical form etcd sorts peer URLs by and hashes into member IDs.

        User, host and fragment are decoded and re-escaped as Go does; the path is written as given (the URLs
        etcd keeps, NewURLs', have none).
        """
        out = self.scheme + ":" if self.scheme else ""
        if self.opaque:
            out += self.opaque
        else:
            if self.scheme or self.host or self.user is not None:
                if self.host or self.path or self.user is not None:
                    out += "//"
                if self.user is not None:
                    out += _userinfo_string(self.user) + "@"
                out += _escape(self.host, _ENCODE_HOST)
            if self.path and self.path[0] != "/" and self.host:
                out += "/"
            colon = self.path.find(":")
            if not out and colon > -1 and "/" not in self.path[:colon]:
                out += "./"
            out += self.path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + _escaped_fragment(self.fragment)
        return out


# ---------------------------------------------------------------- net/url

_HEX = b"0123456789abcdefABCDEF"
_HOST_OK = set("!$&'()*+,;=:[]<>\"")
_USERINFO_OK = set("-._:~!$&'()*+,;=%@")


# the encoding modes of Go's shouldEscape/unescape that Parse and String() use
_ENCODE_HOST, _ENCODE_ZONE, _ENCODE_USER_PASSWORD, _ENCODE_FRAGMENT = "host", "zone", "userinfo", "fragment"


def _should_escape(b: int, mode: str) -> bool:
    """Go's shouldEscape for one byte (a zone escapes as a host does)."""
    c = chr(b)
    if b < 0x80 and c.isalnum():
        return False
    if mode == _ENCODE_HOST and c in _HOST_OK:
        return False
    if c in "-_.~":
        return False
    if c in "$&+,/:;=?@":
        if mode == _ENCODE_USER_PASSWORD:
            return c in "@/?:"
        return mode != _ENCODE_FRAGMENT
    return not (mode == _ENCODE_FRAGMENT and c in "!()*")


def _unescape(s: str, mode: str = "") -> str:
    """Go's unescape checks, over the UTF-8 bytes as Go sees them: well-formed %-escapes and, in a host or an IPv6
    zone, Go's character rules. The text is returned as written (callers that need the bytes use _decode).
    """
    b = s.encode("utf-8", "surrogateescape")
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c == 0x25:  # %
            if i + 2 >= n or b[i + 1] not in _HEX or b[i + 2] not in _HEX:
                raise ValueError(f"invalid URL escape {go_quote(b[i : i + 3])}")
            v = int(b[i + 1 : i + 3], 16)
            bad_host = mode == _ENCODE_HOST and v < 0x80
            bad_zone = mode == _ENCODE_ZONE and v != 0x20 and _should_escape(v, _ENCODE_HOST)
            if (bad_host or bad_zone) and b[i : i + 3] != b"%25":
                raise ValueError(f"invalid URL escape {go_quote(b[i : i + 3])}")
            i += 3
            continue
        if mode in (_ENCODE_HOST, _ENCODE_ZONE) and c < 0x80 and _should_escape(c, _ENCODE_HOST):
            raise ValueError(f"invalid character {go_quote(chr(c))} in host name")
        i += 1
    return s


def _decode(s: str) -> bytes:
    """The bytes of %-escaped text whose escapes are already checked (Go's unescape, decoding part)."""
    raw = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:  # %
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _escape(s: str, mode: str) -> str:
    """Go's escape(unescape(s)): decode s, then %-escape (upper-case hex) every byte shouldEscape names."""
    return "".join(f"%{b:02X}" if _should_escape(b, mode) else chr(b) for b in _decode(s))


def _userinfo_string(userinfo: str) -> str:
    """url.Userinfo.String() of userinfo as written: user and password (split at the first `:`) re-escaped."""
    user, colon, password = userinfo.partition(":")
    out = _escape(user, _ENCODE_USER_PASSWORD)
    return out + ":" + _escape(password, _ENCODE_USER_PASSWORD) if colon else out


def _escaped_fragment(fragment: str) -> str:
    """URL.EscapedFragment(): the fragment as written when that is a valid encoding, else re-escaped."""
    valid = all(
        c in "!$&'()*+,;=:@[]%" or (ord(c) < 0x80 and not _should_escape(ord(c), _ENCODE_FRAGMENT)) for c in fragment
    )
    return fragment if valid else _escape(fragment, _ENCODE_FRAGMENT)


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
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _parse_host(host: str) -> str:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            raise ValueError("missing ']' in host")
        colon_port = host[i + 1 :]
        if not _valid_optional_port(colon_port):
            raise ValueError(f"invalid port {go_quote(colon_port)} after host")
        zone = host[:i].find("%25")
        if zone >= 0:
            _unescape(host[:zone], _ENCODE_HOST)
            _unescape(host[zone:i], _ENCODE_ZONE)
            _unescape(host[i:], _ENCODE_HOST)
            return host
    else:
        i = host.rfind(":")
        if i != -1:
            colon_port = host[i:]
            if not _valid_optional_port(colon_port):
                raise ValueError(f"invalid port {go_quote(colon_port)} after host")
    return _unescape(host, _ENCODE_HOST)


def _parse_authority(authority: str) -> tuple[str | None, str]:
    i = authority.rfind("@")
    host = _parse_host(authority[i + 1 :] if i >= 0 else authority)
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if not all((c.isascii() and c.isalnum()) or c in _USERINFO_OK for c in userinfo):
        raise ValueError("net/url: invalid userinfo")
    for part in userinfo.split(":", 1):
        _unescape(part)
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
        rest, u.force_query = rest[:-1], True
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
    u.path = _unescape(rest)
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
            _unescape(frag)
        except ValueError as e:
            raise URLError(f"parse {go_quote(raw)}: {e}") from None
        url.fragment = frag
    return url


def new_urls(strs: list[str]) -> list[URL]:
    """etcd's types.NewURLs: checked and sorted by String() (clientv3's MemberAdd/MemberUpdate run it before sending;
    etcd and etcdutl read --initial-cluster and every other URL list with it). Raises ValueError with etcd's text."""
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
    return sorted(out, key=URL.string)


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
    return host, hostport[i + 1 :]


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
    import ipaddress  # only for an IPv6 literal: keeps start-up lean

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
        return "unix", target[m1 + 1 :]
    if m2 >= 0:
        try:
            u = url_parse(target)
        except URLError:
            return "tcp", target
        if u.scheme == "unix":
            return "unix", u.path or u.host
    return "tcp", target
