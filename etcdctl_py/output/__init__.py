"""Printers: one module per `-w/--write-out` format, all implementing `printer.Printer`.

Only the module of the chosen format is imported, so `get` does not pay for rich or for
formats it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdctl_py.output.printer import Printer

FORMATS = ("simple", "json", "protobuf", "fields", "table")


def new_printer(fmt: str, is_hex: bool) -> Printer | None:
    """The printer for a `--write-out` value, or None when etcdctl would say `unsupported output format`."""
    if fmt == "simple":
        from etcdctl_py.output.simple import SimplePrinter

        return SimplePrinter(is_hex)
    if fmt == "json":
        from etcdctl_py.output.json import JSONPrinter

        return JSONPrinter(is_hex)
    if fmt == "protobuf":
        from etcdctl_py.output.protobuf import ProtobufPrinter

        return ProtobufPrinter(is_hex)
    if fmt == "fields":
        from etcdctl_py.output.fields import FieldsPrinter

        return FieldsPrinter(is_hex)
    if fmt == "table":
        from etcdctl_py.output.table import TablePrinter

        return TablePrinter(is_hex)
    return None
