"""`-w simple`: etcdctl's default, human-oriented lines (raw bytes, `--hex` escapes)."""

from __future__ import annotations

from typing import Any

from etcdctl_py.output.printer import Printer


def hex_escape(data: bytes) -> bytes:
    """`--hex`: every byte as `\\xNN` (lowercase)."""
    return "".join("\\x%02x" % b for b in data).encode()


class SimplePrinter(Printer):
    name = "simple"

    def kv(self, kv: Any, value_only: bool = False) -> None:
        key, value = kv.key, kv.value
        if self.is_hex:
            key, value = hex_escape(key), hex_escape(value)
        if not value_only:
            self.line(key)
        self.line(value)

    def get(self, resp: Any, *, value_only: bool = False) -> None:
        for kv in resp.kvs:
            self.kv(kv, value_only)

    def put(self, resp: Any) -> None:
        self.line("OK")
        if resp.HasField("prev_kv"):
            self.kv(resp.prev_kv)

    def delete(self, resp: Any) -> None:
        self.line(str(resp.deleted))
        for kv in resp.prev_kvs:
            self.kv(kv)

    def txn(self, resp: Any) -> None:
        self.line("SUCCESS" if resp.succeeded else "FAILURE")
        for op in resp.responses:
            self.line()
            which = op.WhichOneof("response")
            if which == "response_delete_range":
                self.delete(op.response_delete_range)
            elif which == "response_put":
                self.put(op.response_put)
            elif which == "response_range":
                self.get(op.response_range)
