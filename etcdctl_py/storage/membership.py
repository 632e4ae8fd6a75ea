"""Cluster membership as etcd derives it from --initial-cluster: URL parsing, member and cluster IDs, member JSON.

Restore must produce exactly etcd's IDs (sha1 of sorted peer URLs + token; cluster = sha1 of the sorted member IDs)
and exactly etcd's JSON bytes (Go's encoding/json escaping), so the data dir is indistinguishable from etcdutl's.
Nothing here resolves host names: URLs are compared as strings (etcd would resolve DNS names; localhost and IP
literals it compares literally too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from etcdctl_py import goaddr
from etcdctl_py.gofmt import json_string as go_json_string  # Go encoding/json strings
from etcdctl_py.gofmt import quote as go_quote  # Go's %q (strconv.Quote)


class MembershipError(ValueError):
    """A bad --initial-cluster / --initial-advertise-peer-urls; the message is etcd's."""


# --------------------------------------------------------------------------- Go string helpers


def go_quote_list(items: list[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


# --------------------------------------------------------------------------- URLs (types.NewURLs)


def parse_urls(strs: list[str]) -> list[str]:
    """types.NewURLs: validate, canonicalise (url.URL.String()) and sort a list of peer URLs."""
    try:
        urls = goaddr.new_urls(strs)
    except ValueError as e:
        raise MembershipError(str(e)) from None
    return [u.string() for u in urls]


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
        out = f'{{"id":{self.id},"peerURLs":{_go_json_list(self.peer_urls)}'
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


def _urls_differ(a: list[str], b: list[str]) -> str | None:
    """Why netutil.URLStringsEqual finds two sorted URL lists unequal, None if equal (hosts compared as written).

    It parses every URL again: a canonical form Go's own parser refuses (an escaped non-ASCII IPv6 zone) fails here.
    """
    if len(a) != len(b):
        return f"len({go_quote_list(a)}) != len({go_quote_list(b)})"
    for u in a + b:
        try:
            goaddr.url_parse(u)
        except goaddr.URLError:
            return f"failed to parse {go_quote(u)}"
    i = next((i for i in range(len(a)) if a[i] != b[i]), None)
    if i is None:
        return None
    return f"{go_quote(a[i])}(resolved from {go_quote(a[i])}) != {go_quote(b[i])}(resolved from {go_quote(b[i])})"


def verify_bootstrap(name: str, advertise: list[str], cluster: dict[str, list[str]]) -> None:
    """config.ServerConfig.VerifyBootstrap with etcd's error texts (no DNS resolution)."""
    if name not in cluster:
        raise MembershipError(f"couldn't find local name {go_quote(name)} in the initial cluster configuration")
    urls = sorted(cluster[name])
    ap = sorted(advertise)
    why = _urls_differ(ap, urls)
    if why is not None:
        missing = [u for u in dict.fromkeys(urls) if u not in set(advertise)]
        if missing:
            mstr = ",".join(f"{name}={u}" for u in missing)
            raise MembershipError(
                f"--initial-cluster has {mstr} but missing from --initial-advertise-peer-urls={','.join(ap)} ({why})"
            )
        extra = [u for u in dict.fromkeys(advertise) if u not in set(urls)]
        if extra:
            raise MembershipError(
                f"--initial-advertise-peer-urls has {','.join(extra)} but missing from "
                f"--initial-cluster={urls_map_string({name: advertise})}"
            )
        raise MembershipError(
            f"failed to resolve {','.join(ap)} to match --initial-cluster={urls_map_string({name: advertise})} ({why})"
        )
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
                f"member exists with identical ID &{{{m.hex_id} {{[{' '.join(m.peer_urls)}] false}} {{{mname} []}}}}"
            )
        if m.id == 0:
            raise MembershipError("cannot use 0 as member id")
        by_id[m.id] = m
    members = [by_id[i] for i in sorted(by_id)]
    cl = Cluster(members=members, cluster_id=compute_cluster_id(list(by_id)))
    cl.local = cl.member_by_name(name)
    return cl
