"""v3lock Lock/Unlock served inside etcd-py, following etcd's concurrency.Mutex recipe:
key `<name>/<lease id hex>` put with the caller's lease; the holder is the key with the lowest
create revision under `<name>/`; waiters wait until every older key is gone."""

from __future__ import annotations

import time

import grpc

from etcdctl_py.keyrange import prefix_end as _prefix_end
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.v3lockpb import v3lock_pb2 as lpb
from etcdctl_py.proto.v3lockpb import v3lock_pb2_grpc as lpbg
from etcdctl_py.server import errors
from etcdctl_py.server.election import SESSION_TTL, lease_hex


def _relayed(e: errors.EtcdError) -> grpc.StatusCode:
    """etcd's lock server relays in-process client errors: code Unknown, same text."""
    return e.code if e.code == grpc.StatusCode.CANCELLED else grpc.StatusCode.UNKNOWN


class LockService(lpbg.LockServicer):
    def __init__(self, core, gauth) -> None:
        self.core, self.gauth = core, gauth

    def Lock(self, request, context):
        core = self.core
        try:
            ai = self.gauth.info(context)
            lease = request.lease
            if lease == 0:  # concurrency.NewSession grants a session lease, orphaned once the lock is held
                lease = core.lease_grant(pb.LeaseGrantRequest(TTL=SESSION_TTL), ai).ID
            elif core.lessor.lookup(lease) is None:
                raise errors.LEASE_NOT_FOUND
            prefix = request.name + b"/"
            key = prefix + lease_hex(lease)
            cmp = pb.Compare(key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0)
            put = pb.RequestOp(request_put=pb.PutRequest(key=key, value=b"", lease=lease))
            get = pb.RequestOp(request_range=pb.RangeRequest(key=key))
            owner = pb.RequestOp(
                request_range=pb.RangeRequest(
                    key=prefix,
                    range_end=_prefix_end(prefix),
                    sort_target=pb.RangeRequest.CREATE,
                    sort_order=pb.RangeRequest.ASCEND,
                    limit=1,
                )
            )
            resp = core.txn(pb.TxnRequest(compare=[cmp], success=[put, owner], failure=[get, owner]), ai)
            my_rev = resp.header.revision
            if not resp.succeeded:
                my_rev = resp.responses[0].response_range.kvs[0].create_revision
            while context.is_active():
                rr = core.range(
                    pb.RangeRequest(key=prefix, range_end=_prefix_end(prefix), max_create_revision=my_rev - 1, limit=1),
                    ai,
                )
                if not rr.kvs:
                    if core.lessor.lookup(lease) is None:
                        raise errors.LEASE_NOT_FOUND
                    return lpb.LockResponse(header=core.header(), key=key)
                time.sleep(0.02)
            context.abort(grpc.StatusCode.CANCELLED, "context canceled")
        except errors.EtcdError as e:
            context.abort(_relayed(e), e.message)

    def Unlock(self, request, context):
        try:
            self.core.delete_range(pb.DeleteRangeRequest(key=request.key), self.gauth.info(context))
            return lpb.UnlockResponse(header=self.core.header())
        except errors.EtcdError as e:
            context.abort(_relayed(e), e.message)


def register(gs, core, gauth) -> None:
    lpbg.add_LockServicer_to_server(LockService(core, gauth), gs)
