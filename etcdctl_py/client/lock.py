"""v3lock service: a distributed mutex held for the life of a lease (etcd's Lock/Unlock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.proto.v3lockpb import v3lock_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout


class Lock(ServiceHandle):
    service = "Lock"

    def lock(self, name: bytes, lease: int, *, timeout: Timeout = None) -> v3lock_pb2.LockResponse:
        """Block until `name` is held; the key (`name/<lease hex>`) lives as long as `lease`."""
        return self._unary("Lock", v3lock_pb2.LockRequest(name=name, lease=lease), v3lock_pb2.LockResponse, timeout)

    def unlock(self, key: bytes, *, timeout: Timeout = ...) -> v3lock_pb2.UnlockResponse:
        return self._unary("Unlock", v3lock_pb2.UnlockRequest(key=key), v3lock_pb2.UnlockResponse, timeout)
