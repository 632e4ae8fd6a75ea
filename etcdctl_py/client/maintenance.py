"""Maintenance service: Status (and, as verbs land, alarms, defrag, hashes, snapshots, move-leader)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client


class Maintenance:
    def __init__(self, client: "Client"):
        self._c = client

    def status(self, *, timeout: Any = ...) -> rpc_pb2.StatusResponse:
        return self._c.unary("Maintenance", "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse,
                             timeout=timeout)

    # -- defragment / snapshot / hash (added for defrag, snapshot save, make-mirror and check) --------------------

    def at(self, endpoint: str) -> "Client":
        """A client bound to one endpoint with this client's settings and auth token (Go's maintenance dial).

        Defragment, Status and HashKV address a member, not "any member": Go dials that endpoint directly.
        Close it when done.
        """
        from etcdctl_py.client.client import Client

        c = self._c
        sub = Client([endpoint], dial_timeout=c.dial_timeout, command_timeout=c.command_timeout,
                     keepalive_time=c.keepalive_time, keepalive_timeout=c.keepalive_timeout, tls=c.tls,
                     warn_logger=c.warn_logger)
        sub._user, sub._password, sub._token = c._user, c._password, c._token  # share the session token
        return sub

    def defragment(self, endpoint: str | None = None, *, timeout: Any = ...) -> rpc_pb2.DefragmentResponse:
        """Defragment one member's backend (`endpoint`, or the member this client talks to)."""
        if endpoint is None:
            return self._c.unary("Maintenance", "Defragment", rpc_pb2.DefragmentRequest(),
                                 rpc_pb2.DefragmentResponse, timeout=timeout)
        sub = self.at(endpoint)
        try:
            return sub.unary("Maintenance", "Defragment", rpc_pb2.DefragmentRequest(), rpc_pb2.DefragmentResponse,
                             timeout=timeout)
        finally:
            sub.close()

    def status_of(self, endpoint: str, *, timeout: Any = ...) -> rpc_pb2.StatusResponse:
        """Status of one given member (not whichever member the client is connected to)."""
        sub = self.at(endpoint)
        try:
            return sub.unary("Maintenance", "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse,
                             timeout=timeout)
        finally:
            sub.close()

    def snapshot(self, *, timeout: float | None = None) -> Iterator[rpc_pb2.SnapshotResponse]:
        """The backend snapshot as a stream of chunks; each carries `remaining_bytes`, the last one the sha256."""
        return self._c.stream("Maintenance", "Snapshot", rpc_pb2.SnapshotRequest(), rpc_pb2.SnapshotResponse,
                              timeout=timeout)
