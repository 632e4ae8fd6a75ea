"""Member and cluster IDs derived exactly as etcd does (so twins report identical IDs).

member_id = first 8 bytes (big-endian) of sha1(sorted peer URLs concatenated + token);
cluster_id = first 8 bytes of sha1(all member IDs as 8-byte big-endian, sorted).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field


class ConfigError(Exception):
    """A bad flag value; etcd logs it and exits 1."""


class QuorumError(ConfigError):
    """Other voting members in the cluster: etcd-py runs no raft, so alone it can never be their quorum."""


def parse_urls(text: str) -> list[str]:
    """Comma-separated URLs as etcd's types.NewURLs(strings.Split(text, ",")) reads them: Go's url.Parse,
    scheme/host:port/path checks with etcd's texts (an empty element is an error too), canonical and sorted.

    The rules themselves live in storage.membership.parse_urls (shared with etcdutl's restore)."""
    from etcdctl_py.storage.membership import MembershipError
    from etcdctl_py.storage.membership import parse_urls as new_urls

    try:
        return new_urls(text.split(","))
    except MembershipError as e:
        raise ConfigError(str(e)) from None


def url_host(url: str) -> str:
    """The host[:port] part (Go's url.URL.Host) of a URL that parse_urls returned."""
    rest = url.split("://", 1)[1] if "://" in url else url.split(":", 1)[-1]
    for sep in "/?#":
        rest = rest.split(sep, 1)[0]
    return rest.rsplit("@", 1)[-1]


def member_id(peer_urls: list[str], token: str) -> int:
    digest = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode()).digest()
    return struct.unpack(">Q", digest[:8])[0]


def cluster_id(member_ids: list[int]) -> int:
    b = b"".join(struct.pack(">Q", i) for i in sorted(member_ids))
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


@dataclass
class Member:
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False

    def json(self) -> str:
        """Member JSON as etcd stores it in the `members` bucket and ConfChange context."""
        import json

        d: dict = {"id": self.id, "peerURLs": self.peer_urls}
        if self.is_learner:
            d["isLearner"] = True
        if self.name:
            d["name"] = self.name
        if self.client_urls:
            d["clientURLs"] = self.client_urls
        s = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
        return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def parse_initial_cluster(text: str) -> dict[str, list[str]]:
    """`name=url,name=url`: a name may repeat (several peer URLs); URLs sorted per name."""
    out: dict[str, list[str]] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"error setting up initial cluster: missing = in {part!r}")
        name, url = part.split("=", 1)
        out.setdefault(name, []).extend(parse_urls(url))
    for name in out:
        out[name] = sorted(out[name])
    return out


def derive_cluster(
    name: str, initial_cluster: str, advertise_peer: list[str], token: str, client_urls: list[str]
) -> tuple[int, list[Member], int]:
    """(cluster id, members sorted by ID, local member id) as etcd computes them at bootstrap."""
    ic = parse_initial_cluster(initial_cluster)
    if name not in ic:
        raise ConfigError(f'couldn\'t find local name "{name}" in the initial cluster configuration')
    if sorted(advertise_peer) != ic[name]:
        raise ConfigError(
            "--initial-cluster has {}={} but missing from --initial-advertise-peer-urls={} "
            '("{}"(resolved from "{}") != "{}"(resolved from "{}"))'.format(
                name,
                ",".join(ic[name]),
                ",".join(advertise_peer),
                ",".join(sorted(advertise_peer)),
                ",".join(sorted(advertise_peer)),
                ",".join(ic[name]),
                ",".join(ic[name]),
            )
        )
    members = []
    seen: set[int] = set()
    for mname, urls in ic.items():
        mid = member_id(urls, token)
        if mid in seen:
            raise ConfigError("member exists with identical ID")
        seen.add(mid)
        members.append(Member(mid, mname if mname == name else "", urls, client_urls if mname == name else []))
    members.sort(key=lambda m: m.id)
    local = member_id(ic[name], token)
    return cluster_id([m.id for m in members]), members, local
