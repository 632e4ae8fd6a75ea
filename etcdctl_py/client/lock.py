"""v3lock service: a distributed mutex held for the life of a lease (etcd's Lock/Unlock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.proto.v3lockpb import v3lock_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client
    from etcdctl_py.client.retry import Timeout


class Lock:
    def __init__(self, client: Client):
        self._c = client

    def lock(self, name: bytes, lease: int, *, timeout: Timeout = None) -> v3lock_pb2.LockResponse:
        """Block until `name` is held; the key (`name/<lease hex>`) lives as long as `lease`."""
        return self._c.unary(
            "Lock", "Lock", v3lock_pb2.LockRequest(name=name, lease=lease), v3lock_pb2.LockResponse, timeout=timeout
        )

    def unlock(self, key: bytes, *, timeout: Timeout = ...) -> v3lock_pb2.UnlockResponse:
        return self._c.unary(
            "Lock", "Unlock", v3lock_pb2.UnlockRequest(key=key), v3lock_pb2.UnlockResponse, timeout=timeout
        )
