"""Maintenance service: Status (and, as verbs land, alarms, defrag, hashes, snapshots, move-leader)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client


class Maintenance:
    def __init__(self, client: "Client"):
        self._c = client

    def status(self, *, timeout: Any = ...) -> rpc_pb2.StatusResponse:
        return self._c.unary("Maintenance", "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse,
                             timeout=timeout)
