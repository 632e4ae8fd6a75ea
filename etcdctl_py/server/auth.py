"""Auth store hook points. Auth (users/roles/permissions) is not implemented yet: AuthStatus answers
"disabled", every other Auth RPC answers etcd's "authentication is not enabled" style errors so
clients get a clear message rather than a crash."""

from __future__ import annotations

import grpc

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from etcdctl_py.server import errors


class AuthStore:
    def __init__(self, core, bcrypt_cost: int = 10) -> None:
        self.core = core
        self.enabled = False
        self.revision = 1

    def restore(self) -> None:
        b = self.core.persister.backend.buckets.get(b"auth", {})
        self.enabled = b.get(b"authEnabled") == b"\x01"

    def apply(self, req):
        return None


class GrpcAuth:
    """Per-request checks; with auth disabled every request is allowed (as in etcd)."""

    def __init__(self, store: AuthStore) -> None:
        self.store = store
        self.peer_cn: dict[int, str] = {}

    def set_peer_cn(self, port: int, cn: str) -> None:
        self.peer_cn[port] = cn

    def check(self, context, kind: str, request=None) -> str:
        return ""

    def watch_permitted(self, context, creq) -> bool:
        return True


class AuthService(pbg.AuthServicer):
    def __init__(self, core, gauth: GrpcAuth) -> None:
        self.core, self.gauth = core, gauth

    def AuthStatus(self, request, context):
        return pb.AuthStatusResponse(header=self.core.header(), enabled=self.gauth.store.enabled,
                                     authRevision=self.gauth.store.revision)


def _not_implemented(name):
    def fn(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"etcd-py: {name} is not implemented yet")

    return fn


for _n in ["AuthEnable", "AuthDisable", "Authenticate", "UserAdd", "UserGet", "UserList", "UserDelete",
           "UserChangePassword", "UserGrantRole", "UserRevokeRole", "RoleAdd", "RoleGet", "RoleList",
           "RoleDelete", "RoleGrantPermission", "RoleRevokePermission"]:
    setattr(AuthService, _n, _not_implemented(_n))

_ = errors
