"""etcd's v2 HTTP API for etcd-py `--enable-v2`: the v2 store and its HTTP handler.

`mount.mount(core)` builds it for a running etcd-py (`--enable-v2`): the front listener awaits
`V2Mount.serve()` for every /v2 request, and a ticker calls `api.tick()` every 500 ms so TTL keys expire.
"""

from .api import V2Api, V2Identity, V2Member
from .store import Store

__all__ = ["Store", "V2Api", "V2Identity", "V2Member"]
