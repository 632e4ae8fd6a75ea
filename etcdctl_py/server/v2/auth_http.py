"""/v2/auth/{users,roles,enable}: etcd 3.5's v2http auth handlers over V2AuthStore.

Statuses, JSON bodies (json.Encoder lines for results, json.Marshal without a newline for
errors), the order of checks (method, root access, then the cluster ID header) and error texts
follow server/etcdserver/api/v2http/client_auth.go.
"""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

from .auth import AuthError, V2AuthStore, perms_empty, role_from_json, role_json, user_from_json, user_json
from .errors import V2StoreError

if TYPE_CHECKING:
    from .api import Result

AUTH_PREFIX = "/v2/auth"
JSON_CT = ("Content-Type", "application/json")


class AuthHttp:
    """Routes one /v2/auth request; `go_json` encodes like encoding/json, `cid` is the cluster ID header."""

    def __init__(self, sec: V2AuthStore, go_json: Callable[[Any], str], cid: Callable[[], tuple[str, str]],
                 not_allowed: Callable[..., "Result"]) -> None:
        self.sec, self.go_json, self.cid, self.not_allowed = sec, go_json, cid, not_allowed

    # -- response helpers
    def _err(self, status: int, msg: str, with_cid: bool = True) -> "Result":
        h = [JSON_CT, self.cid()] if with_cid else [JSON_CT]
        return status, h, self.go_json({"message": msg}).encode()

    def _write_error(self, e: Exception) -> "Result":
        if isinstance(e, AuthError):
            return self._err(e.status, e.msg)
        if isinstance(e, V2StoreError):
            return e.status, [JSON_CT, self.cid(), ("X-Etcd-Index", str(e.index))], e.body()
        return self._err(500, "Internal Server Error")

    def _ok(self, obj: Any, status: int = 200) -> "Result":
        return status, [JSON_CT, self.cid()], (self.go_json(obj) + "\n").encode()

    def _no_auth(self) -> "Result":
        return self._err(401, "Insufficient credentials", with_cid=False)

    # -- routing
    def handle(self, method: str, raw_path: str, hl: dict, body: bytes, cn: str | None = None) -> "Result":
        path = unquote(raw_path, errors="surrogateescape")
        sub = path[len(AUTH_PREFIX):]
        authz = (hl.get("authorization", ""), cn)
        if sub == "/roles":
            return self._base_roles(method, authz)
        if sub.startswith("/roles/"):
            pieces = posixpath.normpath(sub).split("/")
            if len(pieces) == 2:
                return self._base_roles(method, authz)
            if len(pieces) != 3:
                return self._err(400, "Invalid path", with_cid=False)
            return self._for_role(method, authz, pieces[2], body)
        if sub == "/users":
            return self._base_users(method, authz)
        if sub.startswith("/users/"):
            pieces = posixpath.normpath(sub).split("/")
            if len(pieces) == 2:
                return self._base_users(method, authz)
            if len(pieces) != 3:
                return self._err(400, "Invalid path", with_cid=False)
            return self._for_user(method, authz, pieces[2], body)
        if sub == "/enable":
            return self._enable_disable(method, authz)
        return 404, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], \
            b"404 page not found\n"

    @staticmethod
    def _decode(body: bytes) -> Any:
        """json.Decoder.Decode: the first JSON value; trailing bytes are not looked at."""
        text = body.decode("utf-8", "replace").lstrip(" \t\r\n")
        obj, _ = json.JSONDecoder().raw_decode(text)
        return obj

    # -- roles
    def _base_roles(self, method: str, authz: tuple[str, str | None]) -> "Result":
        if method != "GET":
            return self.not_allowed("GET")
        if not self.sec.has_root_access(method, *authz):
            return self._no_auth()
        try:
            roles = [self.sec.get_role(n) for n in self.sec.all_roles()]
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)
        return self._ok({"roles": [role_json(r) for r in roles] or None})

    def _for_role(self, method: str, authz: tuple[str, str | None], name: str, body: bytes) -> "Result":
        if method not in ("GET", "PUT", "DELETE"):
            return self.not_allowed("GET", "PUT", "DELETE")
        if not self.sec.has_root_access(method, *authz):
            return self._no_auth()
        try:
            if method == "GET":
                return self._ok(role_json(self.sec.get_role(name)))
            if method == "DELETE":
                self.sec.delete_role(name)
                return 200, [JSON_CT, self.cid()], b""
            try:
                role = role_from_json(self._decode(body))
            except ValueError:
                return self._err(400, "Invalid JSON in request body.")
            if role["role"] != name:
                return self._err(400, "Role JSON name does not match the name in the URL")
            if perms_empty(role["grant"]) and perms_empty(role["revoke"]):
                self.sec.create_role(role)
                return self._ok(role_json(role), 201)
            if not perms_empty(role["permissions"]):
                return self._err(400, "Role JSON contains both permissions and grant/revoke")
            return self._ok(role_json(self.sec.update_role(role)))
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)

    # -- users
    def _user_with_roles(self, u: dict, skip_missing: bool) -> dict:
        out: dict = {"user": u["user"]}
        roles = []
        for name in u["roles"] or []:
            try:
                roles.append(role_json(self.sec.get_role(name)))
            except AuthError:
                if not skip_missing:
                    raise
        if roles:
            out["roles"] = roles
        return out

    def _base_users(self, method: str, authz: tuple[str, str | None]) -> "Result":
        if method != "GET":
            return self.not_allowed("GET")
        if not self.sec.has_root_access(method, *authz):
            return self._no_auth()
        try:
            users = [self._user_with_roles(self.sec.get_user(n), True) for n in self.sec.all_users()]
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)
        return self._ok({"users": users or None})

    def _for_user(self, method: str, authz: tuple[str, str | None], name: str, body: bytes) -> "Result":
        if method not in ("GET", "PUT", "DELETE"):
            return self.not_allowed("GET", "PUT", "DELETE")
        if not self.sec.has_root_access(method, *authz):
            return self._no_auth()
        try:
            if method == "GET":
                return self._ok(self._user_with_roles(self.sec.get_user(name), False))
            if method == "DELETE":
                self.sec.delete_user(name)
                return 200, [JSON_CT, self.cid()], b""
            try:
                u = user_from_json(self._decode(body))
            except ValueError:
                return self._err(400, "Invalid JSON in request body.")
            if u["user"] != name:
                return self._err(400, "User JSON name does not match the name in the URL")
            created = False
            if not u["grant"] and not u["revoke"]:
                if u["roles"]:
                    out = self.sec.create_user(u)
                else:
                    out, created = self.sec.create_or_update_user(u)
            else:
                if u["roles"]:
                    return self._err(400, "User JSON contains both roles and grant/revoke")
                out = self.sec.update_user(u)
            return self._ok(user_json(out, with_password=False), 201 if created else 200)
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)

    # -- enable / disable
    def _enable_disable(self, method: str, authz: tuple[str, str | None]) -> "Result":
        if method not in ("GET", "PUT", "DELETE"):
            return self.not_allowed("GET", "PUT", "DELETE")
        if not self.sec.has_root_access(method, *authz, write_only=True):
            return self._no_auth()
        try:
            enabled = self.sec.auth_enabled()
            if method == "GET":
                return self._ok({"enabled": enabled})
            if method == "PUT":
                self.sec.enable()
            else:
                self.sec.disable()
            return 200, [JSON_CT, self.cid()], b""
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)

