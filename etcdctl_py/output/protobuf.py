"""`-w protobuf`: the response's raw protobuf bytes, no framing and no newline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etcdctl_py.output.printer import Printer

if TYPE_CHECKING:
    from etcdctl_py.output.fastkv import RangeParts
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


class ProtobufPrinter(Printer):
    name = "protobuf"

    def message(self, msg: Any) -> None:
        self.write(msg.SerializeToString(deterministic=True))

    def get(self, resp: rpc_pb2.RangeResponse, *, value_only: bool = False) -> None:
        self.message(resp)

    def get_parts(self, parts: RangeParts, *, value_only: bool = False) -> bool:
        """The whole message's serialization, written part by part: the header, each batch of kvs
        (a repeated field serializes as the concatenation of its elements), then more, count and
        unknown fields, which the runtime writes after the known ones."""
        head = parts.head
        if head.HasField("header"):
            self.message(type(head)(header=head.header))
        for msg in parts.span_messages():
            self.message(msg)
        head.ClearField("header")
        self.message(head)
        return True

    put = delete = txn = message

    def watch(self, resp: rpc_pb2.WatchResponse) -> None:
        """etcdctl rebuilds a WatchResponse from header, events, compact_revision, canceled, created."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        wr = rpc_pb2.WatchResponse(compact_revision=resp.compact_revision, canceled=resp.canceled, created=resp.created)
        wr.header.CopyFrom(resp.header)
        wr.events.extend(resp.events)
        self.message(wr)

    def _header_only(self, *args: Any) -> None:
        """Go's lease wrappers embed *ResponseHeader, whose Marshal is the only one they have."""
        resp = args[0]
        self.message(resp.header)

    lease_grant = lease_keep_alive = lease_list = lease_time_to_live = _header_only

    def lease_revoke(self, lease_id: int, resp: rpc_pb2.LeaseRevokeResponse) -> None:
        from etcdctl_py.output.printer import UnsupportedFormat

        h = resp.header
        text = f"cluster_id:{h.cluster_id} member_id:{h.member_id} revision:{h.revision} raft_term:{h.raft_term} "
        raise UnsupportedFormat(f"marshal unsupported for type clientv3.LeaseRevokeResponse ({{{text} {{}} [] 0}})")

    def _last(self, *args: Any) -> None:
        self.message(args[-1])

    member_add = member_remove = member_update = member_promote = member_list = move_leader = alarm = _last
    auth_status = role_add = role_get = role_delete = role_list = role_grant_permission = _last
    role_revoke_permission = user_add = user_get = user_list = user_change_password = _last
    user_grant_role = user_revoke_role = user_delete = _last
