"""/v2/auth/{users,roles,enable}: etcd 3.5's v2http auth handlers over V2AuthStore.

Statuses, JSON bodies (json.Encoder lines for results, json.Marshal without a newline for
errors), the order of checks (method, root access, then the cluster ID header) and error texts
follow server/etcdserver/api/v2http/client_auth.go.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from etcdctl_py.gofmt import go_json
from etcdctl_py.server.httpreply import Result, not_allowed, not_found

from .auth import AuthError, V2AuthStore, perms_empty, role_from_json, role_json, user_from_json, user_json
from .errors import V2StoreError

AUTH_PREFIX = "/v2/auth"
JSON_CT = ("Content-Type", "application/json")

Authz = tuple[str, str | None]  # the Authorization header and the verified client certificate's CN


class AuthHttp:
    """Routes one /v2/auth request; `cid` is the X-Etcd-Cluster-Id header."""

    def __init__(self, sec: V2AuthStore, cid: tuple[str, str]) -> None:
        self.sec, self.cid = sec, cid

    # -- response helpers
    def _err(self, status: int, msg: str, with_cid: bool = True) -> Result:
        h = [JSON_CT, self.cid] if with_cid else [JSON_CT]
        return status, h, go_json({"message": msg}).encode()

    def _write_error(self, e: Exception) -> Result:
        if isinstance(e, AuthError):
            return self._err(e.status, e.msg)
        if isinstance(e, V2StoreError):
            return e.status, [JSON_CT, self.cid, ("X-Etcd-Index", str(e.index))], e.body()
        return self._err(500, "Internal Server Error")

    def _ok(self, obj: Any, status: int = 200) -> Result:
        return status, [JSON_CT, self.cid], (go_json(obj) + "\n").encode()

    def _no_auth(self) -> Result:
        return self._err(401, "Insufficient credentials", with_cid=False)

    # -- routing
    def handle(self, method: str, raw_path: str, hl: dict, body: bytes, cn: str | None = None) -> Result:
        path = unquote(raw_path, errors="surrogateescape")
        sub = path[len(AUTH_PREFIX) :]
        authz = (hl.get("authorization", ""), cn)
        if sub == "/enable":
            return self._enable_disable(method, authz)
        for kind, base, one in (
            ("roles", self._base_roles, self._for_role),
            ("users", self._base_users, self._for_user),
        ):
            if sub == "/" + kind or sub.startswith(f"/{kind}/"):
                return self._collection(sub, method, authz, body, base, one)
        return not_found()

    def _collection(
        self,
        sub: str,
        method: str,
        authz: Authz,
        body: bytes,
        base: Callable[[str, Authz], Result],
        one: Callable[[str, Authz, str, bytes], Result],
    ) -> Result:
        """/v2/auth/{roles,users}[/<name>]: the list, one entry, or 400 for a deeper path."""
        pieces = posixpath.normpath(sub).split("/")
        if len(pieces) == 2:
            return base(method, authz)
        if len(pieces) != 3:
            return self._err(400, "Invalid path", with_cid=False)
        return one(method, authz, pieces[2], body)

    @staticmethod
    def _decode(body: bytes) -> Any:
        """json.Decoder.Decode: the first JSON value; trailing bytes are not looked at."""
        text = body.decode("utf-8", "replace").lstrip(" \t\r\n")
        obj, _ = json.JSONDecoder().raw_decode(text)
        return obj

    def _guarded(
        self, method: str, authz: Authz, methods: tuple[str, ...], work: Callable[[], Result], write_only: bool = False
    ) -> Result:
        """etcd's order of checks (the method, then root access) before `work`; the auth or store error it raises
        is written as etcd writes it."""
        if method not in methods:
            return not_allowed(*methods)
        if not self.sec.has_root_access(method, *authz, write_only=write_only):
            return self._no_auth()
        try:
            return work()
        except (AuthError, V2StoreError, ValueError) as e:
            return self._write_error(e)

    def _done(self) -> Result:
        return 200, [JSON_CT, self.cid], b""

    # -- roles
    def _base_roles(self, method: str, authz: Authz) -> Result:
        return self._guarded(
            method,
            authz,
            ("GET",),
            lambda: self._ok({"roles": [role_json(self.sec.get_role(n)) for n in self.sec.all_roles()] or None}),
        )

    def _for_role(self, method: str, authz: Authz, name: str, body: bytes) -> Result:
        return self._guarded(method, authz, ("GET", "PUT", "DELETE"), lambda: self._role(method, name, body))

    def _role(self, method: str, name: str, body: bytes) -> Result:
        if method == "GET":
            return self._ok(role_json(self.sec.get_role(name)))
        if method == "DELETE":
            self.sec.delete_role(name)
            return self._done()
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

    def _base_users(self, method: str, authz: Authz) -> Result:
        return self._guarded(
            method,
            authz,
            ("GET",),
            lambda: self._ok(
                {"users": [self._user_with_roles(self.sec.get_user(n), True) for n in self.sec.all_users()] or None}
            ),
        )

    def _for_user(self, method: str, authz: Authz, name: str, body: bytes) -> Result:
        return self._guarded(method, authz, ("GET", "PUT", "DELETE"), lambda: self._user(method, name, body))

    def _user(self, method: str, name: str, body: bytes) -> Result:
        if method == "GET":
            return self._ok(self._user_with_roles(self.sec.get_user(name), False))
        if method == "DELETE":
            self.sec.delete_user(name)
            return self._done()
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

    # -- enable / disable
    def _enable_disable(self, method: str, authz: Authz) -> Result:
        return self._guarded(method, authz, ("GET", "PUT", "DELETE"), lambda: self._enabled(method), write_only=True)

    def _enabled(self, method: str) -> Result:
        enabled = self.sec.auth_enabled()
        if method == "GET":
            return self._ok({"enabled": enabled})
        if method == "PUT":
            self.sec.enable()
        else:
            self.sec.disable()
        return self._done()
