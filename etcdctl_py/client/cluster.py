"""Cluster service: MemberAdd/Remove/Update/List/Promote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.goaddr import new_urls
from etcdctl_py.proto.etcdserverpb import rpc_pb2

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout


class Cluster(ServiceHandle):
    service = "Cluster"

    def member_add(
        self, peer_urls: Sequence[str], learner: bool = False, *, timeout: Timeout = ...
    ) -> rpc_pb2.MemberAddResponse:
        """Raises ValueError (etcd's types.NewURLs text) before sending, as clientv3 does, for bad peer URLs."""
        new_urls(list(peer_urls))
        req = rpc_pb2.MemberAddRequest(peerURLs=list(peer_urls), isLearner=learner)
        return self._unary("MemberAdd", req, rpc_pb2.MemberAddResponse, timeout)

    def member_remove(self, member_id: int, *, timeout: Timeout = ...) -> rpc_pb2.MemberRemoveResponse:
        return self._unary(
            "MemberRemove", rpc_pb2.MemberRemoveRequest(ID=member_id), rpc_pb2.MemberRemoveResponse, timeout
        )

    def member_update(
        self, member_id: int, peer_urls: Sequence[str], *, timeout: Timeout = ...
    ) -> rpc_pb2.MemberUpdateResponse:
        """Raises ValueError for bad peer URLs, like member_add."""
        new_urls(list(peer_urls))
        req = rpc_pb2.MemberUpdateRequest(ID=member_id, peerURLs=list(peer_urls))
        return self._unary("MemberUpdate", req, rpc_pb2.MemberUpdateResponse, timeout)

    def member_list(self, *, linearizable: bool = True, timeout: Timeout = ...) -> rpc_pb2.MemberListResponse:
        return self._unary(
            "MemberList", rpc_pb2.MemberListRequest(linearizable=linearizable), rpc_pb2.MemberListResponse, timeout
        )

    def member_promote(self, member_id: int, *, timeout: Timeout = ...) -> rpc_pb2.MemberPromoteResponse:
        return self._unary(
            "MemberPromote", rpc_pb2.MemberPromoteRequest(ID=member_id), rpc_pb2.MemberPromoteResponse, timeout
        )
