"""A small typed Python client for etcd's v3 API (the layer the CLI is built on).

    from etcdctl_py.client import Client
    with Client(["127.0.0.1:2379"]) as c:
        c.kv.put(b"k", b"v")
        print(c.kv.get(b"k"))
"""

from etcdctl_py.client.client import Client, TLSConfig
from etcdctl_py.client.errors import (
    AuthenticationFailed,
    ConfigError,
    DeadlineExceeded,
    EtcdError,
    NoAvailableEndpoints,
)
from etcdctl_py.client.kv import prefix_end

__all__ = ["Client", "TLSConfig", "EtcdError", "DeadlineExceeded", "AuthenticationFailed", "ConfigError",
           "NoAvailableEndpoints", "prefix_end"]
