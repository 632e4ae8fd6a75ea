"""`-w simple`: etcdctl's default, human-oriented lines (raw bytes, `--hex` escapes)."""

from __future__ import annotations

from binascii import hexlify
from typing import TYPE_CHECKING, Any

from etcdctl_py.output.printer import Printer

if TYPE_CHECKING:
    from etcdctl_py.output.cluster_rows import EpHealth
    from etcdctl_py.output.fastkv import RangeParts
    from etcdctl_py.proto.authpb import auth_pb2
    from etcdctl_py.proto.etcdserverpb import rpc_pb2
    from etcdctl_py.proto.mvccpb import kv_pb2


def hex_escape(data: bytes) -> bytes:
    """`--hex`: every byte as `\\xNN` (lowercase). hexlify's digit pairs are dealt into a template of
    `\\x..` slots by two strided copies, all in C."""
    if not data:
        return b""
    digits = hexlify(data)
    out = bytearray(b"\\x00" * len(data))
    out[2::4] = digits[0::2]
    out[3::4] = digits[1::2]
    return bytes(out)


def simple_lines(keys: list[bytes] | None, values: list[bytes], is_hex: bool) -> bytes:
    """printKV for a batch of kvs (`key\\nvalue\\n`, or values only), joined in C."""
    from itertools import chain

    if keys is not None and not is_hex and not any(values):  # --keys-only: every value empty
        return b"\n\n".join(keys) + b"\n\n"
    items: Any = values if keys is None else chain.from_iterable(zip(keys, values, strict=True))
    if is_hex:
        items = map(hex_escape, items)
    return b"\n".join(items) + b"\n"


class SimplePrinter(Printer):
    name = "simple"

    def kv(self, kv: kv_pb2.KeyValue, value_only: bool = False) -> None:
        key, value = kv.key, kv.value
        if self.is_hex:
            key, value = hex_escape(key), hex_escape(value)
        if not value_only:
            self.line(key)
        self.line(value)

    def get(self, resp: rpc_pb2.RangeResponse, *, value_only: bool = False) -> None:
        for kv in resp.kvs:
            self.kv(kv, value_only)

    def get_parts(self, parts: RangeParts, *, value_only: bool = False) -> bool:
        if value_only:
            for (values,) in parts.columns(("value",)):
                self.out.write(simple_lines(None, values, self.is_hex))
        else:
            for keys, values in parts.columns(("key", "value")):
                self.out.write(simple_lines(keys, values, self.is_hex))
        return True

    def put(self, resp: rpc_pb2.PutResponse) -> None:
        self.line("OK")
        if resp.HasField("prev_kv"):
            self.kv(resp.prev_kv)

    def delete(self, resp: rpc_pb2.DeleteRangeResponse) -> None:
        self.line(str(resp.deleted))
        for kv in resp.prev_kvs:
            self.kv(kv)

    def txn(self, resp: rpc_pb2.TxnResponse) -> None:
        self.line("SUCCESS" if resp.succeeded else "FAILURE")
        for op in resp.responses:
            self.line()
            self.txn_op(op)

    # -- watch / lease ----------------------------------------------------------
    def watch(self, resp: rpc_pb2.WatchResponse) -> None:
        for ev in resp.events:
            self.line("DELETE" if ev.type == 1 else "PUT")
            if ev.HasField("prev_kv"):
                self.kv(ev.prev_kv)
            self.kv(ev.kv)

    def lease_grant(self, resp: rpc_pb2.LeaseGrantResponse) -> None:
        self.line(f"lease {resp.ID:016x} granted with TTL({resp.TTL}s)")

    def lease_revoke(self, lease_id: int, resp: rpc_pb2.LeaseRevokeResponse) -> None:
        self.line(f"lease {lease_id:016x} revoked")

    def lease_keep_alive(self, resp: rpc_pb2.LeaseKeepAliveResponse) -> None:
        self.line(f"lease {resp.ID:016x} keepalived with TTL({resp.TTL})")

    def lease_time_to_live(self, resp: rpc_pb2.LeaseTimeToLiveResponse, keys: bool) -> None:
        if resp.grantedTTL == 0 and resp.TTL == -1:
            self.line(f"lease {resp.ID:016x} already expired")
            return
        txt = b"lease %016x granted with TTL(%ds), remaining(%ds)" % (resp.ID, resp.grantedTTL, resp.TTL)
        if keys:
            txt += b", attached keys([" + b" ".join(resp.keys) + b"])"
        self.line(txt)

    def lease_list(self, resp: rpc_pb2.LeaseLeasesResponse) -> None:
        self.line(f"found {len(resp.leases)} leases")
        for item in resp.leases:
            self.line(f"{item.ID:016x}")

    # -- cluster / maintenance ----------------------------------------------------
    def alarm(self, resp: rpc_pb2.AlarmResponse) -> None:
        from etcdctl_py.output.cluster_rows import alarm_text

        for a in resp.alarms:
            self.line(alarm_text(a))

    def member_add(self, resp: rpc_pb2.MemberAddResponse) -> None:
        self.line(f"Member {resp.member.ID:16x} added to cluster {resp.header.cluster_id:16x}")

    def member_remove(self, member_id: int, resp: rpc_pb2.MemberRemoveResponse) -> None:
        self.line(f"Member {member_id:16x} removed from cluster {resp.header.cluster_id:16x}")

    def member_update(self, member_id: int, resp: rpc_pb2.MemberUpdateResponse) -> None:
        self.line(f"Member {member_id:16x} updated in cluster {resp.header.cluster_id:16x}")

    def member_promote(self, member_id: int, resp: rpc_pb2.MemberPromoteResponse) -> None:
        self.line(f"Member {member_id:16x} promoted in cluster {resp.header.cluster_id:16x}")

    def member_list(self, resp: rpc_pb2.MemberListResponse) -> None:
        from etcdctl_py.output.cluster_rows import member_rows

        for row in member_rows(resp)[1]:
            self.line(", ".join(row))

    def endpoint_health(self, results: list[EpHealth]) -> None:
        import sys

        for h in results:
            if not h.error:
                self.line(f"{h.ep} is healthy: successfully committed proposal: took = {h.took}")
            else:
                self.out.flush()
                sys.stderr.write(f"{h.ep} is unhealthy: failed to commit proposal: {h.error}\n")
                sys.stderr.flush()

    def endpoint_status(self, results: list[tuple[str, rpc_pb2.StatusResponse]]) -> None:
        from etcdctl_py.output.cluster_rows import status_rows

        for row in status_rows(results)[1]:
            self.line(", ".join(row))

    def endpoint_hashkv(self, results: list[tuple[str, rpc_pb2.HashKVResponse]]) -> None:
        from etcdctl_py.output.cluster_rows import hashkv_rows

        for row in hashkv_rows(results)[1]:
            self.line(", ".join(row))

    def move_leader(self, leader: int, target: int, resp: rpc_pb2.MoveLeaderResponse) -> None:
        self.line(f"Leadership transferred from {leader:x} to {target:x}")

    # -- auth -----------------------------------------------------------------------
    def auth_status(self, resp: rpc_pb2.AuthStatusResponse) -> None:
        self.line("Authentication Status: " + ("true" if resp.enabled else "false"))
        self.line(f"AuthRevision: {resp.authRevision}")

    def role_add(self, role: str, resp: rpc_pb2.AuthRoleAddResponse) -> None:
        self.line(f"Role {role} created")

    def role_get(self, role: str, resp: rpc_pb2.AuthRoleGetResponse) -> None:
        from etcdctl_py.client.kv import prefix_end

        self.line(f"Role {role}")

        def entry(perm: auth_pb2.Permission) -> None:
            if not perm.range_end:
                self.line(b"\t" + perm.key)
                return
            if perm.range_end != b"\x00":
                txt = b"\t[" + perm.key + b", " + perm.range_end + b")"
            else:
                txt = b"\t[" + perm.key + b", <open ended>"
            # Go's GetPrefixRangeEnd on a string: the empty key's prefix end is "\x00"
            if (prefix_end(perm.key) if perm.key else b"\x00") == perm.range_end:
                txt += b" (prefix " + perm.key + b")"
            self.line(txt)

        self.line("KV Read:")
        for perm in resp.perm:
            if perm.permType in (0, 2):
                entry(perm)
        self.line("KV Write:")
        for perm in resp.perm:
            if perm.permType in (1, 2):
                entry(perm)

    def role_delete(self, role: str, resp: rpc_pb2.AuthRoleDeleteResponse) -> None:
        self.line(f"Role {role} deleted")

    def role_list(self, resp: rpc_pb2.AuthRoleListResponse) -> None:
        for r in resp.roles:
            self.line(r)

    def role_grant_permission(self, role: str, resp: rpc_pb2.AuthRoleGrantPermissionResponse) -> None:
        self.line(f"Role {role} updated")

    def role_revoke_permission(
        self, role: str, key: bytes, end: bytes, resp: rpc_pb2.AuthRoleRevokePermissionResponse
    ) -> None:
        r = role.encode("utf-8", "surrogateescape")
        if not end:
            self.line(b"Permission of key " + key + b" is revoked from role " + r)
        elif end != b"\x00":
            self.line(b"Permission of range [" + key + b", " + end + b") is revoked from role " + r)
        else:
            self.line(b"Permission of range [" + key + b", <open ended> is revoked from role " + r)

    def user_add(self, user: str, resp: rpc_pb2.AuthUserAddResponse) -> None:
        self.line(f"User {user} created")

    def user_get(self, user: str, resp: rpc_pb2.AuthUserGetResponse) -> None:
        self.line(f"User: {user}")
        self.line("Roles:" + "".join(" " + r for r in resp.roles))

    def user_list(self, resp: rpc_pb2.AuthUserListResponse) -> None:
        for u in resp.users:
            self.line(u)

    def user_change_password(self, resp: rpc_pb2.AuthUserChangePasswordResponse) -> None:
        self.line("Password updated")

    def user_grant_role(self, user: str, role: str, resp: rpc_pb2.AuthUserGrantRoleResponse) -> None:
        self.line(f"Role {role} is granted to user {user}")

    def user_revoke_role(self, user: str, role: str, resp: rpc_pb2.AuthUserRevokeRoleResponse) -> None:
        self.line(f"Role {role} is revoked from user {user}")

    def user_delete(self, user: str, resp: rpc_pb2.AuthUserDeleteResponse) -> None:
        self.line(f"User {user} deleted")
