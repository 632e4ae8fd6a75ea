"""The printer interface shared by every output format (etcdctl's `printer` interface).

Each method takes the server's response message. A format that has no rendering for a response
inherits the default, which fails exactly like etcdctl: `Error: <fmt> not supported as output
format`, exit 4 — after the request has been executed, as in etcdctl.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

EXIT_BAD_FEATURE = 4


class UnsupportedFormat(Exception):
    """Raised by a printer that cannot render a response; the CLI maps it to exit code 4."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.code = EXIT_BAD_FEATURE


class Printer:
    name = "?"

    def __init__(self, is_hex: bool = False, out: BinaryIO | None = None):
        self.is_hex = is_hex
        self.out: BinaryIO = out if out is not None else sys.stdout.buffer

    # -- plumbing ---------------------------------------------------------
    def write(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.out.write(data)

    def line(self, data: bytes | str = b"") -> None:
        self.write(data)
        self.out.write(b"\n")

    def unsupported(self, _resp: Any = None) -> None:
        raise UnsupportedFormat(f"{self.name} not supported as output format")

    # -- KV ---------------------------------------------------------------
    def get(self, resp: Any, *, value_only: bool = False) -> None:
        self.unsupported(resp)

    def put(self, resp: Any) -> None:
        self.unsupported(resp)

    def delete(self, resp: Any) -> None:
        self.unsupported(resp)

    def txn(self, resp: Any) -> None:
        self.unsupported(resp)
