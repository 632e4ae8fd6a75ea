"""Auth service: enable/disable/status, users, roles and permissions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.proto.authpb import auth_pb2
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout

PERM_TYPES: dict[str, auth_pb2.Permission.Type] = {
    "READ": auth_pb2.Permission.READ,
    "WRITE": auth_pb2.Permission.WRITE,
    "READWRITE": auth_pb2.Permission.READWRITE,
}


class Auth(ServiceHandle):
    """Typed wrapper around etcd's Auth service. `timeout=None` waits forever (etcdctl's user/role verbs)."""

    service = "Auth"

    def auth_enable(self, *, timeout: Timeout = ...) -> pb.AuthEnableResponse:
        return self._unary("AuthEnable", pb.AuthEnableRequest(), pb.AuthEnableResponse, timeout)

    def auth_disable(self, *, timeout: Timeout = ...) -> pb.AuthDisableResponse:
        return self._unary("AuthDisable", pb.AuthDisableRequest(), pb.AuthDisableResponse, timeout)

    def auth_status(self, *, timeout: Timeout = ...) -> pb.AuthStatusResponse:
        return self._unary("AuthStatus", pb.AuthStatusRequest(), pb.AuthStatusResponse, timeout)

    # users
    def user_add(
        self, name: str, password: str = "", *, no_password: bool = False, timeout: Timeout = ...
    ) -> pb.AuthUserAddResponse:
        req = pb.AuthUserAddRequest(name=name, password=password)
        req.options.CopyFrom(auth_pb2.UserAddOptions(no_password=no_password))
        return self._unary("UserAdd", req, pb.AuthUserAddResponse, timeout)

    def user_delete(self, name: str, *, timeout: Timeout = ...) -> pb.AuthUserDeleteResponse:
        return self._unary("UserDelete", pb.AuthUserDeleteRequest(name=name), pb.AuthUserDeleteResponse, timeout)

    def user_get(self, name: str, *, timeout: Timeout = ...) -> pb.AuthUserGetResponse:
        return self._unary("UserGet", pb.AuthUserGetRequest(name=name), pb.AuthUserGetResponse, timeout)

    def user_list(self, *, timeout: Timeout = ...) -> pb.AuthUserListResponse:
        return self._unary("UserList", pb.AuthUserListRequest(), pb.AuthUserListResponse, timeout)

    def user_change_password(
        self, name: str, password: str, *, timeout: Timeout = ...
    ) -> pb.AuthUserChangePasswordResponse:
        req = pb.AuthUserChangePasswordRequest(name=name, password=password)
        return self._unary("UserChangePassword", req, pb.AuthUserChangePasswordResponse, timeout)

    def user_grant_role(self, user: str, role: str, *, timeout: Timeout = ...) -> pb.AuthUserGrantRoleResponse:
        return self._unary(
            "UserGrantRole", pb.AuthUserGrantRoleRequest(user=user, role=role), pb.AuthUserGrantRoleResponse, timeout
        )

    def user_revoke_role(self, user: str, role: str, *, timeout: Timeout = ...) -> pb.AuthUserRevokeRoleResponse:
        return self._unary(
            "UserRevokeRole", pb.AuthUserRevokeRoleRequest(name=user, role=role), pb.AuthUserRevokeRoleResponse, timeout
        )

    # roles
    def role_add(self, role: str, *, timeout: Timeout = ...) -> pb.AuthRoleAddResponse:
        return self._unary("RoleAdd", pb.AuthRoleAddRequest(name=role), pb.AuthRoleAddResponse, timeout)

    def role_delete(self, role: str, *, timeout: Timeout = ...) -> pb.AuthRoleDeleteResponse:
        return self._unary("RoleDelete", pb.AuthRoleDeleteRequest(role=role), pb.AuthRoleDeleteResponse, timeout)

    def role_get(self, role: str, *, timeout: Timeout = ...) -> pb.AuthRoleGetResponse:
        return self._unary("RoleGet", pb.AuthRoleGetRequest(role=role), pb.AuthRoleGetResponse, timeout)

    def role_list(self, *, timeout: Timeout = ...) -> pb.AuthRoleListResponse:
        return self._unary("RoleList", pb.AuthRoleListRequest(), pb.AuthRoleListResponse, timeout)

    def role_grant_permission(
        self, role: str, key: bytes, range_end: bytes, perm_type: auth_pb2.Permission.Type, *, timeout: Timeout = ...
    ) -> pb.AuthRoleGrantPermissionResponse:
        req = pb.AuthRoleGrantPermissionRequest(name=role)
        req.perm.CopyFrom(auth_pb2.Permission(permType=perm_type, key=key, range_end=range_end))
        return self._unary("RoleGrantPermission", req, pb.AuthRoleGrantPermissionResponse, timeout)

    def role_revoke_permission(
        self, role: str, key: bytes, range_end: bytes = b"", *, timeout: Timeout = ...
    ) -> pb.AuthRoleRevokePermissionResponse:
        req = pb.AuthRoleRevokePermissionRequest(role=role, key=key, range_end=range_end)
        return self._unary("RoleRevokePermission", req, pb.AuthRoleRevokePermissionResponse, timeout)
