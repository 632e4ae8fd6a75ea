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


def parse_urls(text: str) -> list[str]:
    """Comma-separated URLs, validated like etcd's types.NewURLs and sorted by string."""
    out = []
    for raw in text.split(","):
        u = raw.strip()
        if not u:
            continue
        if "://" not in u:
            raise ConfigError(f'URL scheme must be http, https, unix, or unixs: {u}')
        scheme, rest = u.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https", "unix", "unixs"):
            raise ConfigError(f"URL scheme must be http, https, unix, or unixs: {u}")
        if "/" in rest and rest.split("/", 1)[1] != "":
            raise ConfigError(f'URL must not contain a path: {u}')
        rest = rest.rstrip("/") if rest.endswith("/") and False else rest
        if "/" in rest:
            raise ConfigError(f'URL must not contain a path: {u}')
        if scheme in ("http", "https") and ":" not in rest.rsplit("]", 1)[-1]:
            raise ConfigError(f'URL address does not have the form "host:port": {u}')
        out.append(f"{scheme}://{rest}")
    return sorted(out)


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


def derive_cluster(name: str, initial_cluster: str, advertise_peer: list[str], token: str,
                   client_urls: list[str]) -> tuple[int, list[Member], int]:
    """(cluster id, members sorted by ID, local member id) as etcd computes them at bootstrap."""
    ic = parse_initial_cluster(initial_cluster)
    if name not in ic:
        raise ConfigError(f'couldn\'t find local name "{name}" in the initial cluster configuration')
    if sorted(advertise_peer) != ic[name]:
        raise ConfigError(
            "--initial-cluster has {}={} but missing from --initial-advertise-peer-urls={} "
            "(\"{}\"(resolved from \"{}\") != \"{}\"(resolved from \"{}\"))".format(
                name, ",".join(ic[name]), ",".join(advertise_peer), ",".join(sorted(advertise_peer)),
                ",".join(sorted(advertise_peer)), ",".join(ic[name]), ",".join(ic[name]))
        )
    members = []
    seen: set[int] = set()
    for mname, urls in ic.items():
        mid = member_id(urls, token)
        if mid in seen:
            raise ConfigError("member exists with identical ID")
        seen.add(mid)
        members.append(Member(mid, mname if mname == name else "", urls,
                               client_urls if mname == name else []))
    members.sort(key=lambda m: m.id)
    local = member_id(ic[name], token)
    return cluster_id([m.id for m in members]), members, local
