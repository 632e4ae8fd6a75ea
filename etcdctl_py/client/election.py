"""v3election service: campaign for, observe and resign leadership of a named election."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from etcdctl_py.client.handle import ServiceHandle
from etcdctl_py.proto.v3electionpb import v3election_pb2 as epb

if TYPE_CHECKING:
    from etcdctl_py.client.retry import Timeout


class Election(ServiceHandle):
    service = "Election"

    def campaign(self, name: bytes, lease: int, value: bytes, *, timeout: Timeout = None) -> epb.CampaignResponse:
        """Block until elected; the leader key is `name/<lease hex>`."""
        return self._unary(
            "Campaign", epb.CampaignRequest(name=name, lease=lease, value=value), epb.CampaignResponse, timeout
        )

    def proclaim(self, leader: epb.LeaderKey, value: bytes, *, timeout: Timeout = ...) -> epb.ProclaimResponse:
        return self._unary("Proclaim", epb.ProclaimRequest(leader=leader, value=value), epb.ProclaimResponse, timeout)

    def leader(self, name: bytes, *, timeout: Timeout = ...) -> epb.LeaderResponse:
        return self._unary("Leader", epb.LeaderRequest(name=name), epb.LeaderResponse, timeout)

    def observe(self, name: bytes) -> Iterator[epb.LeaderResponse]:
        """Every leader change, starting with the current leader (a server stream)."""
        return self._c.stream("Election", "Observe", epb.LeaderRequest(name=name), epb.LeaderResponse)

    def resign(self, leader: epb.LeaderKey, *, timeout: Timeout = ...) -> epb.ResignResponse:
        return self._unary("Resign", epb.ResignRequest(leader=leader), epb.ResignResponse, timeout)
