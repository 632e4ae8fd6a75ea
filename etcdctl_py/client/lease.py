"""Lease service: Grant, Revoke, TimeToLive, Leases, and keep-alives (once or streaming)."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Iterator

from etcdctl_py.client.errors import EtcdError
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client

# etcd's ErrLeaseNotFound as the Go client reports it when a keep-alive finds no lease.
LEASE_NOT_FOUND = "etcdserver: requested lease not found"


class Lease:
    """Typed wrapper around etcd's Lease service. `timeout=None` waits forever."""

    def __init__(self, client: "Client"):
        self._c = client

    def grant(self, ttl: int, lease_id: int = 0, *, timeout: Any = ...) -> rpc_pb2.LeaseGrantResponse:
        return self._c.unary("Lease", "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id),
                             rpc_pb2.LeaseGrantResponse, timeout=timeout)

    def revoke(self, lease_id: int, *, timeout: Any = ...) -> rpc_pb2.LeaseRevokeResponse:
        return self._c.unary("Lease", "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease_id),
                             rpc_pb2.LeaseRevokeResponse, timeout=timeout)

    def time_to_live(self, lease_id: int, keys: bool = False, *, timeout: Any = ...) -> rpc_pb2.LeaseTimeToLiveResponse:
        return self._c.unary("Lease", "LeaseTimeToLive", rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys),
                             rpc_pb2.LeaseTimeToLiveResponse, timeout=timeout)

    def leases(self, *, timeout: Any = ...) -> rpc_pb2.LeaseLeasesResponse:
        return self._c.unary("Lease", "LeaseLeases", rpc_pb2.LeaseLeasesRequest(), rpc_pb2.LeaseLeasesResponse,
                             timeout=timeout)

    def keep_alive_once(self, lease_id: int) -> rpc_pb2.LeaseKeepAliveResponse:
        """One renewal; EtcdError(NotFound) when the lease does not exist (the Go client's KeepAliveOnce)."""
        for resp in self.keep_alive(lease_id, once=True):
            return resp
        raise EtcdError(5, LEASE_NOT_FOUND)

    def keep_alive(self, lease_id: int, *, once: bool = False,
                   stop: threading.Event | None = None) -> Iterator[rpc_pb2.LeaseKeepAliveResponse]:
        """Renew the lease every TTL/3 seconds, yielding each response; ends when the lease is gone
        (TTL <= 0), when `stop` is set, or after one response with `once`."""
        reqs: queue.Queue = queue.Queue()
        stop = stop or threading.Event()

        def requests() -> Iterator[rpc_pb2.LeaseKeepAliveRequest]:
            while True:
                item = reqs.get()
                if item is None:
                    return
                yield item

        reqs.put(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
        call = self._c.bidi("Lease", "LeaseKeepAlive", requests(), rpc_pb2.LeaseKeepAliveResponse)
        timer: threading.Timer | None = None
        try:
            for resp in _translate(call):
                if resp.TTL <= 0:
                    return
                yield resp
                if once or stop.is_set():
                    return
                timer = threading.Timer(max(resp.TTL / 3.0, 0.5),
                                        lambda: reqs.put(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id)))
                timer.daemon = True
                timer.start()
        finally:
            if timer is not None:
                timer.cancel()
            reqs.put(None)
            call.cancel()


def _translate(call: Any) -> Iterator[Any]:
    import grpc

    try:
        yield from call
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED:
            return
        raise EtcdError(e.code().value[0], e.details() or "") from None
