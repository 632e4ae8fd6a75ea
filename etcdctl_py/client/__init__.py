"""A small typed Python client for etcd's v3 API (the layer the CLI is built on).

    from etcdctl_py.client import Client
    with Client(["127.0.0.1:2379"]) as c:
        c.kv.put(b"k", b"v")
        print(c.kv.get(b"k"))

The errors, TLSConfig and prefix_end are plain Python; `Client` is imported on first use, so the v2 client can share
TLSConfig without loading the v3 client. Client itself does not import grpc: unary calls and server streams go over
the standard-library HTTP/2 transport, and grpc is imported only for what needs grpcio (bidirectional streams such
as Watch and lease keep-alive, election Observe, a host-name endpoint, ETCDCTL_PY_TRANSPORT=grpcio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.client.errors import (
    AuthenticationFailed,
    ConfigError,
    DeadlineExceeded,
    EtcdError,
    NoAvailableEndpoints,
)
from etcdctl_py.client.tls import TLSConfig
from etcdctl_py.keyrange import prefix_end

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client

__all__ = [
    "Client",
    "TLSConfig",
    "EtcdError",
    "DeadlineExceeded",
    "AuthenticationFailed",
    "ConfigError",
    "NoAvailableEndpoints",
    "prefix_end",
]


def __getattr__(name: str) -> object:
    """`Client` on first use (PEP 562): importing the package's light parts does not load the client's modules."""
    if name == "Client":
        from etcdctl_py.client.client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
