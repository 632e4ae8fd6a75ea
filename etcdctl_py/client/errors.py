"""Errors raised by the client layer, carrying what etcdctl shows to users.

`str(err)` is the text etcdctl prints after `Error: ` (the server's `etcdserver: ...` message,
or `context deadline exceeded`); `go_error` is the `rpc error: code = X desc = Y` form that the
Go client logs.
"""

from __future__ import annotations

# gRPC status code names as Go prints them (codes.Code.String()).
GO_CODE_NAMES = {
    0: "OK",
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    6: "AlreadyExists",
    7: "PermissionDenied",
    8: "ResourceExhausted",
    9: "FailedPrecondition",
    10: "Aborted",
    11: "OutOfRange",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    15: "DataLoss",
    16: "Unauthenticated",
}


class EtcdError(Exception):
    """A failed request: `code` is the gRPC status number, `message` the server's description."""

    def __init__(self, code: int, message: str, go_desc: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.go_desc = go_desc if go_desc is not None else message

    @classmethod
    def from_status(cls, code: int, details: str) -> EtcdError:
        """clientv3's toErr: etcd's own errors print their description, any other gRPC error keeps Go's
        `rpc error: code = X desc = Y` (e.g. `Unimplemented` from a server that lacks a method)."""
        if details in ETCD_ERROR_DESCS:
            return cls(code, details)
        return cls(code, f"rpc error: code = {GO_CODE_NAMES.get(code, str(code))} desc = {details}", details)

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


class NoAvailableEndpoints(Exception):
    """A client without endpoints (`--endpoints ""`): clientv3's ErrNoAvailableEndpoints."""

    def __init__(self) -> None:
        super().__init__("etcdclient: no available endpoints")


class ConfigError(Exception):
    """Bad client configuration (TLS files, endpoints): etcdctl reports these with exit 128."""


# Server messages whose gRPC code is Unauthenticated and mean "get a new token and retry".
TOKEN_RETRY_MESSAGES = ("etcdserver: invalid auth token", "etcdserver: auth token is expired")

# The descriptions clientv3 turns into its own error values (rpctypes' errStringToError in etcd 3.5.1): these print
# bare; any other gRPC status prints as Go's `rpc error: code = ... desc = ...`.
ETCD_ERROR_DESCS = frozenset(
    "etcdserver: " + d
    for d in (
        "key is not provided",
        "key not found",
        "value is provided",
        "lease is provided",
        "too many operations in txn request",
        "duplicate key given in txn request",
        "mvcc: required revision has been compacted",
        "mvcc: required revision is a future revision",
        "mvcc: database space exceeded",
        "requested lease not found",
        "lease already exists",
        "too large lease TTL",
        "member ID already exist",
        "Peer URLs already exists",
        "re-configuration failed due to not enough started members",
        "given member URLs are invalid",
        "member not found",
        "can only promote a learner member",
        "can only promote a learner member which is in sync with leader",
        "too many learner members in cluster",
        "request is too large",
        "too many requests",
        "root user does not exist",
        "root user does not have root role",
        "user name already exists",
        "user name is empty",
        "user name not found",
        "role name already exists",
        "role name not found",
        "role name is empty",
        "authentication failed, invalid user ID or password",
        "permission denied",
        "role is not granted to the user",
        "permission is not granted to the role",
        "authentication is not enabled",
        "invalid auth token",
        "invalid auth management",
        "no leader",
        "not leader",
        "leader changed",
        "not capable",
        "server stopped",
        "request timed out",
        "request timed out, possibly due to previous leader failure",
        "request timed out, possibly due to connection lost",
        "unhealthy cluster",
        "corrupt cluster",
        "rpc not supported for learner",
        "bad leader transferee",
        "cluster version not found during downgrade",
        "wrong downgrade target version format",
        "invalid downgrade target version",
        "cluster has a downgrade job in progress",
        "no inflight downgrade job",
    )
)
