"""The auth state machine: users, roles, permissions, enable flag and auth revision.

Follows etcd 3.5's server/auth/store.go and etcdserver/apply_auth.go: every Auth RPC is a
raft entry applied here (under the core lock), in etcd's backend buckets `auth`
(authEnabled, authRevision), `authUsers` and `authRoles` holding authpb.User / authpb.Role with
bcrypt password hashes, so real etcd reads an etcd-py data dir (and the other way round).
Every change that etcd "commits" bumps the auth revision exactly where etcd does.
"""

from __future__ import annotations

import base64
import bisect
import struct
from dataclasses import dataclass

from etcdctl_py.proto.authpb import auth_pb2 as apb
from etcdctl_py.proto.etcdserverpb import raft_internal_pb2 as ri
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.server import errors
from etcdctl_py.server.auth_perms import MergedPerms, permitted
from etcdctl_py.server.auth_tokens import SimpleTokens
from etcdctl_py.server.mvcc import Change

ROOT = "root"
MAX_BCRYPT_PASSWORD = 72  # Go's bcrypt (as vendored by etcd 3.5.1) silently uses the first 72 bytes

ADMIN_FIELDS = {
    "auth_enable",
    "auth_disable",
    "auth_status",
    "auth_user_add",
    "auth_user_delete",
    "auth_user_change_password",
    "auth_user_grant_role",
    "auth_user_revoke_role",
    "auth_role_add",
    "auth_role_grant_permission",
    "auth_role_revoke_permission",
    "auth_role_delete",
    "auth_user_list",
    "auth_role_list",
}
AUTH_FIELDS = ADMIN_FIELDS | {"authenticate", "auth_user_get", "auth_role_get"}


@dataclass
class AuthInfo:
    """Who sent a request: user name and the auth revision its credentials were checked at."""

    username: str = ""
    revision: int = 0


def hash_password(password: str, cost: int) -> bytes:
    import bcrypt

    if cost < 4 or cost > 31:
        cost = 10
    return bcrypt.hashpw(password.encode()[:MAX_BCRYPT_PASSWORD], bcrypt.gensalt(cost, prefix=b"2a"))


def check_password(hashed: bytes, password: str) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode()[:MAX_BCRYPT_PASSWORD], hashed)
    except ValueError:
        return False


def _has_root(u: apb.User) -> bool:
    return ROOT in u.roles


class AuthStore:
    def __init__(self, core, bcrypt_cost: int = 10, token_ttl: float = 300.0) -> None:
        self.core = core
        self.bcrypt_cost = bcrypt_cost if 4 <= bcrypt_cost <= 31 else 10
        self.enabled = False
        self.revision = 1
        self.users: dict[str, apb.User] = {}
        self.roles: dict[str, apb.Role] = {}
        self.tokens = SimpleTokens(token_ttl)
        self.cache: dict[str, MergedPerms] = {}
        self.replaying = False

    # ---- recovery ----------------------------------------------------------------------
    def restore(self, buckets: dict[bytes, dict[bytes, bytes]]) -> None:
        """Load the auth buckets of the db (before WAL replay), like etcd's authStore.Recover."""
        a = buckets.get(b"auth", {})
        self.enabled = a.get(b"authEnabled") == b"\x01"
        rev = a.get(b"authRevision")
        self.revision = struct.unpack(">Q", rev)[0] if rev and len(rev) == 8 else 1
        self.users = {
            k.decode("utf-8", "surrogateescape"): apb.User.FromString(v)
            for k, v in buckets.get(b"authUsers", {}).items()
        }
        self.roles = {
            k.decode("utf-8", "surrogateescape"): apb.Role.FromString(v)
            for k, v in buckets.get(b"authRoles", {}).items()
        }
        self.cache.clear()
        if self.enabled:
            self.tokens.enable()

    # ---- permission checks (etcd's Is*Permitted) ---------------------------------------
    def is_op_permitted(self, ai: AuthInfo | None, key: bytes, end: bytes, write: bool) -> None:
        if not self.enabled:
            return
        ai = ai or AuthInfo()
        if ai.revision == 0:
            raise errors.USER_EMPTY
        if ai.revision < self.revision:
            raise errors.AUTH_OLD_REVISION
        user = self.users.get(ai.username)
        if user is None:
            raise errors.PERMISSION_DENIED
        if _has_root(user):
            return
        perms = self.cache.get(ai.username)
        if perms is None:
            perms = MergedPerms()
            for rname in user.roles:
                role = self.roles.get(rname)
                if role is not None:
                    for p in role.keyPermission:
                        perms.add(p)
            self.cache[ai.username] = perms
        if not permitted(perms, key, end, write):
            raise errors.PERMISSION_DENIED

    def check_range(self, ai, key: bytes, end: bytes) -> None:
        self.is_op_permitted(ai, key, end, False)

    def check_put(self, ai, key: bytes) -> None:
        self.is_op_permitted(ai, key, b"", True)

    def check_delete(self, ai, key: bytes, end: bytes) -> None:
        self.is_op_permitted(ai, key, end, True)

    def check_admin(self, ai: AuthInfo | None) -> None:
        if not self.enabled:
            return
        if ai is None or not ai.username:
            raise errors.USER_EMPTY
        user = self.users.get(ai.username)
        if user is None:
            raise errors.USER_NOT_FOUND
        if not _has_root(user):
            raise errors.PERMISSION_DENIED

    def check_txn(self, ai, r: pb.TxnRequest) -> None:
        """checkTxnAuth; nested txns are checked too (etcd 3.5.1 skips them, later etcd does not)."""
        for c in r.compare:
            self.check_range(ai, c.key, c.range_end)
        for reqs in (r.success, r.failure):
            for op in reqs:
                w = op.WhichOneof("request")
                if w == "request_range":
                    self.check_range(ai, op.request_range.key, op.request_range.range_end)
                elif w == "request_put":
                    self.check_put(ai, op.request_put.key)
                elif w == "request_delete_range":
                    d = op.request_delete_range
                    if d.prev_kv:
                        self.check_range(ai, d.key, d.range_end)
                    self.check_delete(ai, d.key, d.range_end)
                elif w == "request_txn":
                    self.check_txn(ai, op.request_txn)

    def check_lease_puts(self, ai, lease_id: int) -> None:
        """A lease's keys must all be writable by whoever attaches to or revokes the lease."""
        lease = self.core.lessor.lookup(lease_id)
        if lease is None or not self.enabled:
            return
        for key in sorted(lease.keys):
            self.check_put(ai, key)

    def check_password(self, name: str, password: str) -> int:
        """CheckPassword (API layer, outside the log): the auth revision it was checked at."""
        if not self.enabled:
            raise errors.AUTH_NOT_ENABLED
        with self.core.lock:
            user = self.users.get(name)
            rev = self.revision
        if user is None:
            raise errors.AUTH_FAILED
        if user.options.no_password:
            raise errors.NO_PASSWORD_USER
        if not check_password(user.password, password):
            raise errors.AUTH_FAILED
        return rev

    def user_of_token(self, token: str) -> AuthInfo:
        hit = self.tokens.lookup(token, self.core.applied_index)
        if hit is None:
            raise errors.INVALID_AUTH_TOKEN
        if isinstance(hit, tuple):  # a JWT carries the auth revision it was signed at
            return AuthInfo(*hit)
        return AuthInfo(hit, self.revision)

    # ---- apply -------------------------------------------------------------------------
    def _commit_revision(self, changes: list[Change]) -> None:
        self.revision += 1
        changes.append(Change(b"auth", b"authRevision", struct.pack(">Q", self.revision)))

    def _put_user(self, u: apb.User, changes: list[Change]) -> None:
        self.users[u.name.decode("utf-8", "surrogateescape")] = u
        changes.append(Change(b"authUsers", u.name, u.SerializeToString()))

    def _put_role(self, r: apb.Role, changes: list[Change]) -> None:
        self.roles[r.name.decode("utf-8", "surrogateescape")] = r
        changes.append(Change(b"authRoles", r.name, r.SerializeToString()))

    def _select_password(self, password: str, hashed: str) -> bytes:
        if password and not hashed:
            return hash_password(password, self.bcrypt_cost)  # entries from etcd < 3.5
        try:
            return base64.b64decode(hashed, validate=True)
        except ValueError:
            raise errors.NO_PASSWORD_USER from None

    def apply(self, req: ri.InternalRaftRequest, ai: AuthInfo, index: int):
        """Apply an auth entry: (response, [], backend changes); None for other entries."""
        which = next((f for f in AUTH_FIELDS if req.HasField(f)), None)
        if which is None:
            return None
        if which in ADMIN_FIELDS:
            self.check_admin(ai)
        changes: list[Change] = []
        resp = getattr(self, "_" + which)(getattr(req, which), ai, index, changes)
        resp.header.CopyFrom(self.core.header())
        return resp, [], changes

    def _auth_enable(self, r, ai, index, changes):
        if not self.enabled:
            root = self.users.get(ROOT)
            if root is None:
                raise errors.ROOT_USER_NOT_EXIST
            if not _has_root(root):
                raise errors.ROOT_ROLE_NOT_EXIST
            changes.append(Change(b"auth", b"authEnabled", b"\x01"))
            self.enabled = True
            self.tokens.enable()
            self.cache.clear()
        return pb.AuthEnableResponse()

    def _auth_disable(self, r, ai, index, changes):
        if self.enabled:
            changes.append(Change(b"auth", b"authEnabled", b"\x00"))
            self._commit_revision(changes)
            self.enabled = False
            self.tokens.disable()
        return pb.AuthDisableResponse()

    def _auth_status(self, r, ai, index, changes):
        return pb.AuthStatusResponse(enabled=self.enabled, authRevision=self.revision)

    def _authenticate(self, r, ai, index, changes):
        if not self.enabled:
            raise errors.AUTH_NOT_ENABLED
        user = self.users.get(r.name)
        if user is None or user.options.no_password:
            raise errors.AUTH_FAILED
        token = f"{r.simple_token}.{index}"
        if not self.replaying:
            token = self.tokens.assign(r.name, r.simple_token, index)
        return pb.AuthenticateResponse(token=token)

    def _auth_user_add(self, r, ai, index, changes):
        if not r.name:
            raise errors.USER_EMPTY
        if r.name in self.users:
            raise errors.USER_ALREADY_EXIST
        u = apb.User(name=r.name.encode())
        if r.HasField("options"):
            u.options.CopyFrom(r.options)
        else:
            u.options.SetInParent()
        if not u.options.no_password:
            u.password = self._select_password(r.password, r.hashedPassword)
        self._put_user(u, changes)
        self._commit_revision(changes)
        return pb.AuthUserAddResponse()

    def _auth_user_delete(self, r, ai, index, changes):
        if self.enabled and r.name == ROOT:
            raise errors.INVALID_AUTH_MGMT
        if r.name not in self.users:
            raise errors.USER_NOT_FOUND
        u = self.users.pop(r.name)
        changes.append(Change(b"authUsers", u.name, None))
        self._commit_revision(changes)
        self.cache.pop(r.name, None)
        self.tokens.invalidate_user(r.name)
        return pb.AuthUserDeleteResponse()

    def _auth_user_change_password(self, r, ai, index, changes):
        user = self.users.get(r.name)
        if user is None:
            raise errors.USER_NOT_FOUND
        u = apb.User()
        u.CopyFrom(user)
        u.ClearField("password")
        if not user.options.no_password:
            u.password = self._select_password(r.password, r.hashedPassword)
        self._put_user(u, changes)
        self._commit_revision(changes)
        self.cache.pop(r.name, None)
        self.tokens.invalidate_user(r.name)
        return pb.AuthUserChangePasswordResponse()

    def _auth_user_grant_role(self, r, ai, index, changes):
        user = self.users.get(r.user)
        if user is None:
            raise errors.USER_NOT_FOUND
        if r.role != ROOT and r.role not in self.roles:
            raise errors.ROLE_NOT_FOUND
        roles = list(user.roles)
        i = bisect.bisect_left(roles, r.role)
        if i < len(roles) and roles[i] == r.role:
            return pb.AuthUserGrantRoleResponse()
        u = apb.User()
        u.CopyFrom(user)
        del u.roles[:]
        u.roles.extend(sorted(roles + [r.role]))
        self._put_user(u, changes)
        self.cache.pop(r.user, None)
        self._commit_revision(changes)
        return pb.AuthUserGrantRoleResponse()

    def _auth_user_get(self, r, ai, index, changes):
        try:
            self.check_admin(ai)
        except errors.EtcdError:
            if r.name != ai.username:
                raise
        user = self.users.get(r.name)
        if user is None:
            raise errors.USER_NOT_FOUND
        return pb.AuthUserGetResponse(roles=list(user.roles))

    def _auth_user_list(self, r, ai, index, changes):
        names = sorted(self.users.values(), key=lambda u: u.name)
        return pb.AuthUserListResponse(users=[u.name.decode("utf-8", "replace") for u in names])

    def _auth_user_revoke_role(self, r, ai, index, changes):
        if self.enabled and r.name == ROOT and r.role == ROOT:
            raise errors.INVALID_AUTH_MGMT
        user = self.users.get(r.name)
        if user is None:
            raise errors.USER_NOT_FOUND
        kept = [x for x in user.roles if x != r.role]
        if len(kept) == len(user.roles):
            raise errors.ROLE_NOT_GRANTED
        u = apb.User()
        u.CopyFrom(user)
        del u.roles[:]
        u.roles.extend(kept)
        self._put_user(u, changes)
        self.cache.pop(r.name, None)
        self._commit_revision(changes)
        return pb.AuthUserRevokeRoleResponse()

    def _auth_role_add(self, r, ai, index, changes):
        if not r.name:
            raise errors.ROLE_EMPTY
        if r.name in self.roles:
            raise errors.ROLE_ALREADY_EXIST
        self._put_role(apb.Role(name=r.name.encode()), changes)
        self._commit_revision(changes)
        return pb.AuthRoleAddResponse()

    def _auth_role_get(self, r, ai, index, changes):
        try:
            self.check_admin(ai)
        except errors.EtcdError:
            u = self.users.get(ai.username)
            if u is None or r.role not in u.roles:
                raise
        role = self.roles.get(r.role)
        if role is None:
            raise errors.ROLE_NOT_FOUND
        return pb.AuthRoleGetResponse(perm=list(role.keyPermission))

    def _auth_role_list(self, r, ai, index, changes):
        names = sorted(x.name for x in self.roles.values())
        return pb.AuthRoleListResponse(roles=[n.decode("utf-8", "replace") for n in names])

    def _auth_role_delete(self, r, ai, index, changes):
        if self.enabled and r.role == ROOT:
            raise errors.INVALID_AUTH_MGMT
        role = self.roles.pop(r.role, None)
        if role is None:
            raise errors.ROLE_NOT_FOUND
        changes.append(Change(b"authRoles", role.name, None))
        for name, user in sorted(self.users.items(), key=lambda kv: kv[1].name):
            kept = [x for x in user.roles if x != r.role]
            if len(kept) == len(user.roles):
                continue
            u = apb.User()
            u.CopyFrom(user)
            del u.roles[:]
            u.roles.extend(kept)
            self._put_user(u, changes)
            self.cache.pop(name, None)
        self._commit_revision(changes)
        return pb.AuthRoleDeleteResponse()

    def _auth_role_grant_permission(self, r, ai, index, changes):
        if not r.HasField("perm"):
            raise errors.PERMISSION_NOT_GIVEN
        old = self.roles.get(r.name)
        if old is None:
            raise errors.ROLE_NOT_FOUND
        role = apb.Role()
        role.CopyFrom(old)
        perms = list(role.keyPermission)
        keys = [p.key for p in perms]
        i = bisect.bisect_left(keys, r.perm.key)
        if i < len(perms) and perms[i].key == r.perm.key and perms[i].range_end == r.perm.range_end:
            role.keyPermission[i].permType = r.perm.permType
        else:
            newp = apb.Permission(key=r.perm.key, range_end=r.perm.range_end, permType=r.perm.permType)
            merged = sorted(perms + [newp], key=lambda p: p.key)  # stable, like Go's insertion sort
            del role.keyPermission[:]
            role.keyPermission.extend(merged)
        self._put_role(role, changes)
        self.cache.clear()
        self._commit_revision(changes)
        return pb.AuthRoleGrantPermissionResponse()

    def _auth_role_revoke_permission(self, r, ai, index, changes):
        old = self.roles.get(r.role)
        if old is None:
            raise errors.ROLE_NOT_FOUND
        kept = [p for p in old.keyPermission if not (p.key == r.key and p.range_end == r.range_end)]
        if len(kept) == len(old.keyPermission):
            raise errors.PERMISSION_NOT_GRANTED
        role = apb.Role(name=old.name)
        role.keyPermission.extend(kept)
        self._put_role(role, changes)
        self.cache.clear()
        self._commit_revision(changes)
        return pb.AuthRoleRevokePermissionResponse()
