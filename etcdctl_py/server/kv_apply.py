"""Applying KV requests to the MVCC store: Range, Put, DeleteRange, Txn, with etcd's checks.

Mirrors etcd's v3rpc request validation (key.go) and applierV3backend (apply.go): same
ordering of checks, same revisions in (sub-)response headers, same sort and limit rules.
"""

from __future__ import annotations

from typing import TypeVar

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.server import errors
from etcdctl_py.server.mvcc import MVCCStore, WriteTxn, gte_range

MAX_TXN_OPS = 128  # etcd's DefaultMaxTxnOps; the server passes its --max-txn-ops

_Ordered = TypeVar("_Ordered", bytes, int)  # what a txn compare compares: values, revisions, versions, leases


# ---- request validation (before the request is proposed) -------------------------------------
def check_range(r: pb.RangeRequest) -> None:
    if not r.key:
        raise errors.EMPTY_KEY


def check_put(r: pb.PutRequest) -> None:
    if not r.key:
        raise errors.EMPTY_KEY
    if r.ignore_value and r.value:
        raise errors.VALUE_PROVIDED
    if r.ignore_lease and r.lease != 0:
        raise errors.LEASE_PROVIDED


def check_delete(r: pb.DeleteRangeRequest) -> None:
    if not r.key:
        raise errors.EMPTY_KEY


def check_txn(r: pb.TxnRequest, max_ops: int = MAX_TXN_OPS) -> None:
    opc = max(len(r.compare), len(r.success), len(r.failure))
    if opc > max_ops:
        raise errors.TOO_MANY_OPS
    for c in r.compare:
        if not c.key:
            raise errors.EMPTY_KEY
    for u in list(r.success) + list(r.failure):
        _check_op(u, max_ops - opc)


def _check_op(u: pb.RequestOp, max_ops: int) -> None:
    which = u.WhichOneof("request")
    if which == "request_range":
        check_range(u.request_range)
    elif which == "request_put":
        check_put(u.request_put)
    elif which == "request_delete_range":
        check_delete(u.request_delete_range)
    elif which == "request_txn":
        check_txn(u.request_txn, max_ops)
    else:
        raise errors.KEY_NOT_FOUND


class _Dels:
    """A set of deleted intervals; end b'' means unbounded (etcd's affine interval tree)."""

    def __init__(self) -> None:
        self.ivs: list[tuple[bytes, bytes | None]] = []

    def add(self, key: bytes, end: bytes) -> None:
        if not end:
            self.ivs.append((key, key + b"\x00"))
        elif end == b"\x00":
            self.ivs.append((key, None))
        else:
            self.ivs.append((key, end))

    def hits(self, k: bytes) -> bool:
        return any(a <= k and (b is None or k < b) for a, b in self.ivs)


def check_intervals(reqs) -> tuple[set[bytes], _Dels]:
    """etcd's duplicate-key rule: a key may be written once per txn branch (nested txns too)."""
    dels = _Dels()
    for req in reqs:
        if req.WhichOneof("request") == "request_delete_range":
            d = req.request_delete_range
            dels.add(d.key, d.range_end)
    puts: set[bytes] = set()
    for req in reqs:
        if req.WhichOneof("request") != "request_txn":
            continue
        puts_then, dels_then = check_intervals(req.request_txn.success)
        puts_else, dels_else = check_intervals(req.request_txn.failure)
        for k in puts_then:
            if k in puts or dels.hits(k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        for k in puts_else:
            if k in puts and k not in puts_then:
                raise errors.DUPLICATE_KEY
            if dels.hits(k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        dels.ivs.extend(dels_then.ivs)
        dels.ivs.extend(dels_else.ivs)
    for req in reqs:
        if req.WhichOneof("request") != "request_put":
            continue
        k = req.request_put.key
        if k in puts or dels.hits(k):
            raise errors.DUPLICATE_KEY
        puts.add(k)
    return puts, dels


def validate_txn(r: pb.TxnRequest, max_ops: int = MAX_TXN_OPS) -> None:
    """kvServer.Txn's checks before the request is proposed: op counts and keys, then duplicate keys."""
    check_txn(r, max_ops)
    check_intervals(r.success)
    check_intervals(r.failure)


# ---- apply ---------------------------------------------------------------------------------
_SORT_KEYS = {
    pb.RangeRequest.KEY: lambda kv: kv.key,
    pb.RangeRequest.VERSION: lambda kv: kv.version,
    pb.RangeRequest.CREATE: lambda kv: kv.create_revision,
    pb.RangeRequest.MOD: lambda kv: kv.mod_revision,
    pb.RangeRequest.VALUE: lambda kv: kv.value,
}


def apply_range(store: MVCCStore, r: pb.RangeRequest, txn: WriteTxn | None = None) -> pb.RangeResponse:
    limit = r.limit
    if (
        r.sort_order != pb.RangeRequest.NONE
        or r.min_mod_revision
        or r.max_mod_revision
        or r.min_create_revision
        or r.max_create_revision
    ):
        limit = 0
    if limit > 0:
        limit += 1
    end = gte_range(r.range_end)
    if txn is not None:
        rr = txn.range(r.key, end, r.revision, limit, r.count_only)
    else:
        rr = store.range(r.key, end, r.revision, limit, r.count_only)
    kvs = rr.kvs
    if r.max_mod_revision:
        kvs = [kv for kv in kvs if not kv.mod_revision > r.max_mod_revision]
    if r.min_mod_revision:
        kvs = [kv for kv in kvs if not kv.mod_revision < r.min_mod_revision]
    if r.max_create_revision:
        kvs = [kv for kv in kvs if not kv.create_revision > r.max_create_revision]
    if r.min_create_revision:
        kvs = [kv for kv in kvs if not kv.create_revision < r.min_create_revision]
    order = r.sort_order
    if r.sort_target != pb.RangeRequest.KEY and order == pb.RangeRequest.NONE:
        order = pb.RangeRequest.ASCEND
    if order != pb.RangeRequest.NONE:
        kvs.sort(key=_SORT_KEYS[r.sort_target], reverse=order == pb.RangeRequest.DESCEND)
    resp = pb.RangeResponse()
    if r.limit > 0 and len(kvs) > r.limit:
        kvs = kvs[: r.limit]
        resp.more = True
    resp.header.revision = rr.rev
    resp.count = rr.count
    if r.keys_only:
        for kv in kvs:
            kv.value = b""
    resp.kvs.extend(kvs)
    return resp


def apply_put(store: MVCCStore, txn: WriteTxn, p: pb.PutRequest) -> pb.PutResponse:
    resp = pb.PutResponse()
    val, lease = p.value, p.lease
    prev = None
    if p.ignore_value or p.ignore_lease or p.prev_kv:
        rr = txn.range(p.key, None)
        prev = rr.kvs[0] if rr.kvs else None
    if p.ignore_value or p.ignore_lease:
        if prev is None:
            raise errors.KEY_NOT_FOUND
        if p.ignore_value:
            val = prev.value
        if p.ignore_lease:
            lease = prev.lease
    if p.prev_kv and prev is not None:
        resp.prev_kv.CopyFrom(prev)
    resp.header.revision = txn.put(p.key, val, lease)
    return resp


def apply_delete(store: MVCCStore, txn: WriteTxn, d: pb.DeleteRangeRequest) -> pb.DeleteRangeResponse:
    resp = pb.DeleteRangeResponse()
    end = gte_range(d.range_end)
    if d.prev_kv:
        rr = txn.range(d.key, end)
        resp.prev_kvs.extend(rr.kvs)
    resp.deleted, resp.header.revision = txn.delete_range(d.key, end)
    return resp


def is_txn_readonly(r: pb.TxnRequest) -> bool:
    for u in list(r.success) + list(r.failure):
        w = u.WhichOneof("request")
        if w == "request_range":
            continue
        if w == "request_txn":
            if not is_txn_readonly(u.request_txn):
                return False
            continue
        return False
    return True


def _cmp3(a: _Ordered, b: _Ordered) -> int:
    return (a > b) - (a < b)


def _compare_kv(c: pb.Compare, kv) -> bool:
    t = c.target
    if t == pb.Compare.VALUE:
        res = _cmp3(kv.value, c.value)
    elif t == pb.Compare.CREATE:
        res = _cmp3(kv.create_revision, c.create_revision)
    elif t == pb.Compare.MOD:
        res = _cmp3(kv.mod_revision, c.mod_revision)
    elif t == pb.Compare.VERSION:
        res = _cmp3(kv.version, c.version)
    else:
        res = _cmp3(kv.lease, c.lease)
    if c.result == pb.Compare.EQUAL:
        return res == 0
    if c.result == pb.Compare.NOT_EQUAL:
        return res != 0
    if c.result == pb.Compare.GREATER:
        return res > 0
    if c.result == pb.Compare.LESS:
        return res < 0
    return True


def _apply_compare(store: MVCCStore, c: pb.Compare) -> bool:
    try:
        rr = store.range(c.key, gte_range(c.range_end), 0, 0, False)
    except errors.EtcdError:
        return False
    if not rr.kvs:
        if c.target == pb.Compare.VALUE:
            return False
        from etcdctl_py.proto.mvccpb.kv_pb2 import KeyValue

        return _compare_kv(c, KeyValue())
    return all(_compare_kv(c, kv) for kv in rr.kvs)


def _compare_path(store: MVCCStore, r: pb.TxnRequest) -> list[bool]:
    ok = all(_apply_compare(store, c) for c in r.compare)
    path = [ok]
    for op in r.success if ok else r.failure:
        if op.WhichOneof("request") == "request_txn":
            path.extend(_compare_path(store, op.request_txn))
    return path


def _check_requests(store: MVCCStore, lessor, r: pb.TxnRequest, path: list[bool], write: bool) -> int:
    count = 0
    reqs = r.success if path[0] else r.failure
    for req in reqs:
        w = req.WhichOneof("request")
        if w == "request_txn":
            n = _check_requests(store, lessor, req.request_txn, path[1:], write)
            count += n + 1
            path = path[n + 1 :]
            continue
        if write and w == "request_put":
            p = req.request_put
            if p.ignore_value or p.ignore_lease:
                if not store.range(p.key, None, 0, 0, False).kvs:
                    raise errors.KEY_NOT_FOUND
            if p.lease and lessor.lookup(p.lease) is None:
                raise errors.LEASE_NOT_FOUND
        if w == "request_range":
            rv = req.request_range.revision
            if rv == 0:
                continue
            if rv > store.current_rev:
                raise errors.FUTURE_REV
            if rv < store.compact_main_rev:
                raise errors.COMPACTED
    return count


def _apply_ops(store: MVCCStore, txn: WriteTxn, r: pb.TxnRequest, path: list[bool], resp: pb.TxnResponse) -> int:
    txns = 0
    reqs = r.success if path[0] else r.failure
    resp.succeeded = path[0]
    for req in reqs:
        w = req.WhichOneof("request")
        op = resp.responses.add()
        if w == "request_range":
            op.response_range.CopyFrom(apply_range(store, req.request_range, txn))
        elif w == "request_put":
            op.response_put.CopyFrom(apply_put(store, txn, req.request_put))
        elif w == "request_delete_range":
            op.response_delete_range.CopyFrom(apply_delete(store, txn, req.request_delete_range))
        elif w == "request_txn":
            sub = op.response_txn
            n = _apply_ops(store, txn, req.request_txn, path[1:], sub)
            txns += n + 1
            path = path[n + 1 :]
    return txns


def apply_txn(store: MVCCStore, lessor, r: pb.TxnRequest) -> tuple[pb.TxnResponse, WriteTxn]:
    path = _compare_path(store, r)
    write = not is_txn_readonly(r)
    _check_requests(store, lessor, r, path, write)
    txn = store.write()
    resp = pb.TxnResponse()
    _apply_ops(store, txn, r, path, resp)
    _fix_nested_headers(resp)
    resp.header.revision = txn.begin_rev + 1 if txn.changes else txn.begin_rev
    return resp, txn


def _fix_nested_headers(resp: pb.TxnResponse) -> None:
    """Nested txn responses carry an (empty) header in etcd; recurse to keep shapes equal."""
    for op in resp.responses:
        if op.WhichOneof("response") == "response_txn":
            op.response_txn.header.SetInParent()
            _fix_nested_headers(op.response_txn)
