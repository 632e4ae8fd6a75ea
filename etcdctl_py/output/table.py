"""`-w table`: ASCII tables for the few responses etcdctl tabulates; KV verbs are unsupported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.output.printer import Printer

if TYPE_CHECKING:
    from etcdctl_py.output.cluster_rows import EpHealth
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


class TablePrinter(Printer):
    name = "table"

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        from etcdctl_py.output.tablewriter import render

        self.write(render(header, rows))

    def member_list(self, resp: rpc_pb2.MemberListResponse) -> None:
        from etcdctl_py.output.cluster_rows import member_rows

        self.table(*member_rows(resp))

    def endpoint_health(self, results: list[EpHealth]) -> None:
        from etcdctl_py.output.cluster_rows import health_rows

        self.table(*health_rows(results))

    def endpoint_status(self, results: list[tuple[str, rpc_pb2.StatusResponse]]) -> None:
        from etcdctl_py.output.cluster_rows import status_rows

        self.table(*status_rows(results))

    def endpoint_hashkv(self, results: list[tuple[str, rpc_pb2.HashKVResponse]]) -> None:
        from etcdctl_py.output.cluster_rows import hashkv_rows

        self.table(*hashkv_rows(results))
