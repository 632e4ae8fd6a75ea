"""etcd's v2 auth (users, roles, enable/disable) kept in the v2 store under "/2", as etcd 3.5 does.

Every read and write goes through the same v2 store operations etcd's v2auth package issues
(including the one-time creation of "/2", "/2/users/", "/2/roles/" and "/2/enabled"), so the
etcd index moves exactly as on real etcd. Users and roles are plain dicts shaped like the Go
structs; None stands for a nil slice and [] for an empty one, because etcd compares old and
new records with reflect.DeepEqual, which tells them apart.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from etcdctl_py.gofmt import go_json, go_struct

from .errors import ECODE_KEY_NOT_FOUND, ECODE_NODE_EXIST, V2StoreError
from .store import Store

PERMS_PREFIX = "/2"
ROOT = "root"
GUEST = "guest"
BCRYPT_COST = 10  # bcrypt.DefaultCost
MAX_PASSWORD = 72  # Go's bcrypt of 2021 (etcd 3.5.1) silently uses the first 72 bytes


def _perm(read: list[str] | None, write: list[str] | None) -> dict:
    return {"kv": {"read": read, "write": write}}


ROOT_ROLE = {"role": ROOT, "permissions": _perm(["/*"], ["/*"]), "grant": None, "revoke": None}
GUEST_ROLE = {"role": GUEST, "permissions": _perm(["/*"], ["/*"]), "grant": None, "revoke": None}


class AuthError(Exception):
    """v2auth.Error: an HTTP status and an "auth: ..." message."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(status, msg)
        self.status, self.msg = status, "auth: " + msg


# ---- Go struct <-> JSON -------------------------------------------------------------------
def _strs(v: Any) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("not a string list")
    return list(v)


def user_from_json(d: Any) -> dict:
    if not isinstance(d, dict):
        raise ValueError("not an object")
    out: dict[str, Any] = {"user": "", "password": "", "roles": None, "grant": None, "revoke": None}
    for k, v in d.items():  # encoding/json: case-insensitive field names
        f = k.lower()
        if f in ("user", "password"):
            if v is not None and not isinstance(v, str):
                raise ValueError(f)
            out[f] = v or ""
        elif f in ("roles", "grant", "revoke"):
            out[f] = _strs(v)
    return out


def _perms_from_json(v: Any) -> dict | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError("permissions")
    read = write = None
    for k, kv in v.items():
        if k.lower() != "kv" or kv is None:
            continue
        if not isinstance(kv, dict):
            raise ValueError("kv")
        for k2, lst in kv.items():
            if k2.lower() == "read":
                read = _strs(lst)
            elif k2.lower() == "write":
                write = _strs(lst)
    return _perm(read, write)


def role_from_json(d: Any) -> dict:
    if not isinstance(d, dict):
        raise ValueError("not an object")
    out = {"role": "", "permissions": _perm(None, None), "grant": None, "revoke": None}
    for k, v in d.items():
        f = k.lower()
        if f == "role":
            if v is not None and not isinstance(v, str):
                raise ValueError(f)
            out["role"] = v or ""
        elif f == "permissions":
            out["permissions"] = _perms_from_json(v) or _perm(None, None)
        elif f in ("grant", "revoke"):
            out[f] = _perms_from_json(v)
    return out


def user_json(u: dict, with_password: bool = True) -> dict:
    """v2auth's User struct."""
    return go_struct(
        ("user", u["user"], ""),
        ("password", u.get("password") if with_password else "", "omitempty"),
        ("roles", u.get("roles"), ""),
        ("grant", u.get("grant"), "omitempty"),
        ("revoke", u.get("revoke"), "omitempty"),
    )


def role_json(r: dict) -> dict:
    """v2auth's Role struct (Grant and Revoke are pointers)."""
    return go_struct(
        ("role", r["role"], ""),
        ("permissions", r["permissions"], ""),
        ("grant", r.get("grant"), "ptr"),
        ("revoke", r.get("revoke"), "ptr"),
    )


def perms_empty(p: dict | None) -> bool:
    return p is None or (not p["kv"]["read"] and not p["kv"]["write"])


# ---- passwords --------------------------------------------------------------------------
def hash_password(password: str) -> str:
    import bcrypt

    raw = password.encode("utf-8", "surrogateescape")[:MAX_PASSWORD]
    return bcrypt.hashpw(raw, bcrypt.gensalt(BCRYPT_COST, prefix=b"2a")).decode()


def check_password(hashed: str, password: str) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode("utf-8", "surrogateescape")[:MAX_PASSWORD], hashed.encode())
    except ValueError:
        return False


# ---- permission matching ------------------------------------------------------------------
def _simple_match(pat: str, key: str) -> bool:
    if pat.endswith("*"):
        return key.startswith(pat[:-1])
    return key == pat


def has_key_access(role: dict, key: str, write: bool, recursive: bool) -> bool:
    if role["role"] == ROOT:
        return True
    kv = role["permissions"]["kv"]
    for pat in (kv["write"] if write else kv["read"]) or []:
        if not pat:
            continue  # Go would index pattern[len-1] and panic; an empty pattern never matches here
        if recursive:
            if pat.endswith("*") and key.startswith(pat[:-1]):
                return True
        elif _simple_match(pat, key):
            return True
    return False


class V2AuthStore:
    """v2auth.store over our v2 Store; `before_write` is called before each store write (raft index)."""

    def __init__(self, store: Store, before_write: Callable[[], None]) -> None:
        self.store = store
        self.before_write = before_write
        self.ensured_once = False

    # -- the raw requests v2auth makes
    @staticmethod
    def _path(res: str) -> str:
        return posixpath.normpath(PERMS_PREFIX + "/" + res)

    def _get(self, res: str) -> dict:
        return self.store.get(self._path(res), False, False).node

    def _put(self, res: str, value: str, prev_exist: bool, dir_: bool = False) -> None:
        self.before_write()
        p = self._path(res) if res else PERMS_PREFIX
        if prev_exist:
            self.store.update(p, value, None)
        else:
            self.store.create(p, dir_, value, False, None)

    def _ensure_dirs(self) -> None:
        if self.ensured_once:
            return
        for res, is_dir, value in (
            (PERMS_PREFIX, True, ""),
            (PERMS_PREFIX + "/users/", True, ""),
            (PERMS_PREFIX + "/roles/", True, ""),
            (PERMS_PREFIX + "/enabled", False, "false"),
        ):
            with _unless_store_error(ECODE_NODE_EXIST):
                self.before_write()
                self.store.create(res, is_dir, value, False, None)
        self.ensured_once = True

    def _set(self, res: str, value: Any, prev_exist: bool) -> None:
        self._ensure_dirs()
        self._put(res, go_json(value), prev_exist)

    def _delete(self, res: str) -> None:
        self._ensure_dirs()
        self.before_write()
        self.store.delete(self._path(res), False, False)

    def _names(self, res: str) -> list[str]:
        """The names under a v2auth directory; none before it exists."""
        node: dict = {}
        with _unless_store_error(ECODE_KEY_NOT_FOUND):
            node = self._get(res)
        return [posixpath.basename(n["key"]) for n in node.get("nodes") or []]

    # -- users
    def all_users(self) -> list[str]:
        return sorted(self._names("/users/"))

    def get_user(self, name: str) -> dict:
        with _store_error_as(ECODE_KEY_NOT_FOUND, 404, f"User {name} does not exist."):
            node = self._get("/users/" + name)
        u = user_from_json(json.loads(node.get("value", "")))
        if u["user"] == ROOT:
            u = _attach_root(u)
        return u

    def create_user(self, u: dict) -> dict:
        if u["user"] == ROOT:
            u = _attach_root(u)
        if u["password"] == "":
            raise AuthError(400, f"Cannot create user {u['user']} with an empty password")
        u = dict(u, password=hash_password(u["password"]))
        with _store_error_as(ECODE_NODE_EXIST, 409, f"User {u['user']} already exists."):
            self._set("/users/" + u["user"], user_json(u), False)
        return u

    def create_or_update_user(self, u: dict) -> tuple[dict, bool]:
        try:
            self.get_user(u["user"])
        except AuthError:
            return self.create_user(u), True
        return self.update_user(u), False

    def delete_user(self, name: str) -> None:
        if self.auth_enabled() and name == ROOT:
            raise AuthError(403, "Cannot delete root user while auth is enabled.")
        with _store_error_as(ECODE_KEY_NOT_FOUND, 404, f"User {name} does not exist"):
            self._delete("/users/" + name)

    def update_user(self, u: dict) -> dict:
        old = self.get_user(u["user"])  # its AuthError passes through unchanged, as in etcd
        new = _merge_user(old, u)
        if _norm_user(old) == _norm_user(new):
            raise AuthError(400, "User not updated. Use grant/revoke/password to update the user.")
        self._set("/users/" + u["user"], user_json(new), True)
        return new

    # -- roles
    def all_roles(self) -> list[str]:
        return sorted([ROOT, *self._names("/roles/")])

    def get_role(self, name: str) -> dict:
        if name == ROOT:
            return json.loads(json.dumps(ROOT_ROLE))
        with _store_error_as(ECODE_KEY_NOT_FOUND, 404, f"Role {name} does not exist."):
            node = self._get("/roles/" + name)
        return role_from_json(json.loads(node.get("value", "")))

    def create_role(self, r: dict) -> None:
        if r["role"] == ROOT:
            raise AuthError(403, f"Cannot modify role {r['role']}: is root role.")
        with _store_error_as(ECODE_NODE_EXIST, 409, f"Role {r['role']} already exists."):
            self._set("/roles/" + r["role"], role_json(r), False)

    def delete_role(self, name: str) -> None:
        if name == ROOT:
            raise AuthError(403, f"Cannot modify role {name}: is root role.")
        with _store_error_as(ECODE_KEY_NOT_FOUND, 404, f"Role {name} doesn't exist."):
            self._delete("/roles/" + name)

    def update_role(self, r: dict) -> dict:
        if r["role"] == ROOT:
            raise AuthError(403, f"Cannot modify role {r['role']}: is root role.")
        old = self.get_role(r["role"])  # its AuthError passes through unchanged, as in etcd
        new = _merge_role(old, r)
        if _norm_role(old) == _norm_role(new):
            raise AuthError(400, "Role not updated. Use grant/revoke to update the role.")
        self._set("/roles/" + r["role"], role_json(new), True)
        return new

    # -- enable / disable
    def auth_enabled(self) -> bool:
        try:
            node = self._get("/enabled")
        except V2StoreError:
            return False
        try:
            return json.loads(node.get("value", "")) is True
        except ValueError:
            return False

    def enable(self) -> None:
        if self.auth_enabled():
            raise AuthError(409, "already enabled")
        try:
            self.get_user(ROOT)
        except (AuthError, V2StoreError):
            raise AuthError(409, "No root user available, please create one") from None
        try:
            self.get_role(GUEST)
        except AuthError:
            self.create_role(json.loads(json.dumps(GUEST_ROLE)))
        self._set("/enabled", True, True)

    def disable(self) -> None:
        if not self.auth_enabled():
            raise AuthError(409, "already disabled")
        self._set("/enabled", False, True)

    # -- request checks (v2http/client_auth.go)
    def user_from_basic_auth(self, authorization: str) -> dict | None:
        creds = parse_basic_auth(authorization)
        if creds is None:
            return None
        try:
            u = self.get_user(creds[0])
        except (AuthError, V2StoreError, ValueError):
            return None
        return u if check_password(u["password"], creds[1]) else None

    def user_from_cn(self, cn: str) -> dict | None:
        """userFromClientCertificate (the leaf certificate's CN only)."""
        try:
            return self.get_user(cn)
        except (AuthError, V2StoreError, ValueError):
            return None

    def has_root_access(self, method: str, authorization: str, cn: str | None = None, write_only: bool = False) -> bool:
        """cn: the client certificate's CN when --client-cert-auth is on, else None."""
        if write_only and method in ("GET", "HEAD"):
            return True
        if not self.auth_enabled():
            return True
        if authorization == "" and cn is not None:
            u = self.user_from_cn(cn)
        else:
            u = self.user_from_basic_auth(authorization)
        return u is not None and ROOT in (u["roles"] or [])

    def has_key_access(self, method: str, authorization: str, key: str, recursive: bool, cn: str | None = None) -> bool:
        if not self.auth_enabled():
            return True
        write = method not in ("GET", "HEAD")
        if authorization == "":
            u = self.user_from_cn(cn) if cn is not None else None
            if u is None:
                try:
                    guest = self.get_role(GUEST)
                except (AuthError, V2StoreError, ValueError):
                    return False
                return has_key_access(guest, key, write, False)
        else:
            u = self.user_from_basic_auth(authorization)
            if u is None:
                return False
        for name in u["roles"] or []:
            try:
                role = self.get_role(name)
            except (AuthError, V2StoreError, ValueError):
                continue
            if has_key_access(role, key, write, recursive):
                return True
        return False


@contextmanager
def _unless_store_error(code: int) -> Iterator[None]:
    """Go on past the v2 store error `code` (v2auth's "already there" and "not yet there" cases)."""
    try:
        yield
    except V2StoreError as e:
        if e.code != code:
            raise


@contextmanager
def _store_error_as(code: int, status: int, msg: str) -> Iterator[None]:
    """The v2 store error `code` becomes v2auth's AuthError(status, msg); any other passes unchanged."""
    try:
        yield
    except V2StoreError as e:
        if e.code != code:
            raise
        raise AuthError(status, msg) from None


def parse_basic_auth(h: str) -> tuple[str, str] | None:
    """net/http Request.BasicAuth."""
    prefix = "Basic "
    if len(h) < len(prefix) or h[: len(prefix)].lower() != prefix.lower():
        return None
    try:
        raw = base64.b64decode(h[len(prefix) :], validate=True).decode("utf-8", "surrogateescape")
    except ValueError:
        return None
    user, sep, pw = raw.partition(":")
    return (user, pw) if sep else None


def _attach_root(u: dict) -> dict:
    roles = u.get("roles")
    if roles is None or ROOT not in roles:
        u = dict(u, roles=[*(roles or []), ROOT])
    return u


def _norm_user(u: dict) -> tuple:
    return (u["user"], u["password"], u.get("roles"), u.get("grant"), u.get("revoke"))


def _norm_role(r: dict) -> tuple:
    return (r["role"], json.dumps(r["permissions"]), json.dumps(r.get("grant")), json.dumps(r.get("revoke")))


def _merge_user(old: dict, new: dict) -> dict:
    if old["user"] != new["user"]:
        raise AuthError(409, f"Merging user data with conflicting usernames: {old['user']} {new['user']}")
    pw = hash_password(new["password"]) if new["password"] != "" else old["password"]
    roles = set(old.get("roles") or [])
    for g in new.get("grant") or []:
        if g in roles:
            raise AuthError(409, f"Granting duplicate role {g} for user {new['user']}")
        roles.add(g)
    for r in new.get("revoke") or []:
        if r not in roles:
            raise AuthError(409, f"Revoking ungranted role {r} for user {new['user']}")
        roles.discard(r)
    return {"user": old["user"], "password": pw, "roles": sorted(roles), "grant": None, "revoke": None}


def _merge_role(old: dict, new: dict) -> dict:
    if old["role"] != new["role"]:
        raise AuthError(409, f"Merging role with conflicting names: {old['role']} {new['role']}")
    perms = old["permissions"]
    if new.get("grant") is not None:
        kv, g = perms["kv"], new["grant"]["kv"]
        read, write = set(kv["read"] or []), set(kv["write"] or [])
        for r in g["read"] or []:
            if r in read:
                raise AuthError(409, f"Granting duplicate read permission {r}")
            read.add(r)
        for w in g["write"] or []:
            if w in write:
                raise AuthError(409, f"Granting duplicate write permission {w}")
            write.add(w)
        perms = _perm(sorted(read), sorted(write))
    if new.get("revoke") is not None:
        kv, rv = perms["kv"], new["revoke"]["kv"]
        read, write = set(kv["read"] or []), set(kv["write"] or [])
        read -= set(rv["read"] or [])
        write -= set(rv["write"] or [])
        perms = _perm(sorted(read), sorted(write))
    return {"role": old["role"], "permissions": perms, "grant": None, "revoke": None}
