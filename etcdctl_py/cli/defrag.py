"""`etcdctl defrag`: online Defragment per endpoint (or every member with --cluster), offline `--data-dir`, and
our `--rolling` mode.

etcdctl 3.5.0-3.5.2 fall through from `--data-dir` to an online defrag of the endpoints (a missing return, fixed
in 3.5.3); we stop after the offline defrag like 3.5.3+.

`--rolling` is what operators script around `defrag --cluster` (see ecosystem-notes §2.4): check the cluster's
health, defragment the followers one at a time and the leader last, re-check health after every member, and stop
at the first failure so a struggling cluster is never pushed further.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args

if TYPE_CHECKING:
    from etcdctl_py.cli.globals import Session
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

DEPRECATED = "Use `etcdutl defrag` instead. The --data-dir is going to be decomissioned in v3.6.\n\n"


def command() -> Command:
    return Command(
        "defrag",
        short="Defragments the storage of the etcd members with given endpoints",
        run=run,
        persistent_flags=[Flag.bool("cluster", False, "use all endpoints from the cluster member list")],
        flags=[
            Flag.string("data-dir", "", "Optional. If present, defragments a data directory not in use by etcd."),
            Flag.bool(
                "rolling",
                False,
                "Check health, defragment followers one at a time and the leader last, "
                "re-checking health after each member; stop at the first failure",
                hidden=True,
            ),
        ],
    )


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def cluster_client_urls(ctx: Context) -> list[str]:
    """etcdctl's endpointsFromCluster: every member's client URLs (member list without auth), else --endpoints."""
    from etcdctl_py.cli import globals as g

    if not ctx.get("cluster"):
        return [e.strip() for e in ctx.get("endpoints")]
    saved = ctx.values.get("_auth")
    ctx.values["_auth"] = None  # MemberList needs no authentication: do not ask for a password
    try:
        c = g._new_client(ctx)
    finally:
        ctx.values["_auth"] = saved
    try:
        resp = _member_list(c)
    finally:
        c.close()
    return [u for m in resp.members for u in m.clientURLs]


def _member_list(c: Client) -> rpc_pb2.MemberListResponse:
    """The members, or etcdctl's error for a failed MemberList."""
    try:
        return c.cluster.member_list()
    except Exception as e:  # noqa: BLE001 - etcdctl's wording
        raise ExitError(EXIT_ERROR, f"failed to fetch endpoints from etcd cluster member list: {e}") from None


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    data_dir = ctx.get("data-dir")
    if data_dir:
        if ctx.get("rolling"):
            raise bad_args("--rolling defragments a running cluster; it cannot be combined with --data-dir")
        return _offline(data_dir)
    s = g.setup(ctx)
    if ctx.get("rolling"):
        return _rolling(ctx, s)
    c = s.client()
    eps = cluster_client_urls(ctx)
    failures = 0
    for ep in eps:
        try:
            c.maintenance.defragment(ep)
        except Exception as e:  # noqa: BLE001 - reported per member like etcdctl
            _err(f"Failed to defragment etcd member[{ep}] ({e})")
            failures += 1
        else:
            _out(f"Finished defragmenting etcd member[{ep}]")
    return EXIT_ERROR if failures else 0


def _offline(data_dir: str) -> int:
    from etcdctl_py.snapshot import defrag as defrag_mod

    sys.stderr.write(DEPRECATED)
    sys.stderr.flush()
    try:
        defrag_mod.defrag_data_dir(data_dir)
    except Exception as e:  # noqa: BLE001 - etcdctl prints DefragData's error as is
        raise ExitError(EXIT_ERROR, str(e)) from None
    return 0


# ---------------------------------------------------------------- --rolling


@dataclass
class MemberState:
    """One member as the rolling defrag sees it."""

    id: int
    name: str
    url: str  # the client URL we talk to (first advertised one)
    db_size: int = 0
    leader: int = 0
    error: str = ""


def _member_health(c: Client, m: MemberState) -> MemberState:
    """etcdctl endpoint health's test (a quorum read of "health"; permission denied counts as healthy), plus Status
    for the leader, the DB size and alarms. CORRUPT alarms make a member unhealthy; NOSPACE does not (defrag is the
    cure for it)."""
    with c.at(m.url) as sub:
        sub.warn_logger = None
        try:
            sub.kv.range(b"health")
        except Exception as e:  # noqa: BLE001 - the member's answer is the verdict
            if "permission denied" not in str(e):
                m.error = str(e)
                return m
        try:
            st = sub.maintenance.status()
        except Exception as e:  # noqa: BLE001 - the member's answer is the verdict
            m.error = str(e)
            return m
    m.db_size, m.leader = st.dbSize, st.leader
    if st.leader == 0:
        m.error = "no leader"
    elif any("CORRUPT" in e for e in st.errors):
        m.error = "active alarm: CORRUPT"
    return m


def _health(c: Client, members: list[MemberState]) -> tuple[bool, int, list[str]]:
    """(all healthy and agreeing on one leader, leader id, problems)."""
    problems = []
    leaders = set()
    for m in members:
        m.error = ""
        _member_health(c, m)
        if m.error:
            problems.append(f"{m.name} ({m.url}): {m.error}")
        else:
            leaders.add(m.leader)
    if not problems and len(leaders) != 1:
        problems.append("members disagree about the leader")
    leader = leaders.pop() if len(leaders) == 1 else 0
    return not problems, leader, problems


def _rolling(ctx: Context, s: Session) -> int:
    """Health gate, then one member at a time (followers first, leader last); the first failed defragment or
    failed health check ends the run with a summary of what was done, what failed and what was skipped."""
    from etcdctl_py.humanize import go_bytes

    c = s.client()
    resp = _member_list(c)
    members = []
    for m in resp.members:
        if m.isLearner:
            continue  # learners serve no reads and hold no vote; defragment them with plain `defrag`
        if not m.clientURLs:
            raise ExitError(EXIT_ERROR, f"member {m.name or format(m.ID, 'x')} has not started yet (no client URL)")
        members.append(MemberState(m.ID, m.name or format(m.ID, "x"), m.clientURLs[0]))
    ok, leader, problems = _health(c, members)
    if not ok:
        for p in problems:
            _err(f"unhealthy: {p}")
        raise ExitError(EXIT_ERROR, "cluster is not healthy; not defragmenting any member")
    lname = next((m.name for m in members if m.id == leader), format(leader, "x"))
    _out(f"Cluster healthy: {len(members)} members, leader {lname}")
    done: list[MemberState] = []
    while len(done) < len(members):
        todo = [m for m in members if m not in done]
        followers = [m for m in todo if m.id != leader]
        m = followers[0] if followers else todo[0]
        role = "leader" if m.id == leader else "follower"
        before = m.db_size
        try:
            c.maintenance.defragment(m.url)
        except Exception as e:  # noqa: BLE001
            _err(f"Failed to defragment etcd member[{m.url}] ({e})")
            _report_stop(members, done, [m])
            raise ExitError(
                EXIT_ERROR, f"defragmenting {role} {m.name} failed; stopped after {len(done)} of {len(members)} members"
            ) from None
        done.append(m)
        ok, leader, problems = _health(c, members)
        _out(
            f"Finished defragmenting etcd member[{m.url}] ({role} {m.name}, db size {go_bytes(before)} -> "
            f"{go_bytes(m.db_size) if not m.error else '?'})"
        )
        if not ok:
            for p in problems:
                _err(f"unhealthy: {p}")
            _report_stop(members, done, [x for x in members if x.error])
            raise ExitError(
                EXIT_ERROR,
                f"cluster is not healthy after defragmenting {m.name}; stopped after "
                f"{len(done)} of {len(members)} members",
            )
    _out(f"Cluster healthy: all {len(members)} members defragmented")
    return 0


def _report_stop(members: list[MemberState], done: list[MemberState], failed: list[MemberState]) -> None:
    """Where a stopped run left the cluster: one stderr line each for the defragmented members (in the order they
    were done), the member(s) that failed (its defragment, or its health check) and those never tried."""
    skipped = [m for m in members if m not in done and m not in failed]

    def names(ms: list[MemberState]) -> str:
        return ", ".join(m.name for m in ms) or "none"

    _err(f"Defragmented: {names(done)}")
    _err(f"Failed: {names(failed)}")
    _err(f"Skipped: {names(skipped)}")
