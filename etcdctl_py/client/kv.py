"""KV service: Range, Put, DeleteRange, Txn, Compact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.keyrange import key_range, prefix_end
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout

__all__ = ["KV", "RawResponse", "key_range", "prefix_end"]

_T = object()  # "use the client's command timeout"


class RawResponse:
    """A response type for Client.unary whose decoding keeps the message's wire bytes as they came."""

    @staticmethod
    def FromString(data: bytes) -> bytes:  # noqa: N802 - the protobuf message API grpc calls
        return data


class KV(ServiceHandle):
    service = "KV"

    def _t(self, timeout: Any) -> Any:
        return ... if timeout is _T else timeout

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        revision: int = 0,
        sort_order: rpc_pb2.RangeRequest.SortOrder = 0,  # type: ignore[assignment]  # enum value 0
        sort_target: rpc_pb2.RangeRequest.SortTarget = 0,  # type: ignore[assignment]  # enum value 0
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
        timeout: Any = _T,
    ) -> rpc_pb2.RangeResponse:
        req = rpc_pb2.RangeRequest(
            key=key,
            range_end=range_end,
            limit=limit,
            revision=revision,
            sort_order=sort_order,
            sort_target=sort_target,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        return self.range_request(req, timeout=timeout)

    def range_request(self, req: rpc_pb2.RangeRequest, *, timeout: Any = _T) -> rpc_pb2.RangeResponse:
        return self._unary("Range", req, rpc_pb2.RangeResponse, self._t(timeout))

    def range_raw(self, req: rpc_pb2.RangeRequest, *, timeout: Any = _T) -> bytes:
        """The serialized RangeResponse, not decoded: a large range is printed from these bytes
        batch by batch (etcdctl_py.output.fastkv) instead of as one decoded copy of it."""
        return self._unary("Range", req, RawResponse, self._t(timeout))

    def write_unread(
        self, method: str, req: rpc_pb2.PutRequest | rpc_pb2.TxnRequest, *, timeout: Timeout = ...
    ) -> None:
        """A Put or Txn whose response is waited for but not decoded (make-mirror: only its arrival matters)."""
        self._unary(method, req, RawResponse, timeout)

    def get(self, key: bytes, **kw: Any) -> bytes | None:
        """The value of one key, or None."""
        r = self.range(key, **kw)
        return r.kvs[0].value if r.kvs else None

    def put(
        self,
        key: bytes,
        value: bytes = b"",
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: Timeout = ...,
    ) -> rpc_pb2.PutResponse:
        req = rpc_pb2.PutRequest(
            key=key, value=value, lease=lease, prev_kv=prev_kv, ignore_value=ignore_value, ignore_lease=ignore_lease
        )
        return self.put_request(req, timeout=timeout)

    def put_request(self, req: rpc_pb2.PutRequest, *, timeout: Timeout = ...) -> rpc_pb2.PutResponse:
        return self._unary("Put", req, rpc_pb2.PutResponse, timeout)

    def delete(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False, timeout: Timeout = ...
    ) -> rpc_pb2.DeleteRangeResponse:
        req = rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv)
        return self.delete_request(req, timeout=timeout)

    def delete_request(self, req: rpc_pb2.DeleteRangeRequest, *, timeout: Timeout = ...) -> rpc_pb2.DeleteRangeResponse:
        return self._unary("DeleteRange", req, rpc_pb2.DeleteRangeResponse, timeout)

    def txn(
        self,
        compare: Sequence[rpc_pb2.Compare] = (),
        success: Sequence[rpc_pb2.RequestOp] = (),
        failure: Sequence[rpc_pb2.RequestOp] = (),
        *,
        timeout: Timeout = ...,
    ) -> rpc_pb2.TxnResponse:
        req = rpc_pb2.TxnRequest(compare=list(compare), success=list(success), failure=list(failure))
        return self._unary("Txn", req, rpc_pb2.TxnResponse, timeout)

    def compact(self, revision: int, *, physical: bool = False, timeout: Timeout = ...) -> rpc_pb2.CompactionResponse:
        req = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        return self._unary("Compact", req, rpc_pb2.CompactionResponse, timeout)
