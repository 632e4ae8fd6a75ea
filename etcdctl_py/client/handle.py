"""The base of the typed service handles (`client.kv`, `client.lease`, ...): one etcd gRPC service each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client, Decoder
    from etcdctl_py.client.retry import Timeout

R = TypeVar("R")


class ServiceHandle:
    """Methods of one service, sent through the Client's failover and retry (`Client.unary`)."""

    service: ClassVar[str]

    def __init__(self, client: Client):
        self._c = client

    def _unary(self, method: str, request: Any, resp_type: Decoder[R], timeout: Timeout = ...) -> R:
        return self._c.unary(self.service, method, request, resp_type, timeout=timeout)
