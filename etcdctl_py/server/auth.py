"""The Auth gRPC service and the per-request identity (token metadata or TLS client-cert CN).

Like etcd 3.5 (etcdserver/v3_server.go): passwords are bcrypt-hashed before the request is
logged (the WAL never holds a clear password), Authenticate checks the password outside the log
and then logs an InternalAuthenticateRequest whose index becomes part of the simple token, and
every other Auth RPC (reads included) is a log entry applied by auth_store.AuthStore.
"""

from __future__ import annotations

import base64
import threading

from etcdctl_py.proto.etcdserverpb import raft_internal_pb2 as ri
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from etcdctl_py.server import errors
from etcdctl_py.server.auth_store import AuthInfo, AuthStore, hash_password
from etcdctl_py.server.grpclink import key_of_peer
from etcdctl_py.server.services import Auth, rpc

_RAW = {
    errors.USER_EMPTY.message: "auth: user name is empty",
    errors.USER_NOT_FOUND.message: "auth: user not found",
    errors.PERMISSION_DENIED.message: "auth: permission denied",
    errors.INVALID_AUTH_TOKEN.message: "auth: invalid auth token",
}

__all__ = ["AuthInfo", "AuthStore", "GrpcAuth", "AuthService"]


class GrpcAuth(Auth):
    """Who is calling: etcd's AuthInfoFromCtx (token) then AuthInfoFromTLS (--client-cert-auth)."""

    def __init__(self, store: AuthStore, client_cert_auth: bool = False) -> None:
        self.store = store
        self.client_cert_auth = client_cert_auth
        self.peer_cn: dict[str, str] = {}  # grpclink.peer_key of a spliced connection -> its verified CN
        self.lock = threading.Lock()

    def set_peer_cn(self, key: str, cn: str | None) -> None:
        """Called only by the TLS front listener, before it connects from the private socket path `key`
        and again with None when that connection is gone."""
        with self.lock:
            if cn is None:
                self.peer_cn.pop(key, None)
            else:
                self.peer_cn[key] = cn

    def info(self, context) -> AuthInfo | None:
        """The caller's AuthInfo, None when anonymous; INVALID_AUTH_TOKEN for an unknown token."""
        token = None
        metadata = context.invocation_metadata() or ()
        for k, v in metadata:
            if k == "token":
                token = v
                break
            if k == "authorization" and token is None:
                token = v
        if token is not None:
            return self.store.user_of_token(token)
        if self.client_cert_auth:
            return self._tls_info(context, metadata)
        return None

    def _tls_info(self, context, metadata) -> AuthInfo | None:
        """etcd's AuthInfoFromTLS: the CN the front listener verified for this very connection; a
        connection it did not register (anyone else reaching grpcio) has none, and a gRPC-gateway
        request (grpcgateway-accept metadata) never uses the CN."""
        with self.lock:
            cn = self.peer_cn.get(key_of_peer(context.peer() or ""))
        if cn is None or any(k == "grpcgateway-accept" for k, _ in metadata):
            return None
        return AuthInfo(cn, self.store.revision)

    def admin(self, context) -> AuthInfo | None:
        """The API-layer root check of Defragment/Hash/HashKV/Snapshot and member changes."""
        ai = self.info(context)
        self.store.check_admin(ai)
        return ai

    def admin_raw(self, context) -> AuthInfo | None:
        """Maintenance's own root check: etcd returns the auth package error unconverted (Unknown)."""
        try:
            return self.admin(context)
        except errors.EtcdError as e:
            raw = _RAW.get(e.message)
            if raw is None:
                raise
            raise errors.EtcdError(errors.C.UNKNOWN, raw) from None

    def watch_permitted(self, context, key: bytes, end: bytes) -> bool:
        try:
            ai = self.info(context)
            if self.store.enabled:
                with self.store.core.lock:
                    self.store.check_range(ai or AuthInfo(), key, end)
        except errors.EtcdError:
            return False
        return True


class AuthService(pbg.AuthServicer):
    def __init__(self, core, gauth: GrpcAuth) -> None:
        self.core, self.gauth = core, gauth

    def _logged(self, field: str, request, context):
        ai = self.gauth.info(context)
        req = ri.InternalRaftRequest()
        getattr(req, field).CopyFrom(request)
        return self.core.propose(req, ai)

    @rpc
    def AuthEnable(self, request, context):
        return self._logged("auth_enable", request, context)

    @rpc
    def AuthDisable(self, request, context):
        return self._logged("auth_disable", request, context)

    @rpc
    def AuthStatus(self, request, context):
        return self._logged("auth_status", request, context)

    @rpc
    def Authenticate(self, request, context):
        store = self.gauth.store
        while True:
            checked = store.check_password(request.name, request.password)
            req = ri.InternalRaftRequest(
                authenticate=ri.InternalAuthenticateRequest(name=request.name, simple_token=store.tokens.gen_prefix())
            )
            resp = self.core.propose(req)
            if checked == store.revision:
                return resp

    @rpc
    def UserAdd(self, request, context):
        r = pb.AuthUserAddRequest()
        r.CopyFrom(request)
        if not r.HasField("options") or not r.options.no_password:
            r.hashedPassword = base64.b64encode(hash_password(r.password, self.gauth.store.bcrypt_cost)).decode()
            r.password = ""
        return self._logged("auth_user_add", r, context)

    @rpc
    def UserGet(self, request, context):
        return self._logged("auth_user_get", request, context)

    @rpc
    def UserList(self, request, context):
        return self._logged("auth_user_list", request, context)

    @rpc
    def UserDelete(self, request, context):
        return self._logged("auth_user_delete", request, context)

    @rpc
    def UserChangePassword(self, request, context):
        r = pb.AuthUserChangePasswordRequest()
        r.CopyFrom(request)
        if r.password:
            r.hashedPassword = base64.b64encode(hash_password(r.password, self.gauth.store.bcrypt_cost)).decode()
            r.password = ""
        return self._logged("auth_user_change_password", r, context)

    @rpc
    def UserGrantRole(self, request, context):
        return self._logged("auth_user_grant_role", request, context)

    @rpc
    def UserRevokeRole(self, request, context):
        return self._logged("auth_user_revoke_role", request, context)

    @rpc
    def RoleAdd(self, request, context):
        return self._logged("auth_role_add", request, context)

    @rpc
    def RoleGet(self, request, context):
        return self._logged("auth_role_get", request, context)

    @rpc
    def RoleList(self, request, context):
        return self._logged("auth_role_list", request, context)

    @rpc
    def RoleDelete(self, request, context):
        return self._logged("auth_role_delete", request, context)

    @rpc
    def RoleGrantPermission(self, request, context):
        return self._logged("auth_role_grant_permission", request, context)

    @rpc
    def RoleRevokePermission(self, request, context):
        return self._logged("auth_role_revoke_permission", request, context)
