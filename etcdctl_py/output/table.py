"""`-w table`: ASCII tables for the few responses etcdctl tabulates; KV verbs are unsupported."""

from __future__ import annotations

from typing import Any

from etcdctl_py.output.printer import Printer


class TablePrinter(Printer):
    name = "table"

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        from etcdctl_py.output.tablewriter import render

        self.write(render(header, rows))

    def member_list(self, resp: Any) -> None:
        from etcdctl_py.output.cluster_rows import member_rows

        self.table(*member_rows(resp))

    def endpoint_health(self, results: list) -> None:
        from etcdctl_py.output.cluster_rows import health_rows

        self.table(*health_rows(results))

    def endpoint_status(self, results: list) -> None:
        from etcdctl_py.output.cluster_rows import status_rows

        self.table(*status_rows(results))

    def endpoint_hashkv(self, results: list) -> None:
        from etcdctl_py.output.cluster_rows import hashkv_rows

        self.table(*hashkv_rows(results))
