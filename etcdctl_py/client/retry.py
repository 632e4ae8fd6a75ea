"""How a request is retried across endpoints until its deadline, and the Go texts its failures end with.

Shared by every call path of the client (unary requests, the Snapshot stream, watch and keep-alive streams), below
the Client class so that nothing here needs it.

Behaviour copied from etcd's Go client because users can see it: dialing is lazy, so a dead endpoint shows up as
`context deadline exceeded` once the request's timeout has passed, while the request is retried against every
endpoint in turn; that error then carries the last dial error in grpc-go's words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar

from etcdctl_py.client.errors import DeadlineExceeded, EtcdError
from etcdctl_py.client.transport.base import DEADLINE_EXCEEDED, UNAVAILABLE, CallError

if TYPE_CHECKING:
    from etcdctl_py.client.endpoints import Endpoint

# A request's timeout in seconds: None waits forever, `...` (the default) takes the client's command timeout.
Timeout: TypeAlias = "float | None | EllipsisType"

# Timeouts past this many seconds (a Go duration reaches 292 years) are no deadline at all for grpc,
# whose C core would overflow and expire the call at once.
NO_DEADLINE_PAST = 10 * 365 * 86400.0

T = TypeVar("T")


def grpc_timeout(seconds: float | None) -> float | None:
    """A timeout a transport can take: None for none, or for one too far away to matter."""
    if seconds is None or seconds > NO_DEADLINE_PAST:
        return None
    return seconds


def is_connection_error(details: str) -> bool:
    """Whether grpcio's Unavailable status means "could not reach the member" (so another endpoint may be tried)."""
    d = details.lower()
    return any(
        s in d
        for s in (
            "failed to connect",
            "connection refused",
            "connect failed",
            "dns resolution",
            "name resolution",
            "no such file",
            "socket closed",
            "connection reset",
            "handshake",
            "unavailable",
            "failed to pick",
            "empty address list",
            "ssl_error",
            "ipv4:",
            "ipv6:",
            "unix:",
        )
    )


def dial_error_text(ep: Endpoint, details: str) -> str:
    """Go's text for a failed dial of `ep`, from grpc-core's `details` (our HTTP/2 gives Go's text itself)."""
    if ep.dial_error:
        return ep.dial_error
    d = details.lower()
    for needle, errno_text in (
        ("connection refused", "connection refused"),
        ("no such file", "no such file or directory"),
        ("permission denied", "permission denied"),
    ):
        if needle in d:
            return f"dial {ep.dial_addr}: connect: {errno_text}"
    return details


def deadline_desc(last_dial_error: str) -> str:
    """What Go's `context deadline exceeded` says when a dial error kept the request from being sent."""
    if not last_dial_error:
        return "context deadline exceeded"
    if last_dial_error.startswith("transport: "):  # a failed TLS handshake, not a failed dial
        return f'latest balancer error: last connection error: connection error: desc = "{last_dial_error}"'
    return (
        "latest balancer error: last connection error: connection error: desc = "
        f'"transport: Error while dialing {last_dial_error}"'
    )


def rpc_error(e: CallError, last_dial_error: str = "") -> EtcdError:
    """The EtcdError a failed call ends with (DeadlineExceeded for its deadline)."""
    if e.code == DEADLINE_EXCEEDED:
        return DeadlineExceeded(deadline_desc(last_dial_error))
    return EtcdError.from_status(e.code, e.details)


def translated(it: Iterator[T], first: Sequence[T] = ()) -> Iterator[T]:
    """A response stream (after the responses in `first`) whose transport errors surface as EtcdError."""
    yield from first
    try:
        yield from it
    except CallError as e:
        raise rpc_error(e) from None


# The methods clientv3 3.5.1 (client/v3/retry.go) calls with its "repeatable" policy: any Unavailable answer is
# tried again (the next endpoint, after 25 ms) until the deadline, each failed attempt logged. Every other method
# is tried again only when no connection could be had (write-at-most-once).
REPEATABLE = frozenset(
    {
        "/etcdserverpb.KV/Range",
        "/etcdserverpb.Lease/LeaseTimeToLive",
        "/etcdserverpb.Lease/LeaseLeases",
        "/etcdserverpb.Lease/LeaseGrant",
        "/etcdserverpb.Lease/LeaseRevoke",
        "/etcdserverpb.Cluster/MemberList",
        "/etcdserverpb.Maintenance/Alarm",
        "/etcdserverpb.Maintenance/Status",
        "/etcdserverpb.Maintenance/Hash",
        "/etcdserverpb.Maintenance/HashKV",
        "/etcdserverpb.Maintenance/MoveLeader",
        "/etcdserverpb.Auth/UserList",
        "/etcdserverpb.Auth/UserGet",
        "/etcdserverpb.Auth/RoleGet",
        "/etcdserverpb.Auth/RoleList",
    }
)
RETRY_WAIT = 0.025  # clientv3's defaultBackoffWaitBetween (with 10% jitter)


class Rotation(Protocol):
    """What Attempts needs of a client: its endpoints and a way to move on to the next one."""

    endpoints: list[Endpoint]

    def next_endpoint(self, failed: int) -> None: ...


class Attempts:
    """One request's schedule across endpoints: clientv3's retry interceptor and balancer as users see them.

    A connection failure moves on to the next endpoint, pausing (25 ms doubling to 0.5 s) once every endpoint has
    refused; the request gives up at its deadline with DeadlineExceeded carrying the last dial error."""

    def __init__(self, client: Rotation, timeout: float | None):
        self._c = client
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self.last_dial_error = ""
        self._tried = 0
        self._backoff = 0.025

    def remaining(self) -> float | None:
        """Seconds left for the next attempt (None: no deadline); DeadlineExceeded when none are."""
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(deadline_desc(self.last_dial_error))
        return left

    def retry_repeatable(self, idx: int) -> None:
        """A repeatable request answered Unavailable on endpoint `idx` (logged by the caller): wait clientv3's
        backoff, then the next endpoint; DeadlineExceeded when the deadline passes in the wait."""
        import random  # only on this path: a plain command starts without it

        wait = RETRY_WAIT * (1 + 0.1 * (2 * random.random() - 1))
        left = None if self._deadline is None else self._deadline - time.monotonic()
        if left is not None and left <= wait:
            time.sleep(max(left, 0.0))
            raise DeadlineExceeded()  # in the wait, not in a call: Go logs nothing more and says no more
        time.sleep(wait)
        self._c.next_endpoint(idx)

    def failed(self, idx: int, e: CallError) -> EtcdError | None:
        """After attempt on endpoint `idx` failed with `e`: None to try again (the next endpoint), else the error
        the request ends with."""
        if e.dial_error is not None:
            self.last_dial_error = e.dial_error
        elif e.code == UNAVAILABLE and is_connection_error(e.details):
            self.last_dial_error = dial_error_text(self._c.endpoints[idx], e.details)
        else:
            return rpc_error(e, self.last_dial_error)
        self._c.next_endpoint(idx)
        self._tried += 1
        if self._tried % len(self._c.endpoints) == 0:
            left = None if self._deadline is None else max(self._deadline - time.monotonic(), 0.0)
            time.sleep(self._backoff if left is None else min(self._backoff, left))
            self._backoff = min(self._backoff * 2, 0.5)
        return None
