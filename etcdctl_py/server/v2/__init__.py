"""etcd's v2 HTTP API for etcd-py `--enable-v2`: the v2 store and its HTTP handler.

Mount `V2Api(identity, data_dir)` on the client port: call `await api.handle_async(method,
path, query, headers, body)` (or the blocking `api.handle(...)` for non-wait requests) and
`api.tick()` every 500 ms so TTL keys expire.
"""

from .api import V2Api, V2Identity, V2Member
from .store import Store

__all__ = ["Store", "V2Api", "V2Identity", "V2Member"]
