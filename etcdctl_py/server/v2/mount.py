"""Mount the v2 API on etcd-py's client port (`etcd-py --enable-v2`).

The front listener (etcdctl_py.server.frontend) hands every `/v2/...` request to
`V2Mount.serve()`, which it awaits on its asyncio loop: ordinary requests run in a worker
thread (the store fsyncs its JSON file), a long-poll wait (`?wait=true`) is a streamed reply
fed from the loop, so it blocks neither the loop nor a thread; the listener ends it when the
client hangs up. A daemon thread calls `tick()` every 500 ms (etcd's leader SYNC) so TTL keys expire.
"""

from __future__ import annotations

import threading
from typing import Any

from ..httpreply import Reply
from ..membership import Membership
from .api import V2Api, V2Identity, V2Member

TICK_SECONDS = 0.5


def identity_from_core(core: Any, token: str = "etcd-cluster", membership: Membership | None = None) -> V2Identity:
    """The v2 view of an EtcdCore: same cluster/member IDs and name; its members are the server's one Membership
    (`core.membership`, the one the v3 Cluster service changes and lists), so v2 and v3 see the same changes and
    both go to the WAL as ConfChange entries. `membership` overrides it (a core without one gets its own, over the
    core's member dict and lock, with the removed IDs of its db)."""
    cfg = core.cfg
    shared = membership if membership is not None else getattr(core, "membership", None)
    if shared is None:
        backend = getattr(getattr(core, "persister", None), "backend", None)
        removed = [int(k, 16) for k in backend.buckets.get(b"members_removed", {})] if backend is not None else []
        shared = Membership(
            core.members, core.lock, token=token or "etcd-cluster", removed=removed, local_id=cfg.member_id
        )
    members = [V2Member(m.id, m.name, list(m.peer_urls), list(m.client_urls)) for m in shared.members_sorted()]
    return V2Identity(
        cfg.cluster_id,
        cfg.member_id,
        members,
        name=cfg.name,
        token=token or "etcd-cluster",
        raft_index=lambda: int(core.raft_index),
        raft_term=lambda: int(core.raft_term),
        membership=shared,
    )


class V2Mount:
    """A V2Api plus its expiry ticker, callable from the front listener."""

    def __init__(self, api: V2Api, stopped: threading.Event) -> None:
        self.api = api
        self.stopped = stopped
        self.ticker = threading.Thread(target=self._tick_loop, daemon=True, name="v2-ttl-expiry")
        self.ticker.start()

    def _tick_loop(self) -> None:
        while not self.stopped.wait(TICK_SECONDS):
            try:
                self.api.tick()
            except Exception:  # noqa: BLE001 - a failed tick must not stop expiry for good
                pass

    async def serve(self, method: str, target: str, headers: dict[str, str], body: bytes, peer_cn: str | None) -> Reply:
        """Answer one /v2 request (frontend.V2Handler); peer_cn: the verified client certificate's CN."""
        path, _, query = target.partition("?")
        return await self.api.serve(method, path, query, headers, body, client_cn=peer_cn)


def mount(core: Any, token: str = "etcd-cluster") -> V2Mount:
    """Build the v2 API for a running EtcdCore; its store lives in `<data-dir>/v2/store.json`."""
    api = V2Api(identity_from_core(core, token), core.cfg.data_dir or None)
    return V2Mount(api, core.stopped)


__all__ = ["V2Mount", "identity_from_core", "mount"]
