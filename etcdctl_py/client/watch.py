"""Watch service: one bidirectional stream carrying any number of watchers.

`WatchStream.watch()` adds a watcher; iterating the stream yields the server's responses in
order, with `created` acknowledgements consumed (as etcd's Go client does) and fragmented
responses merged. `request_progress()` asks for a progress notification on every watcher.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Iterator

from etcdctl_py.client.errors import EtcdError
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client

COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE_REV = "etcdserver: mvcc: required revision is a future revision"


def is_progress_notify(resp: rpc_pb2.WatchResponse) -> bool:
    """clientv3's IsProgressNotify: an empty, non-created, non-canceled response with a revision."""
    return (not resp.events and not resp.canceled and not resp.created and resp.compact_revision == 0
            and resp.header.revision != 0)


def cancel_error(resp: rpc_pb2.WatchResponse) -> str:
    """clientv3's WatchResponse.Err() text for a canceled watch."""
    if resp.compact_revision != 0:
        return COMPACTED
    if resp.cancel_reason:
        return resp.cancel_reason
    return FUTURE_REV


class WatchStream:
    def __init__(self, client: "Client", *, require_leader: bool = True):
        self._c = client
        self._reqs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self.active = 0  # watchers created and not canceled
        self.on_created: Any = None  # called with the watch id of each created watcher
        md = list(client._metadata(True) or [])
        if require_leader:
            md.append(("hasleader", "true"))
        fn = client._method(client._current, "Watch", "Watch", rpc_pb2.WatchResponse, "stream_stream")
        self._call = fn(self._requests(), metadata=md or None, wait_for_ready=True)

    def _requests(self) -> Iterator[rpc_pb2.WatchRequest]:
        while True:
            item = self._reqs.get()
            if item is None:
                return
            yield item

    def watch(self, key: bytes, range_end: bytes = b"", *, start_revision: int = 0, prev_kv: bool = False,
              progress_notify: bool = False) -> None:
        req = rpc_pb2.WatchRequest()
        cr = req.create_request
        cr.key, cr.range_end, cr.start_revision = key, range_end, start_revision
        cr.prev_kv, cr.progress_notify = prev_kv, progress_notify
        self._reqs.put(req)

    def request_progress(self) -> None:
        req = rpc_pb2.WatchRequest()
        req.progress_request.SetInParent()
        self._reqs.put(req)

    def close(self) -> None:
        self._reqs.put(None)
        self._call.cancel()

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]:
        import grpc

        pending: rpc_pb2.WatchResponse | None = None
        try:
            for resp in self._call:
                if resp.fragment:
                    if pending is None:
                        pending = resp
                    else:
                        pending.events.extend(resp.events)
                    continue
                if pending is not None:
                    pending.events.extend(resp.events)
                    pending.fragment = False
                    resp, pending = pending, None
                if resp.created:
                    with self._lock:
                        self.active += 1
                    if self.on_created is not None:
                        self.on_created(resp.watch_id)
                    if not resp.canceled:
                        continue
                if resp.canceled:
                    with self._lock:
                        self.active = max(self.active - 1, 0)
                yield resp
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise EtcdError(e.code().value[0], e.details() or "") from None


class Watch:
    """Handle: `client.watch.stream()` opens a WatchStream; `client.watch.watch(key)` is the one-watcher form."""

    def __init__(self, client: "Client"):
        self._c = client

    def stream(self, *, require_leader: bool = True) -> WatchStream:
        return WatchStream(self._c, require_leader=require_leader)

    def watch(self, key: bytes, range_end: bytes = b"", **kw: Any) -> WatchStream:
        s = self.stream()
        s.watch(key, range_end, **kw)
        return s
