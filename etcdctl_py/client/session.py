"""A lease kept alive in the background (etcd's concurrency.Session): what locks and elections hang on."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client


class Session:
    """Grant a lease of `ttl` seconds and renew it until `close()`; `done` is set if the lease is lost."""

    def __init__(self, client: Client, ttl: int = 60):
        self._c = client
        self.lease_id = client.lease.grant(ttl, timeout=None).ID
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep_alive, daemon=True)
        self._thread.start()

    def _keep_alive(self) -> None:
        try:
            for _ in self._c.lease.keep_alive(self.lease_id, stop=self._stop):
                if self._stop.is_set():
                    return
        except Exception:  # noqa: BLE001 - any failure means the session is gone
            pass
        if not self._stop.is_set():
            self.done.set()

    def close(self, revoke: bool = True) -> None:
        self._stop.set()
        if revoke:
            try:
                self._c.lease.revoke(self.lease_id)
            except Exception:  # noqa: BLE001 - best effort, as Go's Session.Close
                pass
