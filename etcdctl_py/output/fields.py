"""`-w fields`: `"Name" : value` lines, Go `%q` for bytes (etcdctl's fieldsPrinter)."""

from __future__ import annotations

from typing import Any

from etcdctl_py.output.gofmt import quote
from etcdctl_py.output.printer import Printer


def go_bool(v: bool) -> str:
    return "true" if v else "false"


class FieldsPrinter(Printer):
    name = "fields"

    def hdr(self, h: Any) -> None:
        self.line(f'"ClusterID" : {h.cluster_id}')
        self.line(f'"MemberID" : {h.member_id}')
        self.line(f'"Revision" : {h.revision}')
        self.line(f'"RaftTerm" : {h.raft_term}')

    def kv(self, pfx: str, kv: Any) -> None:
        self.line(f'"{pfx}Key" : {quote(kv.key)}')
        self.line(f'"{pfx}CreateRevision" : {kv.create_revision}')
        self.line(f'"{pfx}ModRevision" : {kv.mod_revision}')
        self.line(f'"{pfx}Version" : {kv.version}')
        self.line(f'"{pfx}Value" : {quote(kv.value)}')
        self.line(f'"{pfx}Lease" : {kv.lease}')

    def get(self, resp: Any, *, value_only: bool = False) -> None:
        self.hdr(resp.header)
        for kv in resp.kvs:
            self.kv("", kv)
        self.line(f'"More" : {go_bool(resp.more)}')
        self.line(f'"Count" : {resp.count}')

    def put(self, resp: Any) -> None:
        self.hdr(resp.header)
        if resp.HasField("prev_kv"):
            self.kv("Prev", resp.prev_kv)

    def delete(self, resp: Any) -> None:
        self.hdr(resp.header)
        self.line(f'"Deleted" : {resp.deleted}')
        for kv in resp.prev_kvs:
            self.kv("Prev", kv)

    def txn(self, resp: Any) -> None:
        self.hdr(resp.header)
        self.line(f'"Succeeded" : {go_bool(resp.succeeded)}')
        for op in resp.responses:
            which = op.WhichOneof("response")
            if which == "response_delete_range":
                self.delete(op.response_delete_range)
            elif which == "response_put":
                self.put(op.response_put)
            elif which == "response_range":
                self.get(op.response_range)
