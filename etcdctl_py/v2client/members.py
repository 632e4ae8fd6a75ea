"""The v2 members API (/v2/members): list, leader, add, remove, update."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .cluster import Client
from .errors import MessageError, PlainError, V2Error
from .transport import Deadline, Request, Response

MEMBERS_PREFIX = "/v2/members"
JSON = {"Content-Type": "application/json"}


@dataclass
class Member:
    id: str = ""
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> "Member":
        return cls(str(d.get("id") or ""), str(d.get("name") or ""), list(d.get("peerURLs") or []),
                   list(d.get("clientURLs") or []))


def assert_status(got: int, *want: int) -> None:
    if got not in want:
        raise PlainError(f"unexpected status code {got}")


def _json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except ValueError as e:
        raise PlainError(_go_json_error(body, e)) from None


def _go_json_error(body: bytes, e: ValueError) -> str:
    if not body.strip():
        return "unexpected end of JSON input"
    return f"invalid character {body[:1].decode('latin-1')!r} looking for beginning of value"


def validate_url(u: str) -> None:
    """types.NewURLs checks for a single peer URL: scheme http(s)/unix(s), host:port, no path."""
    p = urlsplit(u)
    if p.scheme not in ("http", "https", "unix", "unixs"):
        raise PlainError(f"URL scheme must be http, https, unix, or unixs: {u}")
    if p.scheme in ("http", "https") and (":" not in p.netloc or p.port is None):
        raise PlainError(f'URL address does not have the form "host:port": {u}')
    if p.path:
        raise PlainError(f"URL must not contain a path: {u}")


class MembersAPI:
    def __init__(self, client: Client) -> None:
        self.client = client

    def list(self, deadline: Deadline) -> list[Member]:
        resp = self.client.do(Request("GET", MEMBERS_PREFIX), deadline)
        assert_status(resp.status, 200)
        d = _json(resp.body)
        ms = d.get("members") if isinstance(d, dict) else None
        return [Member.from_json(m) for m in (ms or []) if isinstance(m, dict)]

    def leader(self, deadline: Deadline) -> Member:
        resp = self.client.do(Request("GET", MEMBERS_PREFIX + "/leader"), deadline)
        assert_status(resp.status, 200)
        d = _json(resp.body)
        return Member.from_json(d if isinstance(d, dict) else {})

    def add(self, peer_url: str, deadline: Deadline) -> Member:
        validate_url(peer_url)
        body = json.dumps({"peerURLs": [peer_url]}, separators=(",", ":")).encode()
        resp = self.client.do(Request("POST", MEMBERS_PREFIX, "", body, dict(JSON)), deadline)
        assert_status(resp.status, 201, 409)
        d = _json(resp.body)
        if resp.status != 201:
            raise MessageError(str(d.get("message", "")) if isinstance(d, dict) else "")
        return Member.from_json(d if isinstance(d, dict) else {})

    def remove(self, member_id: str, deadline: Deadline) -> None:
        resp = self.client.do(Request("DELETE", MEMBERS_PREFIX + "/" + member_id), deadline)
        assert_status(resp.status, 204, 410)

    def update(self, member_id: str, peer_urls: list[str], deadline: Deadline) -> None:
        for u in peer_urls:
            validate_url(u)
        body = json.dumps({"peerURLs": peer_urls}, separators=(",", ":")).encode()
        resp = self.client.do(Request("PUT", MEMBERS_PREFIX + "/" + member_id, "", body, dict(JSON)), deadline)
        assert_status(resp.status, 204, 404, 409)
        if resp.status != 204:
            d = _json(resp.body)
            raise MessageError(str(d.get("message", "")) if isinstance(d, dict) else "")
