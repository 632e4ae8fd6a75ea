"""etcd's server-side gRPC errors: status codes and messages exactly as etcd sends them.

etcdctl prints the message verbatim (`Error: etcdserver: ...`), so these strings are part of
the wire contract.
"""

from __future__ import annotations

import grpc

C = grpc.StatusCode


class EtcdError(Exception):
    """An error that reaches the client as a gRPC status with etcd's code and message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _e(code: grpc.StatusCode, msg: str) -> EtcdError:
    return EtcdError(code, msg)


EMPTY_KEY = _e(C.INVALID_ARGUMENT, "etcdserver: key is not provided")
KEY_NOT_FOUND = _e(C.INVALID_ARGUMENT, "etcdserver: key not found")
VALUE_PROVIDED = _e(C.INVALID_ARGUMENT, "etcdserver: value is provided")
LEASE_PROVIDED = _e(C.INVALID_ARGUMENT, "etcdserver: lease is provided")
TOO_MANY_OPS = _e(C.INVALID_ARGUMENT, "etcdserver: too many operations in txn request")
DUPLICATE_KEY = _e(C.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
COMPACTED = _e(C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
FUTURE_REV = _e(C.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")
NO_SPACE = _e(C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded")

LEASE_NOT_FOUND = _e(C.NOT_FOUND, "etcdserver: requested lease not found")
LEASE_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: lease already exists")
LEASE_TTL_TOO_LARGE = _e(C.OUT_OF_RANGE, "etcdserver: too large lease TTL")

MEMBER_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: member ID already exist")
PEER_URL_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists")
# rpctypes.ErrMemberNotEnoughStarted is an EtcdError, not a gRPC status: it reaches clients as code Unknown
MEMBER_NOT_ENOUGH_STARTED = _e(C.UNKNOWN, "etcdserver: re-configuration failed due to not enough started members")
MEMBER_BAD_URLS = _e(C.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid")
MEMBER_NOT_FOUND = _e(C.NOT_FOUND, "etcdserver: member not found")
MEMBER_NOT_LEARNER = _e(C.FAILED_PRECONDITION, "etcdserver: can only promote a learner member")

REQUEST_TOO_LARGE = _e(C.INVALID_ARGUMENT, "etcdserver: request is too large")

ROOT_USER_NOT_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: root user does not exist")
ROOT_ROLE_NOT_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: root user does not have root role")
USER_ALREADY_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: user name already exists")
USER_EMPTY = _e(C.INVALID_ARGUMENT, "etcdserver: user name is empty")
USER_NOT_FOUND = _e(C.FAILED_PRECONDITION, "etcdserver: user name not found")
ROLE_ALREADY_EXIST = _e(C.FAILED_PRECONDITION, "etcdserver: role name already exists")
ROLE_NOT_FOUND = _e(C.FAILED_PRECONDITION, "etcdserver: role name not found")
ROLE_EMPTY = _e(C.INVALID_ARGUMENT, "etcdserver: role name is empty")
AUTH_FAILED = _e(C.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password")
PERMISSION_NOT_GIVEN = _e(C.INVALID_ARGUMENT, "etcdserver: permission not given")
PERMISSION_DENIED = _e(C.PERMISSION_DENIED, "etcdserver: permission denied")
ROLE_NOT_GRANTED = _e(C.FAILED_PRECONDITION, "etcdserver: role is not granted to the user")
PERMISSION_NOT_GRANTED = _e(C.FAILED_PRECONDITION, "etcdserver: permission is not granted to the role")
AUTH_NOT_ENABLED = _e(C.FAILED_PRECONDITION, "etcdserver: authentication is not enabled")
INVALID_AUTH_TOKEN = _e(C.UNAUTHENTICATED, "etcdserver: invalid auth token")
INVALID_AUTH_MGMT = _e(C.INVALID_ARGUMENT, "etcdserver: invalid auth management")
# Not in etcd 3.5.1's gRPC error map: they reach clients as code Unknown with the auth package text.
AUTH_OLD_REVISION = _e(C.UNKNOWN, "auth: revision in header is old")
NO_PASSWORD_USER = _e(C.UNKNOWN, "auth: authentication failed, password was given for no password user")

STOPPED = _e(C.UNAVAILABLE, "etcdserver: server stopped")
BAD_LEADER_TRANSFEREE = _e(C.FAILED_PRECONDITION, "etcdserver: bad leader transferee")
WRONG_DOWNGRADE_VERSION_FORMAT = _e(C.INVALID_ARGUMENT, "etcdserver: wrong downgrade target version format")
INVALID_DOWNGRADE_TARGET = _e(C.INVALID_ARGUMENT, "etcdserver: invalid downgrade target version")
NO_INFLIGHT_DOWNGRADE = _e(C.FAILED_PRECONDITION, "etcdserver: no inflight downgrade job")
DOWNGRADE_IN_PROCESS = _e(C.FAILED_PRECONDITION, "etcdserver: cluster has a downgrade job in progress")
REQUEST_TIMEOUT = _e(C.UNAVAILABLE, "etcdserver: request timed out")
UNKNOWN_METHOD = _e(C.UNKNOWN, "etcdserver: unknown method")
CORRUPT = _e(C.DATA_LOSS, "etcdserver: corrupt cluster")


# grpc-go's own refusals, which etcd's clients see as they are (grpcio words them differently)
def grpc_recv_too_large(size: int, limit: int) -> EtcdError:
    """grpc-go's refusal of a request above the server's receive limit (etcd: max-request-bytes + 512 KiB)."""
    return _e(C.RESOURCE_EXHAUSTED, f"grpc: received message larger than max ({size} vs. {limit})")


def grpc_send_too_large(size: int, limit: int) -> EtcdError:
    """grpc-go's refusal to send a response above the server's send limit (etcd: math.MaxInt32)."""
    return _e(C.RESOURCE_EXHAUSTED, f"grpc: trying to send message larger than max ({size} vs. {limit})")


def grpc_unmarshal_failed(reason: str, streaming: bool) -> EtcdError:
    """grpc-go's answer to a request that is not a valid message of the method's type (its unary and its
    streaming receive paths word it differently)."""
    if streaming:
        return _e(C.INTERNAL, f"grpc: failed to unmarshal the received message {reason}")
    return _e(C.INTERNAL, f"grpc: error unmarshalling request: {reason}")
