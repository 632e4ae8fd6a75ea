"""`-w table`: ASCII tables for the few responses etcdctl tabulates; KV verbs are unsupported."""

from __future__ import annotations

from etcdctl_py.output.printer import Printer


class TablePrinter(Printer):
    name = "table"

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        from etcdctl_py.output.tablewriter import render

        self.write(render(header, rows))
