"""Lease service: Grant, Revoke, TimeToLive, Leases, and keep-alives (once or streaming)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from etcdctl_py.client.errors import EtcdError
from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.client.retry import rpc_error
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout

# etcd's ErrLeaseNotFound as the Go client reports it when a keep-alive finds no lease.
LEASE_NOT_FOUND = "etcdserver: requested lease not found"


class Lease(ServiceHandle):
    """Typed wrapper around etcd's Lease service. `timeout=None` waits forever."""

    service = "Lease"

    def grant(self, ttl: int, lease_id: int = 0, *, timeout: Timeout = ...) -> rpc_pb2.LeaseGrantResponse:
        return self._unary(
            "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id), rpc_pb2.LeaseGrantResponse, timeout
        )

    def revoke(self, lease_id: int, *, timeout: Timeout = ...) -> rpc_pb2.LeaseRevokeResponse:
        return self._unary("LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease_id), rpc_pb2.LeaseRevokeResponse, timeout)

    def time_to_live(
        self, lease_id: int, keys: bool = False, *, timeout: Timeout = ...
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        req = rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys)
        return self._unary("LeaseTimeToLive", req, rpc_pb2.LeaseTimeToLiveResponse, timeout)

    def leases(self, *, timeout: Timeout = ...) -> rpc_pb2.LeaseLeasesResponse:
        return self._unary("LeaseLeases", rpc_pb2.LeaseLeasesRequest(), rpc_pb2.LeaseLeasesResponse, timeout)

    def keep_alive_once(self, lease_id: int) -> rpc_pb2.LeaseKeepAliveResponse:
        """One renewal; EtcdError(NotFound) when the lease does not exist (the Go client's KeepAliveOnce)."""
        for resp in self.keep_alive(lease_id, once=True):
            return resp
        raise EtcdError(5, LEASE_NOT_FOUND)

    def keep_alive(
        self, lease_id: int, *, once: bool = False, stop: threading.Event | None = None
    ) -> Iterator[rpc_pb2.LeaseKeepAliveResponse]:
        """Renew the lease every TTL/3 seconds, yielding each response; ends when the lease is gone
        (TTL <= 0), when `stop` is set, or after one response with `once`.

        Like clientv3's lessor, a stream that fails with Unavailable/Internal (its member died) is reopened
        on the next endpoint after 500 ms, and the renewals go on; if the lease's TTL runs out before a
        renewal gets through, the lease is taken as expired and the iteration ends."""
        import time

        import grpc

        from etcdctl_py.client.transport.grpcio import call_error

        stop = stop or threading.Event()
        expires: float | None = None  # when the lease runs out unless renewed (known after the first answer)
        first = True
        while True:
            reqs: queue.Queue[rpc_pb2.LeaseKeepAliveRequest | None] = queue.Queue()
            reqs.put(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
            call = self._c.bidi(
                "Lease", "LeaseKeepAlive", _requests(reqs), rpc_pb2.LeaseKeepAliveResponse, wait_for_ready=first
            )
            timer: threading.Timer | None = None
            try:
                for resp in call:
                    if resp.TTL <= 0:
                        return
                    expires = time.monotonic() + resp.TTL
                    yield resp
                    if once or stop.is_set():
                        return
                    timer = threading.Timer(
                        max(resp.TTL / 3.0, 0.5), lambda q=reqs: q.put(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
                    )
                    timer.daemon = True
                    timer.start()
                return
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.CANCELLED:
                    return
                if once or code.name not in ("UNAVAILABLE", "INTERNAL"):
                    raise rpc_error(call_error(e)) from None
            finally:
                if timer is not None:
                    timer.cancel()
                reqs.put(None)
                call.cancel()
            if stop.wait(0.5):  # clientv3's retryConnWait
                return
            if expires is not None and time.monotonic() >= expires:
                return  # not renewed in time: expired as far as this client can tell
            self._c.next_endpoint()
            first = False


def _requests(reqs: queue.Queue[rpc_pb2.LeaseKeepAliveRequest | None]) -> Iterator[rpc_pb2.LeaseKeepAliveRequest]:
    while True:
        item = reqs.get()
        if item is None:
            return
        yield item
