"""Watch service: one bidirectional stream carrying any number of watchers.

`WatchStream.watch()` adds a watcher; iterating the stream yields the server's responses in
order, with `created` acknowledgements consumed (as etcd's Go client does) and fragmented
responses merged. `request_progress()` asks for a progress notification on every watcher.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from etcdctl_py.client.retry import rpc_error
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client

COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE_REV = "etcdserver: mvcc: required revision is a future revision"


def is_progress_notify(resp: rpc_pb2.WatchResponse) -> bool:
    """clientv3's IsProgressNotify: an empty, non-created, non-canceled response with a revision."""
    return (
        not resp.events
        and not resp.canceled
        and not resp.created
        and resp.compact_revision == 0
        and resp.header.revision != 0
    )


def cancel_error(resp: rpc_pb2.WatchResponse) -> str:
    """clientv3's WatchResponse.Err() text for a canceled watch."""
    if resp.compact_revision != 0:
        return COMPACTED
    if resp.cancel_reason:
        return resp.cancel_reason
    return FUTURE_REV


class _Watcher:
    """One watcher of a stream: its create request, the ID the caller knows it by, where to resume."""

    __slots__ = ("req", "public_id", "next_rev", "canceled")

    def __init__(self, req: rpc_pb2.WatchCreateRequest):
        self.req = req
        self.public_id: int | None = None  # the watch ID of its first creation
        self.next_rev = req.start_revision
        self.canceled = False


class _Generation:
    """One gRPC Watch stream; a new one replaces it when the member it talks to goes away."""

    def __init__(self) -> None:
        self.reqs: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()
        self.pending: list[_Watcher] = []  # created requests sent, acknowledgement not seen yet
        self.by_id: dict[int, _Watcher] = {}  # this stream's watch IDs
        self.call: Any = None

    def requests(self) -> Iterator[rpc_pb2.WatchRequest]:
        while True:
            item = self.reqs.get()
            if item is None:
                return
            yield item


# Go's clientv3 reconnects a watch stream on these codes (isHaltErr) and halts on every other one.
_RETRY_CODES = ("UNAVAILABLE", "INTERNAL")
_MAX_BACKOFF = 0.1  # clientv3's maxBackoff for reopening a watch stream


class WatchStream:
    """Watchers on one stream that survive the loss of their member, as clientv3's do: when the stream
    fails with Unavailable/Internal, it is reopened on the next endpoint and every live watcher is
    created again from the revision after the last one it delivered (or the last progress it saw).
    Callers keep seeing each watcher's first watch ID; re-creation acknowledgements are not yielded."""

    def __init__(self, client: Client, *, require_leader: bool = True):
        self._c = client
        self._lock = threading.Lock()
        self.active = 0  # watchers created and not canceled
        self.on_created: Callable[[int], None] | None = None  # called with the watch id of each created watcher
        self._require_leader = require_leader
        self._watchers: list[_Watcher] = []
        self._closed = False
        self._gen = self._open(wait_for_ready=True)

    def _open(self, wait_for_ready: bool) -> _Generation:
        """A new stream on the client's current endpoint, re-creating every live watcher (lock held or init)."""
        gen = _Generation()
        for w in self._watchers:
            if w.canceled:
                continue
            req = rpc_pb2.WatchRequest()
            req.create_request.CopyFrom(w.req)
            if w.public_id is not None:
                req.create_request.start_revision = w.next_rev
            gen.pending.append(w)
            gen.reqs.put(req)
        gen.call = self._c.bidi(
            "Watch",
            "Watch",
            gen.requests(),
            rpc_pb2.WatchResponse,
            wait_for_ready=wait_for_ready,
            require_leader=self._require_leader,
        )
        return gen

    def _reopen(self, failed: _Generation) -> _Generation:
        with self._lock:
            failed.reqs.put(None)
            if self._gen is failed and not self._closed:
                self._c.next_endpoint()
                self._gen = self._open(wait_for_ready=False)
            return self._gen

    def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int = 0,
        prev_kv: bool = False,
        progress_notify: bool = False,
    ) -> None:
        req = rpc_pb2.WatchRequest()
        cr = req.create_request
        cr.key, cr.range_end, cr.start_revision = key, range_end, start_revision
        cr.prev_kv, cr.progress_notify = prev_kv, progress_notify
        w = _Watcher(rpc_pb2.WatchCreateRequest())
        w.req.CopyFrom(cr)
        with self._lock:
            self._watchers.append(w)
            self._gen.pending.append(w)
            self._gen.reqs.put(req)

    def request_progress(self) -> None:
        req = rpc_pb2.WatchRequest()
        req.progress_request.SetInParent()
        with self._lock:
            self._gen.reqs.put(req)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            gen = self._gen
        gen.reqs.put(None)
        gen.call.cancel()

    def _track(self, gen: _Generation, resp: rpc_pb2.WatchResponse) -> tuple[_Watcher | None, bool]:
        """Update the watcher `resp` is about; returns it and whether the response is for the caller."""
        if resp.created:
            with self._lock:
                w = gen.pending.pop(0) if gen.pending else None
            if w is None:
                return None, True
            gen.by_id[resp.watch_id] = w
            first = w.public_id is None
            if first:
                w.public_id = resp.watch_id
                if w.req.start_revision == 0:
                    w.next_rev = resp.header.revision  # clientv3 resumes a "from now" watch at its creation revision
            if resp.canceled:
                w.canceled = True
                return w, True
            if first:
                with self._lock:
                    self.active += 1
                if self.on_created is not None:
                    self.on_created(resp.watch_id)  # its public ID, just set
            return w, False
        if resp.watch_id == -1:  # a progress response for the whole stream
            for w in gen.by_id.values():
                w.next_rev = resp.header.revision
            return None, True
        w = gen.by_id.get(resp.watch_id)
        if w is not None:
            w.next_rev = resp.header.revision
            if resp.events:
                w.next_rev = resp.events[-1].kv.mod_revision + 1
            if resp.canceled:
                w.canceled = True
        return w, True

    def __iter__(self) -> Iterator[rpc_pb2.WatchResponse]:
        import time

        import grpc

        from etcdctl_py.client.transport.grpcio import call_error

        gen = self._gen
        backoff = 0.001
        while True:
            pending: rpc_pb2.WatchResponse | None = None
            try:
                for resp in gen.call:
                    backoff = 0.001
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
                    w, show = self._track(gen, resp)
                    if not show:
                        continue
                    if w is not None and w.public_id is not None:
                        resp.watch_id = w.public_id
                    if resp.canceled:
                        with self._lock:
                            self.active = max(self.active - 1, 0)
                    yield resp
                return
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.CANCELLED or self._closed:
                    return
                if code.name not in _RETRY_CODES:
                    raise rpc_error(call_error(e)) from None
            time.sleep(backoff)
            backoff = min(backoff * 1.25, _MAX_BACKOFF)
            gen = self._reopen(gen)


class WatchOptions(TypedDict, total=False):
    """The keyword options of `WatchStream.watch`, for the one-watcher form that passes them on."""

    start_revision: int
    prev_kv: bool
    progress_notify: bool


class Watch:
    """Handle: `client.watch.stream()` opens a WatchStream; `client.watch.watch(key)` is the one-watcher form."""

    def __init__(self, client: Client):
        self._c = client

    def stream(self, *, require_leader: bool = True) -> WatchStream:
        return WatchStream(self._c, require_leader=require_leader)

    def watch(self, key: bytes, range_end: bytes = b"", **options: Unpack[WatchOptions]) -> WatchStream:
        s = self.stream()
        s.watch(key, range_end, **options)
        return s
