"""Rows shared by the simple and table printers for member list and the endpoint verbs
(etcdctl's makeMemberListTable / makeEndpoint*Table), and the alarm line text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.slotrecord import SlotRecord

if TYPE_CHECKING:
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


class EpHealth(SlotRecord):
    """One `endpoint health` result (etcdctl's epHealth; json keys endpoint/health/took/error). A plain class: a
    dataclass would import `inspect` (~10 ms) into `member list` and `endpoint status`, which load this module."""

    __slots__ = ("ep", "health", "took", "error")

    def __init__(self, ep: str, health: bool, took: str, error: str = "") -> None:
        self.ep, self.health, self.took, self.error = ep, health, took, error


def alarm_text(a: rpc_pb2.AlarmMember) -> str:
    """gogo-protobuf compact text of an AlarmMember (`%+v`): zero fields omitted, each followed by a space."""
    out = ""
    if a.memberID:
        out += f"memberID:{a.memberID} "
    if a.alarm:
        out += f"alarm:{ALARM_NAMES.get(a.alarm, str(a.alarm))} "
    return out


def member_rows(resp: rpc_pb2.MemberListResponse) -> tuple[list[str], list[list[str]]]:
    hdr = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"]
    rows = []
    for m in resp.members:
        rows.append(
            [
                f"{m.ID:x}",
                "started" if m.name else "unstarted",
                m.name,
                ",".join(m.peerURLs),
                ",".join(m.clientURLs),
                "true" if m.isLearner else "false",
            ]
        )
    return hdr, rows


def health_rows(results: list[EpHealth]) -> tuple[list[str], list[list[str]]]:
    hdr = ["endpoint", "health", "took", "error"]
    return hdr, [[h.ep, "true" if h.health else "false", h.took, h.error] for h in results]


def status_rows(results: list[tuple[str, rpc_pb2.StatusResponse]]) -> tuple[list[str], list[list[str]]]:
    from etcdctl_py.humanize import go_bytes

    hdr = [
        "endpoint",
        "ID",
        "version",
        "db size",
        "is leader",
        "is learner",
        "raft term",
        "raft index",
        "raft applied index",
        "errors",
    ]
    rows = []
    for ep, r in results:
        rows.append(
            [
                ep,
                f"{r.header.member_id:x}",
                r.version,
                go_bytes(r.dbSize),
                "true" if r.leader == r.header.member_id else "false",
                "true" if r.isLearner else "false",
                str(r.raftTerm),
                str(r.raftIndex),
                str(r.raftAppliedIndex),
                ", ".join(r.errors),
            ]
        )
    return hdr, rows


def hashkv_rows(results: list[tuple[str, rpc_pb2.HashKVResponse]]) -> tuple[list[str], list[list[str]]]:
    return ["endpoint", "hash"], [[ep, str(r.hash)] for ep, r in results]
