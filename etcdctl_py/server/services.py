"""gRPC servicers for etcd's v3 API (KV, Watch, Lease, Cluster, Maintenance) over EtcdCore."""

from __future__ import annotations

import hashlib
import queue
import threading
import time

import grpc

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from etcdctl_py.server import errors
from etcdctl_py.server.core import EtcdCore
from etcdctl_py.server.identity import ConfigError, parse_urls
from etcdctl_py.server.membership import (
    ERR_ID_EXISTS,
    ERR_ID_NOT_FOUND,
    ERR_ID_REMOVED,
    ERR_LEARNER_NOT_READY,
    ERR_MEMBER_NOT_LEARNER,
    ERR_NOT_ENOUGH_STARTED,
    ERR_PEER_URL_EXISTS,
    ERR_TOO_MANY_LEARNERS,
    MembershipError,
)


def rpc(fn):
    """Turn EtcdError into etcd's gRPC status; never leak a Python traceback to a client."""

    def wrapper(self, request, context):
        try:
            return fn(self, request, context)
        except errors.EtcdError as e:
            context.abort(e.code, e.message)

    wrapper.__name__ = fn.__name__
    return wrapper


# v3rpc.Server: grpc's receive limit is --max-request-bytes + GRPC_OVERHEAD_BYTES; its send limit is
# math.MaxInt32 (the server refuses proposals above --max-request-bytes itself: core.propose).
MAX_SEND_BYTES = 2**31 - 1
# etcd puts the gRPC status's Error() text of ErrGRPCPermissionDenied in a refused watch's cancel_reason, so the
# client shows `rpc error: code = PermissionDenied desc = ...` there (not the bare etcdserver text)
WATCH_PERMISSION_DENIED = "rpc error: code = PermissionDenied desc = etcdserver: permission denied"


class _Refused:
    """Stands in for a request grpc-go would not have handed to etcd: the handler answers with `error`."""

    __slots__ = ("error",)

    def __init__(self, error: errors.EtcdError) -> None:
        self.error = error


class MessageLimits(grpc.ServerInterceptor):
    """grpc-go's message size limits, with its codes and texts, on every method of the server.

    grpcio's own limits answer with other texts, so the server runs with them off and this interceptor measures
    each raw request in the deserializer (a refused one reaches the handler as a _Refused, which aborts the call
    the way grpc-go's recv does) and serializes each response itself to compare it with the send limit."""

    def __init__(self, max_recv: int, max_send: int = MAX_SEND_BYTES) -> None:
        self.max_recv, self.max_send = max_recv, max_send
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is None or known[0] is not handler:
            known = (handler, self._wrap(handler))
            self._wrapped[method] = known
        return known[1]

    def _wrap(self, h: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        parse, ser = self._parser(h.request_deserializer, h.request_streaming), h.response_serializer
        if h.unary_unary is not None:
            fn = h.unary_unary
            return grpc.unary_unary_rpc_method_handler(
                lambda req, ctx: self._encode(fn(self._checked(req, ctx), ctx), ser, ctx), parse
            )
        if h.unary_stream is not None:
            fn = h.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda req, ctx: self._encode_all(fn(self._checked(req, ctx), ctx), ser, ctx), parse
            )
        if h.stream_unary is not None:
            fn = h.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda reqs, ctx: self._encode(fn(self._checked_all(reqs, ctx), ctx), ser, ctx), parse
            )
        fn = h.stream_stream
        return grpc.stream_stream_rpc_method_handler(
            lambda reqs, ctx: self._encode_all(fn(self._checked_all(reqs, ctx), ctx), ser, ctx), parse
        )

    def _parser(self, deserialize, streaming: bool):
        limit = self.max_recv

        def parse(raw: bytes):
            if len(raw) > limit:
                return _Refused(errors.grpc_recv_too_large(len(raw), limit))
            if deserialize is None:
                return raw
            try:
                return deserialize(raw)
            except Exception as e:  # noqa: BLE001 - not a message of this type: grpc-go's unmarshal error
                reason = "unexpected EOF" if wire_truncated(raw) else str(e)  # gogoproto's io.ErrUnexpectedEOF
                return _Refused(errors.grpc_unmarshal_failed(reason, streaming))

        return parse

    @staticmethod
    def _checked(req, context):
        if isinstance(req, _Refused):
            context.abort(req.error.code, req.error.message)
        return req

    @classmethod
    def _checked_all(cls, reqs, context):
        """The request stream as the handler reads it; a refused message ends the call with its error (the
        abort raises in whichever thread reads, and grpcio answers with the status it recorded)."""
        for req in reqs:
            yield cls._checked(req, context)

    def _encode(self, resp, serialize, context) -> bytes:
        if serialize is None:
            return resp
        try:
            data = serialize(resp)
        except Exception as e:  # noqa: BLE001 - e.g. protobuf refuses a message over 2 GiB
            context.abort(grpc.StatusCode.INTERNAL, f"grpc: error while marshaling: {e}")
        if len(data) > self.max_send:
            err = errors.grpc_send_too_large(len(data), self.max_send)
            context.abort(err.code, err.message)
        return data

    def _encode_all(self, resps, serialize, context):
        try:
            for resp in resps:
                yield self._encode(resp, serialize, context)
        finally:
            close = getattr(resps, "close", None)
            if close is not None:
                close()  # an aborted stream's handler still runs its clean-up


def wire_truncated(raw: bytes) -> bool:
    """Whether protobuf wire data runs past its end (a varint, fixed-size or length-delimited field cut short)."""
    i, n = 0, len(raw)

    def varint(i: int) -> tuple[int, int] | None:
        value = shift = 0
        while i < n:
            b = raw[i]
            value |= (b & 0x7F) << shift
            i, shift = i + 1, shift + 7
            if b < 0x80:
                return value, i
        return None

    while i < n:
        got = varint(i)
        if got is None:
            return True
        tag, i = got
        wire = tag & 7
        if wire == 0:
            got = varint(i)
            if got is None:
                return True
            i = got[1]
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        elif wire == 2:
            got = varint(i)
            if got is None:
                return True
            i = got[1] + got[0]
        else:  # groups or an invalid wire type: malformed, not truncated
            return False
    return i > n


class Auth:
    """Who is calling; main.py passes auth.GrpcAuth (token / client-cert identity)."""

    def info(self, context):
        return None

    def admin(self, context):
        return None

    def admin_raw(self, context):
        return None

    def watch_permitted(self, context, key: bytes, end: bytes) -> bool:
        return True


class KVService(pbg.KVServicer):
    def __init__(self, core: EtcdCore, auth: Auth) -> None:
        self.core, self.auth = core, auth

    @rpc
    def Range(self, request, context):
        return self.core.range(request, self.auth.info(context))

    @rpc
    def Put(self, request, context):
        return self.core.put(request, self.auth.info(context))

    @rpc
    def DeleteRange(self, request, context):
        return self.core.delete_range(request, self.auth.info(context))

    @rpc
    def Txn(self, request, context):
        return self.core.txn(request, self.auth.info(context))

    @rpc
    def Compact(self, request, context):
        return self.core.compact(request, self.auth.info(context))


class LeaseService(pbg.LeaseServicer):
    def __init__(self, core: EtcdCore, auth: Auth) -> None:
        self.core, self.auth = core, auth

    @rpc
    def LeaseGrant(self, request, context):
        return self.core.lease_grant(request, self.auth.info(context))

    @rpc
    def LeaseRevoke(self, request, context):
        return self.core.lease_revoke(request.ID, self.auth.info(context))

    @rpc
    def LeaseTimeToLive(self, request, context):
        return self.core.lease_time_to_live(request)

    @rpc
    def LeaseLeases(self, request, context):
        return self.core.lease_leases()

    def LeaseKeepAlive(self, request_iterator, context):
        try:
            for req in request_iterator:
                yield self.core.lease_keep_alive(req.ID)
        except grpc.RpcError:  # the client went away: the stream ends
            return


class WatchService(pbg.WatchServicer):
    def __init__(self, core: EtcdCore, auth: Auth, progress_interval: float = 600.0) -> None:
        self.core, self.auth = core, auth
        self.progress_interval = progress_interval  # --experimental-watch-progress-notify-interval

    def Watch(self, request_iterator, context):
        from etcdctl_py.server.watch_hub import WatchStream

        hub = self.core.watch
        stream = WatchStream(hub)
        auth = self.auth

        def reader() -> None:
            """etcd's recvLoop. The end of the requests is the client's half-close, not the end of the stream:
            events keep coming until the client cancels (context callback) or the server stops."""
            try:
                for req in request_iterator:
                    which = req.WhichOneof("request_union")
                    if which == "create_request":
                        creq = req.create_request
                        wkey = creq.key or b"\x00"
                        wend = b"" if creq.range_end == b"\x00" else creq.range_end
                        if not auth.watch_permitted(context, wkey, wend):
                            stream.send(
                                pb.WatchResponse(
                                    header=self.core.header(),
                                    watch_id=creq.watch_id,
                                    created=True,
                                    canceled=True,
                                    cancel_reason=WATCH_PERMISSION_DENIED,
                                )
                            )
                            continue
                        hub.create(stream, creq)
                    elif which == "cancel_request":
                        hub.cancel(stream, req.cancel_request.watch_id)
                    elif which == "progress_request":
                        hub.progress(stream)
            except Exception:  # noqa: BLE001 - the client went away, or sent a message grpc refuses
                stream.close()

        t = threading.Thread(target=reader, daemon=True, name="watch-reader")
        t.start()
        context.add_callback(stream.close)
        interval = self.progress_interval
        next_tick = time.monotonic() + interval if interval > 0 else None
        while True:
            wait = 1.0
            if next_tick is not None:
                now = time.monotonic()
                if now >= next_tick:
                    hub.progress_tick(stream)
                    next_tick = now + interval
                wait = max(0.01, min(wait, next_tick - now))
            try:
                item = stream.out.get(timeout=wait)
            except queue.Empty:
                if not context.is_active() or self.core.stopped.is_set():
                    break
                continue
            if item is None:
                break
            yield item


class ClusterService(pbg.ClusterServicer):
    """etcd's v3rpc ClusterServer over the core's one Membership (shared with /v2/members): every change is a
    ConfChange entry in the WAL, checked and applied the way etcd 3.5.1 does (etcdctl_py.server.membership)."""

    def __init__(self, core: EtcdCore, auth: Auth) -> None:
        self.core, self.auth = core, auth

    def _change(self, fn, *args, **kw):
        """Run a Membership change; its refusal becomes etcd's gRPC error (togRPCError)."""
        try:
            return fn(*args, **kw)
        except MembershipError as e:
            raise _MEMBERSHIP_GRPC.get(str(e), errors.EtcdError(grpc.StatusCode.UNKNOWN, str(e))) from None

    @rpc
    def MemberList(self, request, context):
        return pb.MemberListResponse(header=self.core.cluster_header(), members=self.core.member_list())

    @rpc
    def MemberAdd(self, request, context):
        try:
            urls = sorted(u for raw in request.peerURLs for u in parse_urls(raw))  # types.NewURLs
            if len(urls) != len(request.peerURLs):
                raise ConfigError("empty URL")
        except ConfigError:
            raise errors.MEMBER_BAD_URLS from None
        self.auth.admin(context)
        m = self._change(self.core.membership.add, urls, is_learner=request.isLearner)
        return pb.MemberAddResponse(
            header=self.core.cluster_header(),
            members=self.core.member_list(),
            member=pb.Member(ID=m.id, peerURLs=m.peer_urls, isLearner=m.is_learner),
        )

    @rpc
    def MemberRemove(self, request, context):
        self.auth.admin(context)
        self._change(self.core.membership.remove, request.ID)
        return pb.MemberRemoveResponse(header=self.core.cluster_header(), members=self.core.member_list())

    @rpc
    def MemberUpdate(self, request, context):
        self.auth.admin(context)
        self._change(self.core.membership.update, request.ID, list(request.peerURLs))
        return pb.MemberUpdateResponse(header=self.core.cluster_header(), members=self.core.member_list())

    @rpc
    def MemberPromote(self, request, context):
        self.auth.admin(context)
        self._change(self.core.membership.promote, request.ID)
        return pb.MemberPromoteResponse(header=self.core.cluster_header(), members=self.core.member_list())


# v3rpc's toGRPCErrorMap for membership errors (a removed ID reads as "member not found").
_MEMBERSHIP_GRPC = {
    ERR_ID_REMOVED: errors.MEMBER_NOT_FOUND,
    ERR_ID_NOT_FOUND: errors.MEMBER_NOT_FOUND,
    ERR_ID_EXISTS: errors.MEMBER_EXIST,
    ERR_PEER_URL_EXISTS: errors.PEER_URL_EXIST,
    ERR_MEMBER_NOT_LEARNER: errors.MEMBER_NOT_LEARNER,
    ERR_TOO_MANY_LEARNERS: errors.EtcdError(
        grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: too many learner members in cluster"
    ),
    ERR_NOT_ENOUGH_STARTED: errors.MEMBER_NOT_ENOUGH_STARTED,
    ERR_LEARNER_NOT_READY: errors.EtcdError(grpc.StatusCode.FAILED_PRECONDITION, ERR_LEARNER_NOT_READY),
}


class MaintenanceService(pbg.MaintenanceServicer):
    def __init__(self, core: EtcdCore, auth: Auth) -> None:
        self.core, self.auth = core, auth

    @rpc
    def Alarm(self, request, context):
        return self.core.alarm(request, self.auth.info(context))

    @rpc
    def Status(self, request, context):
        return self.core.status()

    @rpc
    def Defragment(self, request, context):
        self.auth.admin_raw(context)
        return self.core.defragment()

    @rpc
    def Hash(self, request, context):
        self.auth.admin_raw(context)
        return self.core.hash()

    @rpc
    def HashKV(self, request, context):
        self.auth.admin_raw(context)
        return self.core.hash_kv(request.revision)

    def Snapshot(self, request, context):
        try:
            self.auth.admin_raw(context)
            image = self.core.snapshot_image()
        except errors.EtcdError as e:
            context.abort(e.code, e.message)
            return
        total = len(image)
        sent = 0
        h = hashlib.sha256()
        chunk = 32 * 1024
        while total - sent > 0:
            blob = image[sent : sent + chunk]
            sent += len(blob)
            h.update(blob)
            yield pb.SnapshotResponse(remaining_bytes=total - sent, blob=blob)
        yield pb.SnapshotResponse(remaining_bytes=0, blob=h.digest())

    @rpc
    def MoveLeader(self, request, context):
        return self.core.move_leader(request.targetID)

    @rpc
    def Downgrade(self, request, context):
        """As etcd 3.5.1: no admin check (the real server lets anyone call it); see downgrade.py."""
        from etcdctl_py.server.downgrade import downgrade

        return downgrade(self.core, self.auth, request, context)
