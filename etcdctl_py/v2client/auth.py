"""The v2 auth API (/v2/auth/enable, /users, /roles) as client/v2's AuthAPI/AuthUserAPI/AuthRoleAPI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from .cluster import Client
from .errors import MessageError, PlainError
from .members import _json, assert_status
from .transport import Deadline, Request, Response

AUTH_PREFIX = "/v2/auth"
JSON = {"Content-Type": "application/json"}


@dataclass
class Role:
    role: str = ""
    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> "Role":
        kv = ((d.get("permissions") or {}).get("kv") or {}) if isinstance(d, dict) else {}
        return cls(str(d.get("role") or ""), list(kv.get("read") or []), list(kv.get("write") or []))

    def same(self, other: "Role | None") -> bool:
        return other is not None and (self.role, self.read, self.write) == (other.role, other.read, other.write)


@dataclass
class User:
    user: str = ""
    roles: list[str] = field(default_factory=list)


def _url(kind: str, name: str = "") -> str:
    p = f"{AUTH_PREFIX}/{kind}"
    if name:
        import posixpath

        p = posixpath.normpath(p + "/" + name)
    return quote(p.encode("utf-8", "surrogateescape"), safe="/$&+,:;=@-_.~")


def _auth_error(resp: Response) -> MessageError | PlainError:
    try:
        d = json.loads(resp.body.decode("utf-8", "replace"))
    except ValueError:
        return PlainError("unexpected end of JSON input" if not resp.body.strip() else
                          f"invalid character {resp.body[:1].decode('latin-1')!r} looking for beginning of value")
    return MessageError(str(d.get("message", "")) if isinstance(d, dict) else "")


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogateescape")


class AuthAPI:
    def __init__(self, client: Client) -> None:
        self.client = client

    def _enable(self, method: str, deadline: Deadline) -> None:
        resp = self.client.do(Request(method, _url("enable")), deadline)
        if resp.status not in (200, 201):
            raise _auth_error(resp)

    def enable(self, deadline: Deadline) -> None:
        self._enable("PUT", deadline)

    def disable(self, deadline: Deadline) -> None:
        self._enable("DELETE", deadline)

    # users
    def list_users(self, deadline: Deadline) -> list[str]:
        resp = self.client.do(Request("GET", _url("users"), "", None, dict(JSON)), deadline)
        if resp.status != 200:
            raise _auth_error(resp)
        d = _json(resp.body)
        return [str(u.get("user", "")) for u in ((d or {}).get("users") or []) if isinstance(u, dict)]

    def _user_req(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> Response:
        body = None if obj is None else _dumps(obj)
        hdr = {} if obj is None else dict(JSON)
        return self.client.do(Request(method, _url("users", name), "", body, hdr), deadline)

    def add_user(self, name: str, password: str, deadline: Deadline) -> None:
        obj: dict = {"user": name}
        if password:
            obj["password"] = password
        obj["roles"] = None
        resp = self._user_req("PUT", name, obj, deadline)
        if resp.status not in (200, 201):
            raise _auth_error(resp)

    def remove_user(self, name: str, deadline: Deadline) -> None:
        resp = self._user_req("DELETE", name, None, deadline)
        if resp.status not in (200, 201):
            raise _auth_error(resp)

    def _mod_user(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> User:
        resp = self._user_req(method, name, obj, deadline)
        if resp.status != 200:
            raise _auth_error(resp)
        d = _json(resp.body)
        if not isinstance(d, dict):
            return User()
        roles = d.get("roles") or []
        names = [r if isinstance(r, str) else str((r or {}).get("role", "")) for r in roles]
        return User(str(d.get("user", "")), names)

    def get_user(self, name: str, deadline: Deadline) -> User:
        return self._mod_user("GET", name, None, deadline)

    def grant_user(self, name: str, roles: list[str], deadline: Deadline) -> User:
        return self._mod_user("PUT", name, {"user": name, "roles": None, "grant": roles}, deadline)

    def revoke_user(self, name: str, roles: list[str], deadline: Deadline) -> User:
        return self._mod_user("PUT", name, {"user": name, "roles": None, "revoke": roles}, deadline)

    def change_password(self, name: str, password: str, deadline: Deadline) -> User:
        obj: dict = {"user": name}
        if password:
            obj["password"] = password
        obj["roles"] = None
        return self._mod_user("PUT", name, obj, deadline)

    # roles
    def list_roles(self, deadline: Deadline) -> list[str]:
        resp = self.client.do(Request("GET", _url("roles"), "", None, dict(JSON)), deadline)
        assert_status(resp.status, 200)
        d = _json(resp.body)
        return [str(r.get("role", "")) for r in ((d or {}).get("roles") or []) if isinstance(r, dict)]

    def _role_req(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> Response:
        body = None if obj is None else _dumps(obj)
        hdr = {} if obj is None else dict(JSON)
        return self.client.do(Request(method, _url("roles", name), "", body, hdr), deadline)

    def add_role(self, name: str, deadline: Deadline) -> None:
        resp = self._role_req("PUT", name, {"role": name, "permissions": {"kv": {"read": None, "write": None}}}, deadline)
        if resp.status not in (200, 201):
            raise _auth_error(resp)

    def remove_role(self, name: str, deadline: Deadline) -> None:
        resp = self._role_req("DELETE", name, None, deadline)
        if resp.status not in (200, 201):
            raise _auth_error(resp)

    def _mod_role(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> Role:
        resp = self._role_req(method, name, obj, deadline)
        if resp.status != 200:
            raise _auth_error(resp)
        d = _json(resp.body)
        return Role.from_json(d if isinstance(d, dict) else {})

    def get_role(self, name: str, deadline: Deadline) -> Role:
        return self._mod_role("GET", name, None, deadline)

    def _perm(self, name: str, key: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        read = paths if perm in ("read", "rw") else None
        write = paths if perm in ("write", "rw") else None
        obj = {"role": name, "permissions": {"kv": {"read": None, "write": None}}, key: {"kv": {"read": read, "write": write}}}
        return self._mod_role("PUT", name, obj, deadline)

    def grant_role(self, name: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        return self._perm(name, "grant", paths, perm, deadline)

    def revoke_role(self, name: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        return self._perm(name, "revoke", paths, perm, deadline)
