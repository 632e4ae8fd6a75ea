"""What the client layer needs of a transport, and the one error type every transport raises.

A transport makes single calls on one endpoint (by index into the client's endpoint list): a unary call and a
server-streaming call, each with a timeout and metadata, requests and responses as encoded protobuf bytes. Failover
across endpoints, retries, deadlines and the auth token flow live above it, in Client and retry.Attempts, once for
every transport.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

Metadata = Sequence[tuple[str, str]]

# gRPC status codes the client layer looks at
CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE = 1, 2, 4, 13, 14


class CallError(Exception):
    """A call that ended without a response: its gRPC status `code` and message (`details`).

    `dial_error` is set (Go's text of why the member could not be reached: a refused dial, a failed TLS handshake)
    when the request never got to the member, so that another endpoint may be tried; None otherwise, when the
    status alone decides (grpcio's connection failures are recognised by their text, see retry.py)."""

    def __init__(self, code: int, details: str, *, dial_error: str | None = None):
        super().__init__(details)
        self.code = code
        self.details = details
        self.dial_error = dial_error


class Transport(Protocol):
    """One client's connections, one per endpoint, opened on first use."""

    def unary(self, idx: int, path: str, request: bytes, *, timeout: float | None, metadata: Metadata) -> bytes:
        """The response message of one call to `path` (`/pkg.Service/Method`) on endpoint `idx`; CallError."""
        ...

    def server_stream(
        self, idx: int, path: str, request: bytes, *, timeout: float | None, metadata: Metadata
    ) -> Iterator[bytes]:
        """The response messages of one server-streaming call; CallError from the call or while iterating."""
        ...

    def close(self) -> None: ...
