"""Cluster membership as etcd derives it from --initial-cluster: URL parsing, member and cluster IDs, member JSON.

Restore must produce exactly etcd's IDs (sha1 of sorted peer URLs + token; cluster = sha1 of the sorted member IDs)
and exactly etcd's JSON bytes (Go's encoding/json escaping), so the data dir is indistinguishable from etcdutl's.
Nothing here resolves host names: URLs are compared as strings (etcd would resolve DNS names; localhost and IP
literals it compares literally too).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from etcdctl_py.gofmt import json_string as go_json_string  # Go encoding/json strings
from etcdctl_py.gofmt import quote as go_quote  # Go's %q (strconv.Quote)


class MembershipError(ValueError):
    """A bad --initial-cluster / --initial-advertise-peer-urls; the message is etcd's."""


# --------------------------------------------------------------------------- Go string helpers



def go_quote_list(items: list[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


# --------------------------------------------------------------------------- URLs (types.NewURLs)

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


def _go_url_parse(raw: str) -> tuple[str, str, str, bool]:
    """The subset of Go's url.Parse etcd relies on: (scheme, host, canonical String(), has a path) or raises.

    Errors carry Go's text: `parse "<url>": <reason>`.
    """
    def fail(reason: str) -> MembershipError:
        return MembershipError(f"parse {go_quote(raw)}: {reason}")

    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise fail("net/url: invalid control character in URL")
    rest, frag = raw, None
    if "#" in rest:
        rest, frag = rest.split("#", 1)
    scheme = ""
    for i, c in enumerate(rest):
        if c.isascii() and c.isalpha():
            continue
        if i > 0 and (c.isascii() and c.isdigit() or c in "+-."):
            continue
        if c == ":":
            if i == 0:
                raise fail("missing protocol scheme")
            scheme, rest = rest[:i], rest[i + 1:]
        break
    scheme = scheme.lower()
    query = None
    if "?" in rest:
        rest, query = rest.split("?", 1)
    host = ""
    userinfo = None
    path = rest
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        auth = rest[2:]
        cut = auth.find("/")
        if cut >= 0:
            auth, path = auth[:cut], auth[cut:]
        else:
            path = ""
        if "@" in auth:
            userinfo, auth = auth.rsplit("@", 1)
        host = _go_parse_host(auth, fail)
    elif scheme and not rest.startswith("/"):
        # opaque URL such as "http:foo": Go keeps it in Opaque; Host stays empty.
        path = ""
        host = ""
        canonical = scheme + ":" + rest
        if query is not None:
            canonical += "?" + query
        if frag is not None:
            canonical += "#" + frag
        return scheme, host, canonical, True
    if path and not scheme and ":" in path.split("/", 1)[0]:
        raise fail("first path segment in URL cannot contain colon")
    canonical = ""
    if scheme:
        canonical += scheme + ":"
    if scheme or host or userinfo is not None:
        canonical += "//"
        if userinfo is not None:
            canonical += userinfo + "@"
        canonical += host
    canonical += path
    if query is not None and query != "":
        canonical += "?" + query
    if frag is not None and frag != "":
        canonical += "#" + frag
    return scheme, host, canonical, bool(path)


def _go_parse_host(host: str, fail) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise fail("missing ']' in host")
        port = host[end + 1:]
        if port and not _valid_optional_port(port):
            raise fail(f"invalid port {go_quote(port)} after host")
        return host
    i = host.rfind(":")
    if i >= 0:
        port = host[i:]
        if not _valid_optional_port(port):
            raise fail(f"invalid port {go_quote(port)} after host")
    return host


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    if port[0] != ":":
        return False
    return all("0" <= c <= "9" for c in port[1:])


def _split_host_port_ok(hostport: str) -> bool:
    """Whether Go's net.SplitHostPort accepts the address."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return False
        if end + 1 == len(hostport) or hostport[end + 1] != ":":
            return False
        host, port = hostport[1:end], hostport[end + 2:]
        if "[" in host or "]" in port:
            return False
        return ":" not in port
    i = hostport.rfind(":")
    if i < 0:
        return False
    host, port = hostport[:i], hostport[i + 1:]
    if ":" in host or "[" in host or "]" in host or "[" in port or "]" in port:
        return False
    return True


def parse_urls(strs: list[str]) -> list[str]:
    """types.NewURLs: validate, canonicalise and sort (by string) a list of peer URLs."""
    if not strs:
        raise MembershipError("no valid URLs given")
    out = []
    for raw in strs:
        s = raw.strip(" \t\n\r\v\f")
        scheme, host, canonical, has_path = _go_url_parse(s)
        if scheme not in ("http", "https", "unix", "unixs"):
            raise MembershipError(f"URL scheme must be http, https, unix, or unixs: {s}")
        if not _split_host_port_ok(host):
            raise MembershipError(f'URL address does not have the form "host:port": {s}')
        if has_path:
            raise MembershipError(f"URL must not contain a path: {s}")
        out.append(canonical)
    out.sort()
    return out


def parse_initial_cluster(s: str) -> dict[str, list[str]]:
    """types.NewURLsMap: `name=url,name=url`; a name may repeat (several peer URLs); empty parts skipped."""
    raw: dict[str, list[str]] = {}
    for part in s.split(","):
        if part == "":
            continue
        name, _, value = part.partition("=")
        raw.setdefault(name, []).append(value)
    return {name: parse_urls(urls) for name, urls in raw.items()}


def urls_map_string(m: dict[str, list[str]]) -> str:
    """URLsMap.String(): sorted `name=url` pairs joined by commas."""
    return ",".join(sorted(f"{name}={u}" for name, urls in m.items() for u in urls))


# --------------------------------------------------------------------------- IDs and members


def compute_member_id(peer_urls: list[str], token: str) -> int:
    """etcd's member ID: sha1(sorted peer URLs concatenated without separator + token)[:8], big-endian."""
    b = "".join(sorted(peer_urls)).encode("utf-8", "surrogateescape") + token.encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.sha1(b).digest()[:8], "big")


def compute_cluster_id(member_ids: list[int]) -> int:
    """etcd's cluster ID: sha1 of the sorted member IDs as 8-byte big-endian integers, first 8 bytes."""
    b = b"".join(i.to_bytes(8, "big") for i in sorted(member_ids))
    return int.from_bytes(hashlib.sha1(b).digest()[:8], "big")


@dataclass
class Member:
    """One etcd member as stored in the `members` bucket and the v2 store."""

    id: int
    peer_urls: list[str]
    name: str = ""
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False

    @property
    def hex_id(self) -> str:
        return format(self.id, "x")

    def to_json(self) -> str:
        """Go json.Marshal(Member): id, peerURLs, isLearner/name/clientURLs omitted when empty."""
        out = '{"id":%d,"peerURLs":%s' % (self.id, _go_json_list(self.peer_urls))
        if self.is_learner:
            out += ',"isLearner":true'
        if self.name:
            out += ',"name":' + go_json_string(self.name)
        if self.client_urls:
            out += ',"clientURLs":' + _go_json_list(self.client_urls)
        return out + "}"

    def raft_attributes_json(self) -> str:
        """Go json.Marshal(RaftAttributes), the value of /0/members/<id>/raftAttributes."""
        out = '{"peerURLs":' + _go_json_list(self.peer_urls)
        if self.is_learner:
            out += ',"isLearner":true'
        return out + "}"

    def attributes_json(self) -> str:
        """Go json.Marshal(Attributes), the value of /0/members/<id>/attributes."""
        parts = []
        if self.name:
            parts.append('"name":' + go_json_string(self.name))
        if self.client_urls:
            parts.append('"clientURLs":' + _go_json_list(self.client_urls))
        return "{" + ",".join(parts) + "}"


def _go_json_list(items: list[str] | None) -> str:
    if items is None:
        return "null"
    return "[" + ",".join(go_json_string(i) for i in items) + "]"


@dataclass
class Cluster:
    """The cluster restore bootstraps: members sorted by ID, the cluster ID, and the local member."""

    members: list[Member]
    cluster_id: int
    local: Member | None = None

    @property
    def member_ids(self) -> list[int]:
        return [m.id for m in self.members]

    def member_by_name(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        return None


def verify_bootstrap(name: str, advertise: list[str], cluster: dict[str, list[str]]) -> None:
    """config.ServerConfig.VerifyBootstrap with etcd's error texts (no DNS resolution)."""
    if name not in cluster:
        raise MembershipError(f"couldn't find local name {go_quote(name)} in the initial cluster configuration")
    urls = sorted(cluster[name])
    ap = sorted(advertise)
    if urls != ap:
        if len(ap) != len(urls):
            why = f"len({go_quote_list(ap)}) != len({go_quote_list(urls)})"
        else:
            i = next(i for i in range(len(ap)) if ap[i] != urls[i])
            why = (f"{go_quote(ap[i])}(resolved from {go_quote(ap[i])}) != "
                   f"{go_quote(urls[i])}(resolved from {go_quote(urls[i])})")
        missing = [u for u in dict.fromkeys(urls) if u not in set(advertise)]
        if missing:
            mstr = ",".join(f"{name}={u}" for u in missing)
            raise MembershipError(
                f"--initial-cluster has {mstr} but missing from --initial-advertise-peer-urls={','.join(ap)} ({why})")
        extra = [u for u in dict.fromkeys(advertise) if u not in set(urls)]
        if extra:
            raise MembershipError(
                f"--initial-advertise-peer-urls has {','.join(extra)} but missing from "
                f"--initial-cluster={urls_map_string({name: advertise})}")
        raise MembershipError(
            f"failed to resolve {','.join(ap)} to match --initial-cluster={urls_map_string({name: advertise})} ({why})")
    seen: set[str] = set()
    for us in cluster.values():
        for u in us:
            if u in seen:
                raise MembershipError(f"initial cluster {urls_map_string(cluster)} has duplicate url")
            seen.add(u)
    if urls_map_string(cluster) == "":
        raise MembershipError("initial cluster unset and no discovery URL found")


def cluster_from_flags(name: str, initial_cluster: str, advertise_peer_urls: str, token: str) -> Cluster:
    """Everything etcdutl's restore derives from its flags, validated in etcd's order."""
    advertise = parse_urls(advertise_peer_urls.split(","))
    urls_map = parse_initial_cluster(initial_cluster)
    verify_bootstrap(name, advertise, urls_map)
    by_id: dict[int, Member] = {}
    for mname, urls in urls_map.items():
        m = Member(id=compute_member_id(urls, token), peer_urls=list(urls), name=mname)
        if m.id in by_id:
            raise MembershipError(
                f"member exists with identical ID &{{{m.hex_id} {{[{' '.join(m.peer_urls)}] false}} {{{mname} []}}}}")
        if m.id == 0:
            raise MembershipError("cannot use 0 as member id")
        by_id[m.id] = m
    members = [by_id[i] for i in sorted(by_id)]
    cl = Cluster(members=members, cluster_id=compute_cluster_id(list(by_id)))
    cl.local = cl.member_by_name(name)
    return cl
