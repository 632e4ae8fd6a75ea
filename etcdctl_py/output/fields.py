"""`-w fields`: `"Name" : value` lines, Go `%q` for bytes (etcdctl's fieldsPrinter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etcdctl_py.gofmt import _ESC, quote, unicode_14_chars
from etcdctl_py.output.printer import Printer

if TYPE_CHECKING:
    from etcdctl_py.output.cluster_rows import EpHealth
    from etcdctl_py.output.fastkv import RangeParts
    from etcdctl_py.proto.etcdserverpb import rpc_pb2
    from etcdctl_py.proto.mvccpb import kv_pb2


def go_bool(v: bool) -> str:
    return "true" if v else "false"


_PLAIN = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')
_ASCII = bytes(range(0x80))
_CONTROL_ESC = {c: (_ESC[c] if c in _ESC else f"\\x{c:02x}").encode() for c in (*range(0x20), 0x7F)}
_NOT_CONTROL = bytes(c for c in range(256) if c not in _CONTROL_ESC)
# where Python's bytes escapes (codecs.escape_encode) differ from Go's %q
_PY_TO_GO = [(bytes((c,)), b"\\x%02x" % c, _CONTROL_ESC[c]) for c in (0x07, 0x08, 0x0B, 0x0C, 0x7F)]


def _escape_ascii(data: bytes) -> bytes:
    """Go's `%q` body for ASCII data: `\\`, `\\"` and control escapes, one C-level replace per
    distinct special byte (backslashes first, so no escape is escaped twice)."""
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b'"' in data:
        data = data.replace(b'"', b'\\"')
    for c in set(data.translate(None, _NOT_CONTROL)):
        data = data.replace(bytes((c,)), _CONTROL_ESC[c])
    return data


class _RuneForms(dict):
    """A non-ASCII rune -> (Python's bytes escape of it, what `%q` prints for it)."""

    def __missing__(self, rune: str) -> tuple[bytes, bytes]:
        from codecs import escape_encode

        forms = escape_encode(rune.encode())[0], quote(rune)[1:-1].encode()
        self[rune] = forms
        return forms


_RUNE_FORMS = _RuneForms()


def _escape_binary(data: bytes, text: str) -> bytes:
    """Go's `%q` body for non-ASCII data without a literal `\\x` in it: Python's C bytes escaper
    (`\\xNN` for controls and bytes >= 0x80, `\\\\`, `\\'`, `\\t\\n\\r`), then the few places where Go
    differs, each one C-level replace: `"`, `'`, `\\a\\b\\v\\f`, DEL, and every valid multi-byte rune
    (`text` is data decoded with surrogateescape), which Go prints as itself when printable. With no
    literal `\\x` in data, each `\\xNN` in the escaper's output is the escape of byte NN."""
    from codecs import escape_encode

    out = escape_encode(data)[0]
    if b'"' in data:
        out = out.replace(b'"', b'\\"')
    if b"'" in data:
        out = out.replace(b"\\'", b"'")
    for byte, py, go in _PY_TO_GO:
        if byte in data:
            out = out.replace(py, go)
    if len(text) != len(data):  # valid multi-byte runes: the invalid bytes dropped, then the ASCII
        for rune in set(text.encode("utf-8", "ignore").translate(None, _ASCII).decode()):
            py, go = _RUNE_FORMS[rune]
            out = out.replace(py, go)
    return out


def quote_bytes(data: bytes) -> bytes:
    """gofmt.quote(data) as UTF-8 bytes, by C-level passes over the whole value: plain ASCII as it
    is, printable UTF-8 text with only `\\` and `\\"` escaped, other ASCII by replaces, binary data by
    Python's bytes escaper plus fix-ups. Data holding both non-ASCII bytes and a literal `\\x` goes to
    gofmt.quote."""
    if not data.translate(None, _PLAIN):
        return b'"' + data + b'"'
    if data.isascii():
        return b'"' + _escape_ascii(data) + b'"'
    text = data.decode("utf-8", "surrogateescape")
    if text.isprintable() and not unicode_14_chars().search(text):  # gofmt._is_print for every rune
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    if b"\\x" not in data:
        return b'"' + _escape_binary(data, text) + b'"'
    return quote(data).encode("utf-8", "surrogateescape")


class FieldsPrinter(Printer):
    name = "fields"

    def hdr(self, h: rpc_pb2.ResponseHeader) -> None:
        self.line(f'"ClusterID" : {h.cluster_id}')
        self.line(f'"MemberID" : {h.member_id}')
        self.line(f'"Revision" : {h.revision}')
        self.line(f'"RaftTerm" : {h.raft_term}')

    def kv(self, pfx: str, kv: kv_pb2.KeyValue) -> None:
        self.line(f'"{pfx}Key" : {quote(kv.key)}')
        self.line(f'"{pfx}CreateRevision" : {kv.create_revision}')
        self.line(f'"{pfx}ModRevision" : {kv.mod_revision}')
        self.line(f'"{pfx}Version" : {kv.version}')
        self.line(f'"{pfx}Value" : {quote(kv.value)}')
        self.line(f'"{pfx}Lease" : {kv.lease}')

    def get(self, resp: rpc_pb2.RangeResponse, *, value_only: bool = False) -> None:
        self.hdr(resp.header)
        for kv in resp.kvs:
            self.kv("", kv)
        self.line(f'"More" : {go_bool(resp.more)}')
        self.line(f'"Count" : {resp.count}')

    def get_parts(self, parts: RangeParts, *, value_only: bool = False) -> bool:
        """get() with the kvs formatted batch by batch from the wire bytes (one template per kv)."""
        self.hdr(parts.head.header)
        tmpl = (
            b'"Key" : %s\n"CreateRevision" : %d\n"ModRevision" : %d\n"Version" : %d\n"Value" : %s\n"Lease" : %d\n'
        ).__mod__
        for key, create, mod, version, value, lease in parts.columns():
            cols = zip(map(quote_bytes, key), create, mod, version, map(quote_bytes, value), lease, strict=True)
            self.out.write(b"".join(map(tmpl, cols)))
        self.line(f'"More" : {go_bool(parts.head.more)}')
        self.line(f'"Count" : {parts.head.count}')
        return True

    def put(self, resp: rpc_pb2.PutResponse) -> None:
        self.hdr(resp.header)
        if resp.HasField("prev_kv"):
            self.kv("Prev", resp.prev_kv)

    def delete(self, resp: rpc_pb2.DeleteRangeResponse) -> None:
        self.hdr(resp.header)
        self.line(f'"Deleted" : {resp.deleted}')
        for kv in resp.prev_kvs:
            self.kv("Prev", kv)

    def txn(self, resp: rpc_pb2.TxnResponse) -> None:
        self.hdr(resp.header)
        self.line(f'"Succeeded" : {go_bool(resp.succeeded)}')
        for op in resp.responses:
            self.txn_op(op)

    # -- watch / lease ----------------------------------------------------------
    def watch(self, resp: rpc_pb2.WatchResponse) -> None:
        self.hdr(resp.header)
        for ev in resp.events:
            self.line('"Type" : ' + ("DELETE" if ev.type == 1 else "PUT"))
            if ev.HasField("prev_kv"):
                self.kv("Prev", ev.prev_kv)
            self.kv("", ev.kv)

    def lease_grant(self, resp: rpc_pb2.LeaseGrantResponse) -> None:
        self.hdr(resp.header)
        self.line(f'"ID" : {resp.ID}')
        self.line(f'"TTL" : {resp.TTL}')

    def lease_revoke(self, lease_id: int, resp: rpc_pb2.LeaseRevokeResponse) -> None:
        self.hdr(resp.header)

    lease_keep_alive = lease_grant

    def lease_time_to_live(self, resp: rpc_pb2.LeaseTimeToLiveResponse, keys: bool) -> None:
        self.hdr(resp.header)
        self.line(f'"ID" : {resp.ID}')
        self.line(f'"TTL" : {resp.TTL}')
        self.line(f'"GrantedTTL" : {resp.grantedTTL}')
        for k in resp.keys:
            self.line(f'"Key" : {quote(k)}')

    def lease_list(self, resp: rpc_pb2.LeaseLeasesResponse) -> None:
        self.hdr(resp.header)
        for item in resp.leases:
            self.line(f'"ID" : {item.ID}')

    # -- cluster / maintenance ----------------------------------------------------
    def member_list(self, resp: rpc_pb2.MemberListResponse) -> None:
        self.hdr(resp.header)
        for m in resp.members:
            self.line(f'"ID" : {m.ID}')
            self.line(f'"Name" : {quote(m.name)}')
            for u in m.peerURLs:
                self.line(f'"PeerURL" : {quote(u)}')
            for u in m.clientURLs:
                self.line(f'"ClientURL" : {quote(u)}')
            self.line(f'"IsLearner" : {go_bool(m.isLearner)}')
            self.line()

    def endpoint_health(self, results: list[EpHealth]) -> None:
        for h in results:
            self.line(f'"Endpoint" : {quote(h.ep)}')
            self.line(f'"Health" : {go_bool(h.health)}')
            self.line(f'"Took" : {h.took}')
            self.line(f'"Error" : {h.error}')
            self.line()

    def endpoint_status(self, results: list[tuple[str, rpc_pb2.StatusResponse]]) -> None:
        for ep, r in results:
            self.hdr(r.header)
            self.line(f'"Version" : {quote(r.version)}')
            self.line(f'"DBSize" : {r.dbSize}')
            self.line(f'"Leader" : {r.leader}')
            self.line(f'"IsLearner" : {go_bool(r.isLearner)}')
            self.line(f'"RaftIndex" : {r.raftIndex}')
            self.line(f'"RaftTerm" : {r.raftTerm}')
            self.line(f'"RaftAppliedIndex" : {r.raftAppliedIndex}')
            self.line('"Errors" : [' + " ".join(r.errors) + "]")
            self.line(f'"Endpoint" : {quote(ep)}')
            self.line()

    def endpoint_hashkv(self, results: list[tuple[str, rpc_pb2.HashKVResponse]]) -> None:
        for ep, r in results:
            self.hdr(r.header)
            self.line(f'"Endpoint" : {quote(ep)}')
            self.line(f'"Hash" : {r.hash}')
            self.line()

    def alarm(self, resp: rpc_pb2.AlarmResponse) -> None:
        from etcdctl_py.output.cluster_rows import ALARM_NAMES
        from etcdctl_py.output.printer import UnsupportedFormat

        if not resp.HasField("header"):
            # etcdctl 3.5 dereferences the missing header of a disarm-all response and panics
            # (Go runtime exit 2); we say why instead.
            err = UnsupportedFormat(
                "fields output needs a response header, and `alarm disarm` returns none; use -w simple or -w json"
            )
            err.code = 2
            raise err
        self.hdr(resp.header)
        for a in resp.alarms:
            self.line(f'"MemberID" : {a.memberID}')
            self.line(f'"AlarmType" : {ALARM_NAMES.get(a.alarm, str(a.alarm))}')
            self.line()

    # -- auth -----------------------------------------------------------------------
    def _hdr_only(self, *args: Any) -> None:
        self.hdr(args[-1].header)

    role_add = role_delete = role_grant_permission = role_revoke_permission = _hdr_only
    user_add = user_delete = user_change_password = user_grant_role = user_revoke_role = _hdr_only

    def role_get(self, role: str, resp: rpc_pb2.AuthRoleGetResponse) -> None:
        names = {0: "READ", 1: "WRITE", 2: "READWRITE"}
        self.hdr(resp.header)
        for p in resp.perm:
            self.line(f'"PermType" :  {names.get(p.permType, str(p.permType))}')
            self.line(f'"Key" : {quote(p.key)}')
            self.line(f'"RangeEnd" : {quote(p.range_end)}')

    def role_list(self, resp: rpc_pb2.AuthRoleListResponse) -> None:
        self.hdr(resp.header)
        self.line('"Roles" :' + "".join(" " + quote(r) for r in resp.roles))
