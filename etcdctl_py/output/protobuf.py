"""`-w protobuf`: the response's raw protobuf bytes, no framing and no newline."""

from __future__ import annotations

from typing import Any

from etcdctl_py.output.printer import Printer


class ProtobufPrinter(Printer):
    name = "protobuf"

    def message(self, msg: Any) -> None:
        self.write(msg.SerializeToString(deterministic=True))

    def get(self, resp: Any, *, value_only: bool = False) -> None:
        self.message(resp)

    put = delete = txn = message
