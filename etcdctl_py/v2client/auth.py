"""The v2 auth API (/v2/auth/enable, /users, /roles) as client/v2's AuthAPI/AuthUserAPI/AuthRoleAPI."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from .errors import MessageError, PlainError
from .transport import JSON_TYPE, Deadline, Doer, Request, Response, escape_path, json_body

AUTH_PREFIX = "/v2/auth"


@dataclass
class Role:
    role: str = ""
    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> Role:
        kv = ((d.get("permissions") or {}).get("kv") or {}) if isinstance(d, dict) else {}
        return cls(str(d.get("role") or ""), list(kv.get("read") or []), list(kv.get("write") or []))

    def same(self, other: Role | None) -> bool:
        return other is not None and (self.role, self.read, self.write) == (other.role, other.read, other.write)


@dataclass
class User:
    user: str = ""
    roles: list[str] = field(default_factory=list)


def _url(kind: str, name: str = "") -> str:
    p = f"{AUTH_PREFIX}/{kind}"
    if name:
        p = posixpath.normpath(p + "/" + name)
    return escape_path(p)


def _auth_error(resp: Response) -> MessageError | PlainError:
    """The error of a failed auth request: the body's `message`, or encoding/json's error for a body not JSON."""
    try:
        d = resp.json()
    except PlainError as e:
        return e
    return MessageError(str(d.get("message", "")) if isinstance(d, dict) else "")


def _expect(resp: Response, *ok: int) -> Response:
    if resp.status not in ok:
        raise _auth_error(resp)
    return resp


def _items(d: object, key: str) -> list:
    """The list under `key` of a JSON object (nothing when the answer is something else)."""
    items = d.get(key) if isinstance(d, dict) else None
    return items if isinstance(items, list) else []


def _with_password(name: str, password: str) -> dict:
    """The user object of an add or password change: no `password` key when it is empty (Go's omitempty)."""
    obj: dict = {"user": name}
    if password:
        obj["password"] = password
    obj["roles"] = None
    return obj


def _no_perms(name: str) -> dict:
    return {"role": name, "permissions": {"kv": {"read": None, "write": None}}}


class AuthAPI:
    def __init__(self, client: Doer) -> None:
        self.client = client

    def _req(self, kind: str, method: str, name: str, obj: dict | None, deadline: Deadline) -> Response:
        """One request on /v2/auth/<kind>[/<name>] with `obj` as JSON body; a list (no name) carries the JSON
        content type without a body, as client/v2 sends it."""
        body = None if obj is None else json_body(obj)
        hdr = {} if obj is None and name else dict(JSON_TYPE)
        return self.client.do(Request(method, _url(kind, name), "", body, hdr), deadline)

    def enable(self, deadline: Deadline) -> None:
        _expect(self.client.do(Request("PUT", _url("enable")), deadline), 200, 201)

    def disable(self, deadline: Deadline) -> None:
        _expect(self.client.do(Request("DELETE", _url("enable")), deadline), 200, 201)

    # users
    def list_users(self, deadline: Deadline) -> list[str]:
        d = _expect(self._req("users", "GET", "", None, deadline), 200).json()
        return [str(u.get("user", "")) for u in _items(d, "users") if isinstance(u, dict)]

    def add_user(self, name: str, password: str, deadline: Deadline) -> None:
        _expect(self._req("users", "PUT", name, _with_password(name, password), deadline), 200, 201)

    def remove_user(self, name: str, deadline: Deadline) -> None:
        _expect(self._req("users", "DELETE", name, None, deadline), 200, 201)

    def _mod_user(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> User:
        d = _expect(self._req("users", method, name, obj, deadline), 200).json()
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
        return self._mod_user("PUT", name, _with_password(name, password), deadline)

    # roles
    def list_roles(self, deadline: Deadline) -> list[str]:
        resp = self._req("roles", "GET", "", None, deadline)
        resp.check_status(200)
        return [str(r.get("role", "")) for r in _items(resp.json(), "roles") if isinstance(r, dict)]

    def add_role(self, name: str, deadline: Deadline) -> None:
        _expect(self._req("roles", "PUT", name, _no_perms(name), deadline), 200, 201)

    def remove_role(self, name: str, deadline: Deadline) -> None:
        _expect(self._req("roles", "DELETE", name, None, deadline), 200, 201)

    def _mod_role(self, method: str, name: str, obj: dict | None, deadline: Deadline) -> Role:
        d = _expect(self._req("roles", method, name, obj, deadline), 200).json()
        return Role.from_json(d if isinstance(d, dict) else {})

    def get_role(self, name: str, deadline: Deadline) -> Role:
        return self._mod_role("GET", name, None, deadline)

    def _perm(self, name: str, key: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        read = paths if perm in ("read", "rw") else None
        write = paths if perm in ("write", "rw") else None
        obj = {**_no_perms(name), key: {"kv": {"read": read, "write": write}}}
        return self._mod_role("PUT", name, obj, deadline)

    def grant_role(self, name: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        return self._perm(name, "grant", paths, perm, deadline)

    def revoke_role(self, name: str, paths: list[str], perm: str, deadline: Deadline) -> Role:
        return self._perm(name, "revoke", paths, perm, deadline)
