"""v3election Campaign/Proclaim/Leader/Observe/Resign, following etcd's concurrency.Election recipe.

A candidate is the key `<name>/<lease id hex>` put with its lease; the leader is the key with
the lowest create revision under `<name>/`; Campaign returns once every older candidate key is
gone. Proclaim/Resign are guarded by the leader key's create revision. Like etcd's election
server, requests run with the caller's identity (auth checks apply) and recipe errors reach the
client as code Unknown with the recipe's text ("election: not leader", ...).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Generator, Iterator

import grpc

from etcdctl_py.keyrange import prefix_end
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.mvccpb import kv_pb2
from etcdctl_py.proto.v3electionpb import v3election_pb2 as epb
from etcdctl_py.proto.v3electionpb import v3election_pb2_grpc as epbg
from etcdctl_py.server import errors

NOT_LEADER = errors.EtcdError(grpc.StatusCode.UNKNOWN, "election: not leader")
NO_LEADER = errors.EtcdError(grpc.StatusCode.UNKNOWN, "election: no leader")
MISSING_LEADER = errors.EtcdError(grpc.StatusCode.UNKNOWN, '"leader" field must be provided')
CANCELED = errors.EtcdError(grpc.StatusCode.CANCELLED, "context canceled")
SESSION_TTL = 60  # concurrency.NewSession's default when the caller gives no lease
POLL = 0.02


def _cmp_create(key: bytes, rev: int) -> pb.Compare:
    return pb.Compare(key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=rev)


def lease_hex(lease: int) -> bytes:
    return (b"-%x" % -lease) if lease < 0 else (b"%x" % lease)


class ElectionService(epbg.ElectionServicer):
    def __init__(self, core, gauth) -> None:
        self.core, self.gauth = core, gauth

    def _abort(self, context, e: errors.EtcdError) -> None:
        """etcd's election server relays its in-process client's errors, which are no gRPC
        statuses any more: they reach the caller as code Unknown with the same text."""
        code = e.code if e.code == grpc.StatusCode.CANCELLED else grpc.StatusCode.UNKNOWN
        context.abort(code, e.message)

    # ---- recipe steps (each a KV request with the caller's identity) --------------------
    def _first_create(self, prefix: bytes, ai) -> pb.RangeResponse:
        return self.core.range(
            pb.RangeRequest(
                key=prefix,
                range_end=prefix_end(prefix),
                limit=1,
                sort_target=pb.RangeRequest.CREATE,
                sort_order=pb.RangeRequest.ASCEND,
            ),
            ai,
        )

    def _proclaim(self, key: bytes, rev: int, lease: int, value: bytes, ai) -> pb.TxnResponse:
        put = pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, lease=lease))
        resp = self.core.txn(pb.TxnRequest(compare=[_cmp_create(key, rev)], success=[put]), ai)
        if not resp.succeeded:
            raise NOT_LEADER
        return resp

    def _resign(self, key: bytes, rev: int, ai) -> pb.TxnResponse:
        delete = pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=key))
        return self.core.txn(pb.TxnRequest(compare=[_cmp_create(key, rev)], success=[delete]), ai)

    def _wait_deletes(self, context, prefix: bytes, max_create: int, ai) -> None:
        """Block until no key under prefix has a create revision <= max_create."""
        while True:
            rr = self.core.range(
                pb.RangeRequest(
                    key=prefix,
                    range_end=prefix_end(prefix),
                    limit=1,
                    sort_target=pb.RangeRequest.CREATE,
                    sort_order=pb.RangeRequest.DESCEND,
                    max_create_revision=max_create,
                ),
                ai,
            )
            if not rr.kvs:
                return
            if not context.is_active() or self.core.stopped.is_set():
                raise CANCELED
            time.sleep(POLL)

    # ---- RPCs ---------------------------------------------------------------------------
    def Campaign(self, request, context):
        core = self.core
        try:
            ai = self.gauth.info(context)
            lease = request.lease
            if lease == 0:
                lease = core.lease_grant(pb.LeaseGrantRequest(TTL=SESSION_TTL), ai).ID
            prefix = request.name + b"/"
            key = prefix + lease_hex(lease)
            put = pb.RequestOp(request_put=pb.PutRequest(key=key, value=request.value, lease=lease))
            get = pb.RequestOp(request_range=pb.RangeRequest(key=key))
            resp = core.txn(pb.TxnRequest(compare=[_cmp_create(key, 0)], success=[put], failure=[get]), ai)
            rev = resp.header.revision
            if not resp.succeeded:
                kv = resp.responses[0].response_range.kvs[0]
                rev = kv.create_revision
                if kv.value != request.value:
                    try:
                        self._proclaim(key, rev, lease, request.value, ai)
                    except errors.EtcdError:
                        self._resign(key, rev, ai)
                        raise
            try:
                self._wait_deletes(context, prefix, rev - 1, ai)
            except errors.EtcdError:
                if not context.is_active():
                    self._resign(key, rev, ai)
                raise
            return epb.CampaignResponse(
                header=resp.header, leader=epb.LeaderKey(name=request.name, key=key, rev=rev, lease=lease)
            )
        except errors.EtcdError as e:
            self._abort(context, e)

    def Proclaim(self, request, context):
        try:
            if not request.HasField("leader"):
                raise MISSING_LEADER
            ld = request.leader
            resp = self._proclaim(ld.key, ld.rev, ld.lease, request.value, self.gauth.info(context))
            return epb.ProclaimResponse(header=resp.header)
        except errors.EtcdError as e:
            self._abort(context, e)

    def Resign(self, request, context):
        try:
            if not request.HasField("leader"):
                raise MISSING_LEADER
            ld = request.leader
            resp = self._resign(ld.key, ld.rev, self.gauth.info(context))
            return epb.ResignResponse(header=resp.header)
        except errors.EtcdError as e:
            self._abort(context, e)

    def Leader(self, request, context):
        try:
            rr = self._first_create(request.name + b"/", self.gauth.info(context))
            if not rr.kvs:
                raise NO_LEADER
            return epb.LeaderResponse(header=rr.header, kv=rr.kvs[0])
        except errors.EtcdError as e:
            self._abort(context, e)

    def Observe(self, request, context):
        """Every leader value in order: the current leader, its updates, then its successors."""
        prefix = request.name + b"/"
        try:
            ai = self.gauth.info(context)
        except errors.EtcdError as e:
            self._abort(context, e)
            return
        observer = _Observer(self.core, self.gauth, context)
        try:
            yield from observer.leaders(prefix, lambda: self._first_create(prefix, ai))
        except errors.EtcdError as e:
            self._abort(context, e)
        finally:
            observer.stream.close()


class _Observer:
    """One Observe call: a watch (ID 1) on its own stream, over the leader's key, or over the election's prefix
    while it has no leader."""

    def __init__(self, core, gauth, context) -> None:
        from etcdctl_py.server.watch_hub import WatchStream

        self.core, self.gauth, self.context = core, gauth, context
        self.stream = WatchStream(core.watch)
        context.add_callback(self.stream.close)

    def leaders(self, prefix: bytes, first_create) -> Iterator[epb.LeaderResponse]:
        """The current leader (or the first candidate to come), its updates, then the next leader's, ..."""
        while self.context.is_active():
            rr = first_create()
            if rr.kvs:
                hdr, kv = rr.header, rr.kvs[0]
            else:
                found = self._next_leader(prefix, rr.header.revision)
                if found is None:
                    return
                hdr, kv = found
            yield epb.LeaderResponse(header=hdr, kv=kv)
            deleted = yield from self._updates(kv.key, hdr.revision + 1)
            if not deleted:
                return

    def _next_leader(self, prefix: bytes, start: int) -> tuple[pb.ResponseHeader, kv_pb2.KeyValue] | None:
        """The first candidate put under the prefix from `start` on, with a header at its revision."""
        found = None
        for wr in self._events(prefix, prefix_end(prefix), start):
            put = next((ev for ev in wr.events if ev.type == kv_pb2.Event.PUT), None)
            if put is not None:
                hdr = pb.ResponseHeader()
                hdr.CopyFrom(wr.header)
                hdr.revision = put.kv.mod_revision
                found = hdr, put.kv
                break
        self._stop_watch()
        return found

    def _updates(self, key: bytes, start: int) -> Generator[epb.LeaderResponse, None, bool]:
        """The leader key's new values until it is deleted (True) or the watch ends (False)."""
        deleted = False
        for wr in self._events(key, b"", start):
            for ev in wr.events:
                if ev.type == kv_pb2.Event.DELETE:
                    deleted = True
                    break
                yield epb.LeaderResponse(header=wr.header, kv=ev.kv)
            if deleted:
                break
        self._stop_watch()
        return deleted

    def _events(self, key: bytes, end: bytes, start: int) -> Iterator[pb.WatchResponse]:
        """Watch responses for [key, end) from start until the stream is closed."""
        if not self.gauth.watch_permitted(self.context, key, end):
            return
        core = self.core
        core.watch.create(self.stream, pb.WatchCreateRequest(key=key, range_end=end, start_revision=start, watch_id=1))
        while self.context.is_active() and not core.stopped.is_set():
            try:
                item = self.stream.out.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None or item.canceled:
                return
            if item.created:
                continue
            yield item

    def _stop_watch(self) -> None:
        self.core.watch.cancel(self.stream, 1)
        while True:  # drop whatever the cancelled watcher left behind
            try:
                self.stream.out.get_nowait()
            except queue.Empty:
                return


def register(gs, core, gauth) -> None:
    epbg.add_ElectionServicer_to_server(ElectionService(core, gauth), gs)
