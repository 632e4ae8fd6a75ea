"""Maintenance service: Status (and, as verbs land, alarms, defrag, hashes, snapshots, move-leader)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from etcdctl_py.snapshot_wire import SNAPSHOT_PATH, SnapshotChunk, parse_snapshot_response

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


class Maintenance:
    def __init__(self, client: "Client"):
        self._c = client

    def status(self, *, timeout: Any = ...) -> rpc_pb2.StatusResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

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
                     warn_logger=_first_endpoint_logger(c))
        sub._user, sub._password, sub._token = c._user, c._password, c._token  # share the session token
        return sub

    def defragment(self, endpoint: str | None = None, *, timeout: Any = ...) -> rpc_pb2.DefragmentResponse:
        """Defragment one member's backend (`endpoint`, or the member this client talks to)."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

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
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        sub = self.at(endpoint)
        try:
            return sub.unary("Maintenance", "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse,
                             timeout=timeout)
        finally:
            sub.close()

    def snapshot(self, *, timeout: float | None = None) -> Iterator[rpc_pb2.SnapshotResponse]:
        """The backend snapshot as a stream of chunks; each carries `remaining_bytes`, the last one the sha256."""
        return open_snapshot(self._c, timeout=timeout)

    # -- alarms / hashkv / move-leader (alarm, endpoint hashkv, move-leader verbs) ---------------------

    def _alarm(self, action: int, member_id: int = 0, alarm: int = 0, timeout: Any = ...) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._c.unary("Maintenance", "Alarm", rpc_pb2.AlarmRequest(action=action, memberID=member_id,
                                                                          alarm=alarm),
                             rpc_pb2.AlarmResponse, timeout=timeout)

    def alarm_list(self, *, timeout: Any = ...) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._alarm(rpc_pb2.AlarmRequest.GET, timeout=timeout)

    def alarm_activate(self, member_id: int, alarm: int, *, timeout: Any = ...) -> rpc_pb2.AlarmResponse:
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._alarm(rpc_pb2.AlarmRequest.ACTIVATE, member_id, alarm, timeout=timeout)

    def alarm_disarm(self, member_id: int = 0, alarm: int = 0, *, timeout: Any = ...) -> rpc_pb2.AlarmResponse:
        """Disarm one alarm; with no member and no alarm, every listed alarm one by one (as Go's client does),
        returning a header-less response that lists what was disarmed."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        if member_id or alarm:
            return self._alarm(rpc_pb2.AlarmRequest.DEACTIVATE, member_id, alarm, timeout=timeout)
        out = rpc_pb2.AlarmResponse()
        for a in self.alarm_list(timeout=timeout).alarms:
            out.alarms.extend(self._alarm(rpc_pb2.AlarmRequest.DEACTIVATE, a.memberID, a.alarm,
                                          timeout=timeout).alarms)
        return out

    def hash_kv_of(self, endpoint: str, revision: int = 0, *, timeout: Any = ...) -> rpc_pb2.HashKVResponse:
        """HashKV of one given member."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        sub = self.at(endpoint)
        try:
            return sub.unary("Maintenance", "HashKV", rpc_pb2.HashKVRequest(revision=revision),
                             rpc_pb2.HashKVResponse, timeout=timeout)
        finally:
            sub.close()

    def move_leader(self, target_id: int, *, timeout: Any = ...) -> rpc_pb2.MoveLeaderResponse:
        """Transfer leadership; must be sent to the current leader."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2

        return self._c.unary("Maintenance", "MoveLeader", rpc_pb2.MoveLeaderRequest(targetID=target_id),
                             rpc_pb2.MoveLeaderResponse, timeout=timeout)


def _first_endpoint_logger(c: "Client") -> Any:
    """Go logs a per-endpoint dial's failures under the parent client's target (its first endpoint)."""
    if c.warn_logger is None:
        return None
    parent_authority = c.endpoints[0].authority
    return lambda go_error, _authority: c.warn_logger(go_error, parent_authority)


def open_snapshot(c: "Client", *, timeout: float | None = None,
                  raw: bool = False) -> Iterator[rpc_pb2.SnapshotResponse] | Iterator[SnapshotChunk]:
    """Open the Snapshot stream the way Go's client does and return it once the member has answered.

    Connection failures are retried (across endpoints, with backoff) until `timeout` (None = forever, as etcdctl
    without --command-timeout), and then end as DeadlineExceeded carrying the last dial error, like Go's
    "streamer failed to create ClientStream". Later stream errors surface as EtcdError while iterating.

    With `raw`, chunks are SnapshotChunk views parsed straight from the wire (snapshot_wire.parse_snapshot_response): no
    protobuf message is built per 32 KiB chunk and etcdctl_py.proto is not imported.
    """
    import time

    import grpc

    from etcdctl_py.client import client as cl
    from etcdctl_py.client.errors import DeadlineExceeded, EtcdError

    deadline = None if timeout is None else time.monotonic() + timeout
    last = ""
    backoff = 0.025
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(cl._deadline_desc(last))
        idx = c._current
        if raw:
            # SnapshotRequest has no fields: its encoding is empty
            fn = c._channel(idx).unary_stream(SNAPSHOT_PATH, request_serializer=None,
                                              response_deserializer=parse_snapshot_response)
            request: Any = b""
        else:
            from etcdctl_py.proto.etcdserverpb import rpc_pb2

            fn = c._method(idx, "Maintenance", "Snapshot", rpc_pb2.SnapshotResponse, "unary_stream")
            request = rpc_pb2.SnapshotRequest()
        it = fn(request, timeout=remaining, metadata=c._metadata(True), wait_for_ready=False)
        try:
            first = next(it)
        except StopIteration:
            return iter(())
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
            if code == grpc.StatusCode.UNAVAILABLE and cl._is_connection_error(details):
                last = cl._dial_error_text(c.endpoints[idx], details)
                c._current = (idx + 1) % len(c.endpoints)
                time.sleep(backoff if remaining is None else max(0.0, min(backoff, remaining)))
                backoff = min(backoff * 2, 0.5)
                continue
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise DeadlineExceeded(cl._deadline_desc(last) if last else "context deadline exceeded") from None
            raise EtcdError.from_status(code.value[0], details) from None
        return _rest(first, it)


def _rest(first: Any, it: Iterator[Any]) -> Iterator[Any]:
    import grpc

    from etcdctl_py.client.errors import DeadlineExceeded, EtcdError

    yield first
    try:
        yield from it
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise DeadlineExceeded() from None
        raise EtcdError.from_status(e.code().value[0], e.details() or "") from None
