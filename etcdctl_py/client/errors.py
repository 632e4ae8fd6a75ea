"""Errors raised by the client layer, carrying what etcdctl shows to users.

`str(err)` is the text etcdctl prints after `Error: ` (the server's `etcdserver: ...` message,
or `context deadline exceeded`); `go_error` is the `rpc error: code = X desc = Y` form that the
Go client logs.
"""

from __future__ import annotations

# gRPC status code names as Go prints them (codes.Code.String()).
GO_CODE_NAMES = {
    0: "OK", 1: "Canceled", 2: "Unknown", 3: "InvalidArgument", 4: "DeadlineExceeded", 5: "NotFound",
    6: "AlreadyExists", 7: "PermissionDenied", 8: "ResourceExhausted", 9: "FailedPrecondition",
    10: "Aborted", 11: "OutOfRange", 12: "Unimplemented", 13: "Internal", 14: "Unavailable",
    15: "DataLoss", 16: "Unauthenticated",
}


class EtcdError(Exception):
    """A failed request: `code` is the gRPC status number, `message` the server's description."""

    def __init__(self, code: int, message: str, go_desc: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.go_desc = go_desc if go_desc is not None else message

    @property
    def code_name(self) -> str:
        return GO_CODE_NAMES.get(self.code, str(self.code))

    @property
    def go_error(self) -> str:
        return f"rpc error: code = {self.code_name} desc = {self.go_desc}"

    def __str__(self) -> str:
        return self.message


class DeadlineExceeded(EtcdError):
    """The request did not complete within its timeout (Go: `context deadline exceeded`)."""

    def __init__(self, go_desc: str = "context deadline exceeded"):
        super().__init__(4, "context deadline exceeded", go_desc)


class AuthenticationFailed(EtcdError):
    """Raised while building a client whose --user credentials were rejected."""


class ConfigError(Exception):
    """Bad client configuration (TLS files, endpoints): etcdctl reports these with exit 128."""


# Server messages whose gRPC code is Unauthenticated and mean "get a new token and retry".
TOKEN_RETRY_MESSAGES = ("etcdserver: invalid auth token", "etcdserver: auth token is expired")
