"""Maintenance service: Status, alarms, Defragment, HashKV, MoveLeader and the Snapshot stream.

Status, Defragment and HashKV can be sent to one given member (`endpoint=`): Go dials that endpoint directly
(Client.at), whichever member the client is talking to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal, TypeVar, overload

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.client.transport.snapshot import SnapshotChunk, parse_snapshot_response

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client
    from etcdctl_py.client.retry import Timeout
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

R = TypeVar("R")


class Maintenance(ServiceHandle):
    service = "Maintenance"

    def _on(self, endpoint: str | None, call: Callable[[Maintenance], R]) -> R:
        """`call` on the member at `endpoint` (through a client of its own, closed after), or, without an endpoint,
        on whichever member this client talks to."""
        if endpoint is None:
            return call(self)
        with self._c.at(endpoint) as sub:
            return call(sub.maintenance)

    def status(self, *, timeout: Timeout = ...) -> rpc_pb2.StatusResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._unary("Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse, timeout)

    def status_of(self, endpoint: str, *, timeout: Timeout = ...) -> rpc_pb2.StatusResponse:
        """Status of one given member (not whichever member the client is connected to)."""
        return self._on(endpoint, lambda m: m.status(timeout=timeout))

    def defragment(self, endpoint: str | None = None, *, timeout: Timeout = ...) -> rpc_pb2.DefragmentResponse:
        """Defragment one member's backend (`endpoint`, or the member this client talks to)."""
        return self._on(endpoint, lambda m: m._defragment(timeout))

    def _defragment(self, timeout: Timeout) -> rpc_pb2.DefragmentResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._unary("Defragment", rpc_pb2.DefragmentRequest(), rpc_pb2.DefragmentResponse, timeout)

    def hash_kv_of(self, endpoint: str, revision: int = 0, *, timeout: Timeout = ...) -> rpc_pb2.HashKVResponse:
        """HashKV of one given member."""
        return self._on(endpoint, lambda m: m._hash_kv(revision, timeout))

    def _hash_kv(self, revision: int, timeout: Timeout) -> rpc_pb2.HashKVResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._unary("HashKV", rpc_pb2.HashKVRequest(revision=revision), rpc_pb2.HashKVResponse, timeout)

    def move_leader(self, target_id: int, *, timeout: Timeout = ...) -> rpc_pb2.MoveLeaderResponse:
        """Transfer leadership; must be sent to the current leader."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._unary(
            "MoveLeader", rpc_pb2.MoveLeaderRequest(targetID=target_id), rpc_pb2.MoveLeaderResponse, timeout
        )

    def snapshot(self, *, timeout: float | None = None) -> Iterator[rpc_pb2.SnapshotResponse]:
        """The backend snapshot as a stream of chunks; each carries `remaining_bytes`, the last one the sha256."""
        return open_snapshot(self._c, timeout=timeout)

    # -- alarms ---------------------------------------------------------------------------------------------------

    def _alarm(
        self,
        action: rpc_pb2.AlarmRequest.AlarmAction,
        member_id: int = 0,
        alarm: rpc_pb2.AlarmType | None = None,
        timeout: Timeout = ...,
    ) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        req = rpc_pb2.AlarmRequest(action=action, memberID=member_id, alarm=alarm)
        return self._unary("Alarm", req, rpc_pb2.AlarmResponse, timeout)

    def alarm_list(self, *, timeout: Timeout = ...) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._alarm(rpc_pb2.AlarmRequest.GET, timeout=timeout)

    def alarm_activate(
        self, member_id: int, alarm: rpc_pb2.AlarmType, *, timeout: Timeout = ...
    ) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._alarm(rpc_pb2.AlarmRequest.ACTIVATE, member_id, alarm, timeout=timeout)

    def alarm_disarm(
        self, member_id: int = 0, alarm: rpc_pb2.AlarmType | None = None, *, timeout: Timeout = ...
    ) -> rpc_pb2.AlarmResponse:
        """Disarm one alarm; with no member and no alarm, every listed alarm one by one (as Go's client does),
        returning a header-less response that lists what was disarmed."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        if member_id or alarm:
            return self._alarm(rpc_pb2.AlarmRequest.DEACTIVATE, member_id, alarm, timeout=timeout)
        out = rpc_pb2.AlarmResponse()
        for a in self.alarm_list(timeout=timeout).alarms:
            out.alarms.extend(self._alarm(rpc_pb2.AlarmRequest.DEACTIVATE, a.memberID, a.alarm, timeout=timeout).alarms)
        return out


class _EmptyRequest:
    """SnapshotRequest has no fields: its encoding is empty, and needs no protobuf message."""

    @staticmethod
    def SerializeToString() -> bytes:  # noqa: N802 - the protobuf message API
        return b""


class _SnapshotChunks:
    """A response type that reads each SnapshotResponse straight from the wire (transport.snapshot)."""

    FromString = staticmethod(parse_snapshot_response)


@overload
def open_snapshot(
    c: Client, *, timeout: float | None = None, raw: Literal[False] = False
) -> Iterator[rpc_pb2.SnapshotResponse]: ...


@overload
def open_snapshot(c: Client, *, timeout: float | None = None, raw: Literal[True]) -> Iterator[SnapshotChunk]: ...


def open_snapshot(
    c: Client, *, timeout: float | None = None, raw: bool = False
) -> Iterator[rpc_pb2.SnapshotResponse] | Iterator[SnapshotChunk]:
    """Open the Snapshot stream the way Go's client does and return it once the member has answered
    (Client.open_stream: connection failures retried until `timeout`, None = forever, as etcdctl without
    --command-timeout).

    With `raw`, chunks are SnapshotChunk views parsed straight from the wire
    (transport.snapshot.parse_snapshot_response): no protobuf message is built per 32 KiB chunk and etcdctl_py.proto
    is not imported.
    """
    if raw:
        return c.open_stream("Maintenance", "Snapshot", _EmptyRequest(), _SnapshotChunks, timeout=timeout)
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    return c.open_stream(
        "Maintenance", "Snapshot", rpc_pb2.SnapshotRequest(), rpc_pb2.SnapshotResponse, timeout=timeout
    )
