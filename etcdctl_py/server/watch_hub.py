"""Watchers: live notification after each write and catch-up from history (etcd's watchableStore).

Everything that decides *what* a watcher receives runs under the store lock, so history
catch-up and live events never overlap or leave a gap.
"""

from __future__ import annotations

import queue

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.mvccpb import kv_pb2
from etcdctl_py.server import errors
from etcdctl_py.server.mvcc import KeyValue, MVCCStore

Event = kv_pb2.Event


class Watcher:
    __slots__ = ("id", "key", "end", "no_put", "no_delete", "prev_kv", "fragment", "progress", "stream", "quiet")

    def __init__(
        self, wid: int, key: bytes, end: bytes | None, creq: pb.WatchCreateRequest, stream: WatchStream
    ) -> None:
        self.id = wid
        self.key = key
        self.end = end
        self.no_put = pb.WatchCreateRequest.NOPUT in creq.filters
        self.no_delete = pb.WatchCreateRequest.NODELETE in creq.filters
        self.prev_kv = creq.prev_kv
        self.fragment = creq.fragment
        self.progress = creq.progress_notify
        self.stream = stream
        self.quiet = True  # no events sent since the last progress tick

    def matches(self, key: bytes) -> bool:
        if self.end is None:
            return key == self.key
        return key >= self.key and (self.end == b"" or key < self.end)

    def select(self, events: list) -> list:
        out = []
        for ev in events:
            if not self.matches(ev.kv.key):
                continue
            if ev.type == Event.PUT and self.no_put:
                continue
            if ev.type == Event.DELETE and self.no_delete:
                continue
            out.append(ev)
        return out


class WatchStream:
    """One client Watch stream: its watchers and an outgoing response queue."""

    def __init__(self, hub: WatchHub) -> None:
        self.hub = hub
        self.out: queue.Queue = queue.Queue()
        self.watchers: dict[int, Watcher] = {}
        self.next_id = 0
        self.closed = False

    def send(self, resp: pb.WatchResponse | None) -> None:
        self.out.put(resp)

    def close(self) -> None:
        self.closed = True
        with self.hub.store.lock:
            for w in self.watchers.values():
                self.hub.watchers.discard(w)
            self.watchers.clear()
        self.out.put(None)


class WatchHub:
    def __init__(self, store: MVCCStore, header_fn, fragment_bytes: int) -> None:
        self.store = store
        self.header = header_fn  # rev -> ResponseHeader
        self.watchers: set[Watcher] = set()
        self.fragment_bytes = fragment_bytes  # etcd: --max-request-bytes + gRPC overhead

    # called with store.lock held
    def notify(self, events: list, rev: int) -> None:
        if not self.watchers or not events:
            return
        for w in list(self.watchers):
            evs = w.select(events)
            if evs:
                self._deliver(w, evs, rev)

    def _with_prev(self, w: Watcher, evs: list) -> list:
        if not w.prev_kv:
            return evs
        out = []
        for ev in evs:
            e = Event()
            e.CopyFrom(ev)
            if not (ev.type == Event.PUT and ev.kv.create_revision == ev.kv.mod_revision):
                try:
                    rr = self.store.range(ev.kv.key, None, ev.kv.mod_revision - 1, 0, False)
                    if rr.kvs:
                        e.prev_kv.CopyFrom(rr.kvs[0])
                except errors.EtcdError:  # compacted: no prev kv, like etcd
                    pass
            out.append(e)
        return out

    def _deliver(self, w: Watcher, evs: list, rev: int) -> None:
        resp = pb.WatchResponse(header=self.header(rev), watch_id=w.id)
        resp.events.extend(self._with_prev(w, evs))
        w.quiet = False
        if w.fragment:
            for part in fragments(resp, self.fragment_bytes):
                w.stream.send(part)
        else:
            w.stream.send(resp)

    def create(self, stream: WatchStream, creq: pb.WatchCreateRequest) -> None:
        key = creq.key or b"\x00"
        end: bytes | None = creq.range_end or None
        if end == b"\x00":
            end = b""
        s = self.store
        with s.lock:
            cur = s.current_rev
            wid = creq.watch_id
            err = None
            if end and key >= end:
                err = "mvcc: watcher range is empty"  # etcd's ErrEmptyWatcherRange
            elif wid == 0:
                while stream.next_id in stream.watchers:
                    stream.next_id += 1
                wid = stream.next_id
                stream.next_id += 1
            elif wid in stream.watchers:
                err = "mvcc: duplicate watch ID provided on the WatchStream"
            if err is not None:
                stream.send(
                    pb.WatchResponse(
                        header=self.header(cur),
                        watch_id=-1 if wid == 0 else wid,
                        created=True,
                        canceled=True,
                        cancel_reason=err,
                    )
                )
                return
            w = Watcher(wid, key, end, creq, stream)
            stream.send(pb.WatchResponse(header=self.header(cur), watch_id=wid, created=True))
            start = creq.start_revision or cur + 1
            if start <= cur:
                if start < s.compact_main_rev:
                    resp = pb.WatchResponse(
                        header=self.header(0), watch_id=wid, compact_revision=s.compact_main_rev, canceled=True
                    )
                    stream.send(resp)
                    return
                evs = w.select(history(s, start, cur))
                if evs:
                    self._deliver(w, evs, cur)
            stream.watchers[wid] = w
            self.watchers.add(w)

    def cancel(self, stream: WatchStream, wid: int) -> None:
        with self.store.lock:
            w = stream.watchers.pop(wid, None)
            if w is None:
                return
            self.watchers.discard(w)
            stream.send(pb.WatchResponse(header=self.header(self.store.current_rev), watch_id=wid, canceled=True))

    def progress(self, stream: WatchStream) -> None:
        with self.store.lock:
            stream.send(pb.WatchResponse(header=self.header(self.store.current_rev), watch_id=-1))

    def progress_tick(self, stream: WatchStream) -> None:
        """etcd's per-stream progress ticker: a watcher created with progress_notify gets an
        empty response at the current revision when no events were sent to it since the last tick."""
        with self.store.lock:
            for w in list(stream.watchers.values()):
                if w.progress and w.quiet:
                    w.stream.send(pb.WatchResponse(header=self.header(self.store.current_rev), watch_id=w.id))
                w.quiet = True


def history(s: MVCCStore, start: int, end: int) -> list:
    """Events with main revision in [start, end], ordered by revision, from the `key` bucket."""
    evs = []
    for r in sorted(r for r in s.kv if start <= r[0] <= end):
        kv = KeyValue.FromString(s.kv[r])
        if r in s.tombstones:
            kv.mod_revision = r[0]
            evs.append(Event(type=Event.DELETE, kv=kv))
        else:
            evs.append(Event(type=Event.PUT, kv=kv))
    return evs


def fragments(resp: pb.WatchResponse, limit: int):
    """Split a large response like etcd's sendFragments: parts below `limit` bytes (one event at least)."""
    if resp.ByteSize() < limit or len(resp.events) < 2:
        yield resp
        return
    events = list(resp.events)
    idx = 0
    while True:
        cur = pb.WatchResponse()
        cur.CopyFrom(resp)
        del cur.events[:]
        cur.fragment = True
        while idx < len(events):
            cur.events.append(events[idx])
            if len(cur.events) > 1 and cur.ByteSize() >= limit:
                del cur.events[-1]
                break
            idx += 1
        if idx == len(events):
            cur.fragment = False
        yield cur
        if not cur.fragment:
            return
