"""The v2 members API (/v2/members): list, leader, add, remove, update.

It needs of its client only `do` (transport.Doer), so cluster.Client can use it to sync its endpoints.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import MessageError, PlainError
from .transport import JSON_TYPE, Deadline, Doer, Request, Response, json_body

MEMBERS_PREFIX = "/v2/members"


@dataclass
class Member:
    id: str = ""
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> Member:
        return cls(
            str(d.get("id") or ""),
            str(d.get("name") or ""),
            list(d.get("peerURLs") or []),
            list(d.get("clientURLs") or []),
        )


def validate_url(u: str) -> None:
    """types.NewURLs checks for a single peer URL: scheme http(s)/unix(s), host:port, no path."""
    p = urlsplit(u)
    if p.scheme not in ("http", "https", "unix", "unixs"):
        raise PlainError(f"URL scheme must be http, https, unix, or unixs: {u}")
    if p.scheme in ("http", "https") and (":" not in p.netloc or p.port is None):
        raise PlainError(f'URL address does not have the form "host:port": {u}')
    if p.path:
        raise PlainError(f"URL must not contain a path: {u}")


def _message_error(resp: Response) -> MessageError:
    d = resp.json()
    return MessageError(str(d.get("message", "")) if isinstance(d, dict) else "")


def _member(resp: Response) -> Member:
    d = resp.json()
    return Member.from_json(d if isinstance(d, dict) else {})


class MembersAPI:
    def __init__(self, client: Doer) -> None:
        self.client = client

    def list(self, deadline: Deadline) -> list[Member]:
        resp = self.client.do(Request("GET", MEMBERS_PREFIX), deadline)
        resp.check_status(200)
        d = resp.json()
        ms = d.get("members") if isinstance(d, dict) else None
        return [Member.from_json(m) for m in (ms or []) if isinstance(m, dict)]

    def leader(self, deadline: Deadline) -> Member:
        resp = self.client.do(Request("GET", MEMBERS_PREFIX + "/leader"), deadline)
        resp.check_status(200)
        return _member(resp)

    def add(self, peer_url: str, deadline: Deadline) -> Member:
        validate_url(peer_url)
        body = json_body({"peerURLs": [peer_url]})
        resp = self.client.do(Request("POST", MEMBERS_PREFIX, "", body, dict(JSON_TYPE)), deadline)
        resp.check_status(201, 409)
        if resp.status != 201:
            raise _message_error(resp)
        return _member(resp)

    def remove(self, member_id: str, deadline: Deadline) -> None:
        resp = self.client.do(Request("DELETE", MEMBERS_PREFIX + "/" + member_id), deadline)
        resp.check_status(204, 410)

    def update(self, member_id: str, peer_urls: builtins.list[str], deadline: Deadline) -> None:
        for u in peer_urls:
            validate_url(u)
        body = json_body({"peerURLs": peer_urls})
        resp = self.client.do(Request("PUT", MEMBERS_PREFIX + "/" + member_id, "", body, dict(JSON_TYPE)), deadline)
        resp.check_status(204, 404, 409)
        if resp.status != 204:
            raise _message_error(resp)
