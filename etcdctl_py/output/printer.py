"""The printer interface shared by every output format (etcdctl's `printer` interface).

Each method takes the server's response message. A format that has no rendering for a response
inherits the default, which fails exactly like etcdctl: `Error: <fmt> not supported as output
format`, exit 4 — after the request has been executed, as in etcdctl.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from etcdctl_py.output.cluster_rows import EpHealth
    from etcdctl_py.output.fastkv import RangeParts
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

EXIT_BAD_FEATURE = 4
# Responses below this size are decoded whole: batching them saves nothing and its modules cost start-up.
BATCH_MIN_BYTES = 1 << 16


class UnsupportedFormat(Exception):
    """Raised by a printer that cannot render a response; the CLI maps it to exit code 4."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.code = EXIT_BAD_FEATURE


class Printer:
    """The response arguments are positional-only: a format may map several methods to one helper
    (e.g. json's `_last`), and the CLI always passes them by position."""

    name = "?"

    def __init__(self, is_hex: bool = False, out: BinaryIO | None = None):
        self.is_hex = is_hex
        self.out: BinaryIO = out if out is not None else sys.stdout.buffer

    # -- plumbing ---------------------------------------------------------
    def write(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.out.write(data)

    def line(self, data: bytes | str = b"") -> None:
        self.write(data)
        self.out.write(b"\n")

    def unsupported(self, _resp: Any = None) -> None:
        raise UnsupportedFormat(f"{self.name} not supported as output format")

    # -- KV ---------------------------------------------------------------
    def get(self, resp: rpc_pb2.RangeResponse, /, *, value_only: bool = False) -> None:
        self.unsupported(resp)

    def get_raw(self, raw: bytes, *, value_only: bool = False) -> None:
        """`get` from the serialized RangeResponse: a large one in batches straight from these bytes
        when the format has a batch printer (get_parts), anything else decoded whole."""
        if len(raw) >= BATCH_MIN_BYTES:
            from etcdctl_py.output.fastkv import split_range

            parts = split_range(raw)
            if parts is not None:
                from etcdctl_py.output.background import BackgroundWriter

                out = self.out
                self.out = writer = BackgroundWriter(out)  # type: ignore[assignment]  # a write()-only BinaryIO
                try:
                    printed = self.get_parts(parts, value_only=value_only)
                finally:
                    self.out = out
                    writer.close()
                if printed:
                    return
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        self.get(rpc_pb2.RangeResponse.FromString(raw), value_only=value_only)

    def get_parts(self, parts: RangeParts, *, value_only: bool = False) -> bool:
        """Print a large range from its fastkv.RangeParts; False if this format prints no batches."""
        return False

    def put(self, resp: rpc_pb2.PutResponse, /) -> None:
        self.unsupported(resp)

    def delete(self, resp: rpc_pb2.DeleteRangeResponse, /) -> None:
        self.unsupported(resp)

    def txn(self, resp: rpc_pb2.TxnResponse, /) -> None:
        self.unsupported(resp)

    def txn_op(self, op: rpc_pb2.ResponseOp) -> None:
        """Print one response of a txn with this format's get/put/del rendering (etcdctl's type switch)."""
        which = op.WhichOneof("response")
        if which == "response_delete_range":
            self.delete(op.response_delete_range)
        elif which == "response_put":
            self.put(op.response_put)
        elif which == "response_range":
            self.get(op.response_range)

    # -- watch / lease (etcdctl's printer interface, one method each) ---------
    def watch(self, resp: rpc_pb2.WatchResponse, /) -> None:
        self.unsupported(resp)

    def lease_grant(self, resp: rpc_pb2.LeaseGrantResponse, /) -> None:
        self.unsupported(resp)

    def lease_revoke(self, lease_id: int, resp: rpc_pb2.LeaseRevokeResponse, /) -> None:
        self.unsupported(resp)

    def lease_keep_alive(self, resp: rpc_pb2.LeaseKeepAliveResponse, /) -> None:
        self.unsupported(resp)

    def lease_time_to_live(self, resp: rpc_pb2.LeaseTimeToLiveResponse, keys: bool, /) -> None:
        self.unsupported(resp)

    def lease_list(self, resp: rpc_pb2.LeaseLeasesResponse, /) -> None:
        self.unsupported(resp)

    # -- cluster / maintenance ------------------------------------------------
    def member_add(self, resp: rpc_pb2.MemberAddResponse, /) -> None:
        self.unsupported(resp)

    def member_remove(self, member_id: int, resp: rpc_pb2.MemberRemoveResponse, /) -> None:
        self.unsupported(resp)

    def member_update(self, member_id: int, resp: rpc_pb2.MemberUpdateResponse, /) -> None:
        self.unsupported(resp)

    def member_promote(self, member_id: int, resp: rpc_pb2.MemberPromoteResponse, /) -> None:
        self.unsupported(resp)

    def member_list(self, resp: rpc_pb2.MemberListResponse, /) -> None:
        self.unsupported(resp)

    def endpoint_health(self, results: list[EpHealth], /) -> None:
        self.unsupported(results)

    def endpoint_status(self, results: list[tuple[str, rpc_pb2.StatusResponse]], /) -> None:
        self.unsupported(results)

    def endpoint_hashkv(self, results: list[tuple[str, rpc_pb2.HashKVResponse]], /) -> None:
        self.unsupported(results)

    def move_leader(self, leader: int, target: int, resp: rpc_pb2.MoveLeaderResponse, /) -> None:
        self.unsupported(resp)

    def alarm(self, resp: rpc_pb2.AlarmResponse, /) -> None:
        self.unsupported(resp)

    # -- auth -----------------------------------------------------------------
    def auth_status(self, resp: rpc_pb2.AuthStatusResponse, /) -> None:
        self.unsupported(resp)

    def role_add(self, role: str, resp: rpc_pb2.AuthRoleAddResponse, /) -> None:
        self.unsupported(resp)

    def role_get(self, role: str, resp: rpc_pb2.AuthRoleGetResponse, /) -> None:
        self.unsupported(resp)

    def role_delete(self, role: str, resp: rpc_pb2.AuthRoleDeleteResponse, /) -> None:
        self.unsupported(resp)

    def role_list(self, resp: rpc_pb2.AuthRoleListResponse, /) -> None:
        self.unsupported(resp)

    def role_grant_permission(self, role: str, resp: rpc_pb2.AuthRoleGrantPermissionResponse, /) -> None:
        self.unsupported(resp)

    def role_revoke_permission(
        self, role: str, key: bytes, end: bytes, resp: rpc_pb2.AuthRoleRevokePermissionResponse, /
    ) -> None:
        self.unsupported(resp)

    def user_add(self, user: str, resp: rpc_pb2.AuthUserAddResponse, /) -> None:
        self.unsupported(resp)

    def user_get(self, user: str, resp: rpc_pb2.AuthUserGetResponse, /) -> None:
        self.unsupported(resp)

    def user_list(self, resp: rpc_pb2.AuthUserListResponse, /) -> None:
        self.unsupported(resp)

    def user_change_password(self, resp: rpc_pb2.AuthUserChangePasswordResponse, /) -> None:
        self.unsupported(resp)

    def user_grant_role(self, user: str, role: str, resp: rpc_pb2.AuthUserGrantRoleResponse, /) -> None:
        self.unsupported(resp)

    def user_revoke_role(self, user: str, role: str, resp: rpc_pb2.AuthUserRevokeRoleResponse, /) -> None:
        self.unsupported(resp)

    def user_delete(self, user: str, resp: rpc_pb2.AuthUserDeleteResponse, /) -> None:
        self.unsupported(resp)
