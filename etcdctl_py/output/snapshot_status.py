"""Printers of `snapshot status` (etcdutl 3.5.1 printer_*.go, also etcdctl 3.4/3.5): simple, json,
fields, table, and the protobuf / unknown-format errors (exit code 4).

Order matters for parity: etcdutl rejects an unknown `-w` value before it opens the file
(`check_format`), but the protobuf error only comes after the status was computed (`render`).
"""

from __future__ import annotations

import json

from ..humanize import go_bytes
from ..snapshot.status import SnapshotStatus
from .tablewriter import ALIGN_RIGHT
from .tablewriter import render as render_table

FORMATS = ("simple", "json", "fields", "table", "protobuf")
EXIT_BAD_FEATURE = 4


class OutputFormatError(Exception):
    """`Error: <message>` with exit code 4 (cobrautl.ExitBadFeature)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = EXIT_BAD_FEATURE


def check_format(fmt: str) -> None:
    """Raise what etcdutl says for a -w value it has no printer for."""
    if fmt not in FORMATS:
        raise OutputFormatError("unsupported output format")


def table_rows(st: SnapshotStatus) -> tuple[list[str], list[list[str]]]:
    """makeDBStatusTable: hash as unpadded lowercase hex, size through humanize.Bytes."""
    hdr = ["hash", "revision", "total keys", "total size"]
    return hdr, [[f"{st.hash:x}", str(st.revision), str(st.total_key), go_bytes(st.total_size)]]


def render(st: SnapshotStatus, fmt: str = "simple") -> bytes:
    """Exact stdout bytes of `etcdutl snapshot status -w fmt`, or OutputFormatError."""
    check_format(fmt)
    if fmt == "simple":
        _hdr, rows = table_rows(st)
        return "".join(", ".join(r) + "\n" for r in rows).encode()
    if fmt == "json":
        doc = {"hash": st.hash, "revision": st.revision, "totalKey": st.total_key, "totalSize": st.total_size}
        return (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    if fmt == "fields":
        return (
            f'"Hash" : {st.hash}\n"Revision" : {st.revision}\n"Keys" : {st.total_key}\n"Size" : {st.total_size}\n'
        ).encode()
    if fmt == "table":
        hdr, rows = table_rows(st)
        return render_table(hdr, rows, ALIGN_RIGHT).encode()
    raise OutputFormatError(f"{fmt} not supported as output format")
