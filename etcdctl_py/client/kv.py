"""KV service: Range, Put, DeleteRange, Txn, Compact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.client import Client

_T = object()  # "use the client's command timeout"


def prefix_end(key: bytes) -> bytes:
    """The range end that selects every key starting with `key` (etcd's GetPrefixRangeEnd)."""
    b = bytearray(key)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\x00"  # every byte is 0xff: all keys from `key` on


def key_range(key: bytes, range_end: bytes, *, prefix: bool = False, from_key: bool = False) -> tuple[bytes, bytes]:
    """The (key, range_end) etcdctl sends for `--prefix` / `--from-key` (clientv3's WithPrefix and
    WithFromKey): an empty key means the whole key space, starting at `\\x00`."""
    if prefix:
        if not key:
            key, range_end = b"\x00", b"\x00"
        else:
            range_end = prefix_end(key)
    if from_key:
        if not key:
            key = b"\x00"
        range_end = b"\x00"
    return key, range_end


class KV:
    def __init__(self, client: "Client"):
        self._c = client

    def _t(self, timeout: Any) -> Any:
        return ... if timeout is _T else timeout

    def range(self, key: bytes, range_end: bytes = b"", *, limit: int = 0, revision: int = 0,
              sort_order: int = 0, sort_target: int = 0, serializable: bool = False, keys_only: bool = False,
              count_only: bool = False, min_mod_revision: int = 0, max_mod_revision: int = 0,
              min_create_revision: int = 0, max_create_revision: int = 0,
              timeout: Any = _T) -> rpc_pb2.RangeResponse:
        req = rpc_pb2.RangeRequest(
            key=key, range_end=range_end, limit=limit, revision=revision, sort_order=sort_order,
            sort_target=sort_target, serializable=serializable, keys_only=keys_only, count_only=count_only,
            min_mod_revision=min_mod_revision, max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision, max_create_revision=max_create_revision)
        return self.range_request(req, timeout=timeout)

    def range_request(self, req: rpc_pb2.RangeRequest, *, timeout: Any = _T) -> rpc_pb2.RangeResponse:
        return self._c.unary("KV", "Range", req, rpc_pb2.RangeResponse, timeout=self._t(timeout))

    def get(self, key: bytes, **kw: Any) -> bytes | None:
        """The value of one key, or None."""
        r = self.range(key, **kw)
        return r.kvs[0].value if r.kvs else None

    def put(self, key: bytes, value: bytes = b"", *, lease: int = 0, prev_kv: bool = False,
            ignore_value: bool = False, ignore_lease: bool = False, timeout: Any = _T) -> rpc_pb2.PutResponse:
        req = rpc_pb2.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv, ignore_value=ignore_value,
                                 ignore_lease=ignore_lease)
        return self._c.unary("KV", "Put", req, rpc_pb2.PutResponse, timeout=self._t(timeout))

    def delete(self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False,
               timeout: Any = _T) -> rpc_pb2.DeleteRangeResponse:
        req = rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv)
        return self._c.unary("KV", "DeleteRange", req, rpc_pb2.DeleteRangeResponse, timeout=self._t(timeout))

    def txn(self, compare: Sequence[rpc_pb2.Compare] = (), success: Sequence[rpc_pb2.RequestOp] = (),
            failure: Sequence[rpc_pb2.RequestOp] = (), *, timeout: Any = _T) -> rpc_pb2.TxnResponse:
        req = rpc_pb2.TxnRequest(compare=list(compare), success=list(success), failure=list(failure))
        return self._c.unary("KV", "Txn", req, rpc_pb2.TxnResponse, timeout=self._t(timeout))

    def compact(self, revision: int, *, physical: bool = False, timeout: Any = _T) -> rpc_pb2.CompactionResponse:
        req = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        return self._c.unary("KV", "Compact", req, rpc_pb2.CompactionResponse, timeout=self._t(timeout))
