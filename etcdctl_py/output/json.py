"""`-w json`: what Go's encoding/json prints for etcd's generated structs.

Not protobuf-JSON: every zero field is omitted (omitempty), bytes are base64, 64-bit integers
are bare numbers, enums are numbers, keys are the proto field names in declaration order, and a
oneof becomes `{"<OneofName>":{"<field>":...}}` like the Go interface field.
"""

from __future__ import annotations

from binascii import b2a_base64
from functools import partial
from typing import TYPE_CHECKING, Any

from etcdctl_py.gofmt import json_string
from etcdctl_py.output.printer import Printer
from etcdctl_py.protofields import fields_in_order

if TYPE_CHECKING:
    from etcdctl_py.output.cluster_rows import EpHealth
    from etcdctl_py.output.fastkv import RangeParts
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


def _go_name(oneof_name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in oneof_name.split("_"))


# Go's encoding/json form of []byte: standard base64 with padding. A partial, not a def: it runs twice per key of
# a large range, and a C-level call saves a Python frame each time.
b64 = partial(b2a_base64, newline=False)


def _scalar(fd: Any, v: Any) -> str:
    """`fd` is a protobuf FieldDescriptor; its TYPE_* constants are the class's, read off the instance."""
    t = fd.type
    if t == fd.TYPE_BYTES:
        return '"' + b64(v).decode() + '"'
    if t == fd.TYPE_STRING:
        return json_string(v)
    if t == fd.TYPE_BOOL:
        return "true" if v else "false"
    if t in (fd.TYPE_DOUBLE, fd.TYPE_FLOAT):
        return repr(v)
    return str(int(v))


def _is_zero(fd: Any, v: Any) -> bool:
    return not v


def encode(msg: Any) -> str:
    """Go encoding/json of a generated etcd struct (all fields omitempty)."""
    parts: list[str] = []
    for fd, oneof in fields_in_order(msg):
        if oneof is not None:
            if fd is None:
                parts.append(f'"{_go_name(oneof.name)}":null')
                continue
            val = getattr(msg, fd.name)
            inner = encode(val) if fd.type == fd.TYPE_MESSAGE else _scalar(fd, val)
            parts.append(f'"{_go_name(oneof.name)}":{{"{fd.name}":{inner}}}')
            continue
        v = getattr(msg, fd.name)
        if fd.is_repeated:
            if not v:
                continue
            if fd.type == fd.TYPE_MESSAGE:
                items = ",".join(encode(x) for x in v)
            else:
                items = ",".join(_scalar(fd, x) for x in v)
            parts.append(f'"{fd.name}":[{items}]')
        elif fd.type == fd.TYPE_MESSAGE:
            if msg.HasField(fd.name):
                parts.append(f'"{fd.name}":{encode(v)}')
        elif not _is_zero(fd, v):
            parts.append(f'"{fd.name}":{_scalar(fd, v)}')
    return "{" + ",".join(parts) + "}"


class JSONPrinter(Printer):
    name = "json"

    def message(self, msg: Any) -> None:
        self.line(encode(msg))

    def get(self, resp: rpc_pb2.RangeResponse, *, value_only: bool = False) -> None:
        self.message(resp)

    def get_parts(self, parts: RangeParts, *, value_only: bool = False) -> bool:
        """encode() of the RangeResponse, its kvs rendered batch by batch from the wire bytes; a large one's later
        batches by a forked helper on the other core (output/forkfmt.py)."""
        from etcdctl_py.output.forkfmt import fork_for

        head, write = parts.head, self.out.write
        before = [b'"header":' + encode(head.header).encode()] if head.HasField("header") else []
        after = ([b'"more":true'] if head.more else []) + ([b'"count":%d' % head.count] if head.count else [])

        def later(spans: Any) -> Any:
            return (b"," + kvs_json(cols) for cols in parts.columns(spans=spans))

        mine, helper = fork_for(self.out, parts.spans, later)
        try:
            write(b"{" + b",".join(before))
            sep = b"," if before else b""
            if parts.count:
                write(sep + b'"kvs":[')
                for i, cols in enumerate(parts.columns(spans=mine)):
                    write(kvs_json(cols) if i == 0 else b"," + kvs_json(cols))
                if helper is not None:
                    helper.finish(self.out)  # type: ignore[arg-type]  # fork_for gave a helper: out is the writer
                write(b"]")
                sep = b","
            write((sep + b",".join(after) if after else b"") + b"}\n")
        finally:
            if helper is not None:
                helper.abandon()
        return True

    put = delete = txn = message

    # -- wrappers from etcd's Go client change the JSON shape of these ----------------
    def watch(self, resp: rpc_pb2.WatchResponse) -> None:
        """clientv3.WatchResponse: capitalised fields without omitempty, `Events` always a list."""
        events = ",".join(encode(ev) for ev in resp.events)
        self.line(
            '{"Header":' + encode(resp.header) + ',"Events":[' + events + "]"
            f',"CompactRevision":{resp.compact_revision}'
            f',"Canceled":{_b(resp.canceled)},"Created":{_b(resp.created)}' + "}"
        )

    def _flat(self, resp: Any, tail: str) -> None:
        """A client struct embedding *ResponseHeader: header fields flattened into the top level."""
        hdr = encode(resp.header)[1:-1] if resp.HasField("header") else ""
        self.line("{" + hdr + ("," if hdr else "") + tail + "}")

    def lease_grant(self, resp: rpc_pb2.LeaseGrantResponse) -> None:
        self._flat(resp, f'"ID":{resp.ID},"TTL":{resp.TTL},"Error":{json_string(resp.error)}')

    def lease_keep_alive(self, resp: rpc_pb2.LeaseKeepAliveResponse) -> None:
        self._flat(resp, f'"ID":{resp.ID},"TTL":{resp.TTL}')

    def lease_time_to_live(self, resp: rpc_pb2.LeaseTimeToLiveResponse, keys: bool) -> None:
        ks = "null" if not resp.keys else "[" + ",".join('"' + b64(k).decode() + '"' for k in resp.keys) + "]"
        self._flat(resp, f'"id":{resp.ID},"ttl":{resp.TTL},"granted-ttl":{resp.grantedTTL},"keys":{ks}')

    def lease_list(self, resp: rpc_pb2.LeaseLeasesResponse) -> None:
        self._flat(resp, '"leases":[' + ",".join(f'{{"id":{item.ID}}}' for item in resp.leases) + "]")

    def lease_revoke(self, lease_id: int, resp: rpc_pb2.LeaseRevokeResponse) -> None:
        self.message(resp)

    def member_list(self, resp: rpc_pb2.MemberListResponse) -> None:
        if not self.is_hex:
            self.message(resp)
            return
        # etcdctl's hand-built `--hex` document: hex-string IDs, `clientURLS`, no isLearner.
        # raft_term is decimal as in etcdctl >= 3.5.3 (3.5.0-3.5.2 wrote it in hex, which is not
        # valid JSON from term 10 on), and the name is JSON-escaped (etcdctl pastes it raw).
        h = resp.header
        out = f'{{"header":{{"cluster_id":"{h.cluster_id:x}","member_id":"{h.member_id:x}","raft_term":{h.raft_term}}}'
        for i, m in enumerate(resp.members):
            out += ',"members":[{' if i == 0 else ",{"
            out += (
                f'"ID":"{m.ID:x}","name":{json_string(m.name)},"peerURLs":{_strs(m.peerURLs)}'
                f',"clientURLS":{_strs(m.clientURLs)}}}'
            )
            if i == len(resp.members) - 1:
                out += "]"
        self.line(out + "}")

    def endpoint_health(self, results: list[EpHealth]) -> None:
        items = []
        for h in results:
            s = f'{{"endpoint":{json_string(h.ep)},"health":{_b(h.health)},"took":{json_string(h.took)}'
            if h.error:
                s += ',"error":' + json_string(h.error)
            items.append(s + "}")
        self.line("[" + ",".join(items) + "]")

    def endpoint_status(self, results: list[tuple[str, rpc_pb2.StatusResponse]]) -> None:
        self.line("[" + ",".join(f'{{"Endpoint":{json_string(ep)},"Status":{encode(r)}}}' for ep, r in results) + "]")

    def endpoint_hashkv(self, results: list[tuple[str, rpc_pb2.HashKVResponse]]) -> None:
        self.line("[" + ",".join(f'{{"Endpoint":{json_string(ep)},"HashKV":{encode(r)}}}' for ep, r in results) + "]")

    def _last(self, *args: Any) -> None:
        self.message(args[-1])

    member_add = member_remove = member_update = member_promote = move_leader = alarm = _last
    auth_status = role_add = role_get = role_delete = role_list = role_grant_permission = _last
    role_revoke_permission = user_add = user_get = user_list = user_change_password = _last
    user_grant_role = user_revoke_role = user_delete = _last


_MEMBERS = (
    b'"key":"%s"',
    b'"create_revision":%d',
    b'"mod_revision":%d',
    b'"version":%d',
    b'"value":"%s"',
    b'"lease":%d',
)


def kvs_json(cols: tuple[list, ...]) -> bytes:
    """encode() of each KeyValue of a batch, comma-separated, from its six field columns (fastkv):
    one bytes template per batch holding the members set in every kv, C-level formatting; a member
    set in some kvs only (omitempty) is pre-rendered per kv."""
    tmpl: list[bytes] = []
    args: list[Any] = []
    for i, (member, col) in enumerate(zip(_MEMBERS, cols, strict=True)):
        if not any(col):
            continue  # zero in every kv: omitted
        is_bytes = i in (0, 4)
        if i != 0 and not tmpl:  # the first member would need no comma in some kvs and one in others
            return b",".join(map(_kv_json, *cols))
        sep = b"," if tmpl else b""
        if (b"" if is_bytes else 0) not in col:
            tmpl.append(sep + member)
            args.append(map(b64, col) if is_bytes else col)
        elif i == 0:
            return b",".join(map(_kv_json, *cols))
        else:
            fmt = (sep + member).__mod__
            tmpl.append(b"%s")
            args.append([fmt(b64(v) if is_bytes else v) if v else b"" for v in col])
    if not tmpl:  # every member zero in every kv
        return b",".join(map(_kv_json, *cols))
    return b",".join(map((b"{" + b"".join(tmpl) + b"}").__mod__, zip(*args, strict=True)))


def _kv_json(*fields: Any) -> bytes:
    """encode() of one KeyValue given as its six field values."""
    parts = [m % (b64(v) if i in (0, 4) else v) for i, (m, v) in enumerate(zip(_MEMBERS, fields, strict=True)) if v]
    return b"{" + b",".join(parts) + b"}"


def _b(v: bool) -> str:
    return "true" if v else "false"


def _strs(vals: Any) -> str:
    return "null" if not vals else "[" + ",".join(json_string(v) for v in vals) + "]"
