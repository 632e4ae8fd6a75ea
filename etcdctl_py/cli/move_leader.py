"""`etcdctl move-leader <transferee-member-id>`: find the leader among the endpoints, ask it to hand over.

Deliberate difference: etcdctl 3.5.0-3.5.4 dies with the "conflicting environment variable" fatal
line when the endpoints come from ETCDCTL_ENDPOINTS (it reads its configuration twice); we read
it once, as etcdctl >= 3.5.5 does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import request, session, show

if TYPE_CHECKING:
    from etcdctl_py.client import Client


def command() -> Command:
    return Command(
        "move-leader <transferee-member-id>", short="Transfers leadership to another etcd cluster member.", run=run
    )


def run(ctx: Context) -> int:
    import time

    from etcdctl_py.gofmt import parse_int

    if len(ctx.args) != 1:
        raise bad_args("move-leader command needs 1 argument")
    try:
        target = parse_int(ctx.args[0], 16, 64, signed=False)
    except ValueError as e:
        raise bad_args(str(e)) from None
    s = session(ctx)
    deadline = time.monotonic() + s.command_timeout

    def left() -> float:
        return max(deadline - time.monotonic(), 0)

    eps = [e.strip() for e in ctx.get("endpoints")]
    leader = _find_leader(s.client(), eps, left)
    if leader is None:
        raise bad_args("no leader endpoint given at [" + " ".join(eps) + "]")
    leader_client, leader_id = leader
    with leader_client:
        mresp = request(lambda: leader_client.maintenance.move_leader(target, timeout=left()))
    show(s.printer.move_leader, leader_id, target, mresp)
    return 0


def _find_leader(c: Client, eps: list[str], left: Callable[[], float]) -> tuple[Client, int] | None:
    """The first endpoint whose member is the leader: a client of its own, and the leader's ID."""
    for ep in eps:
        sub = c.at(ep)
        sub.warn_logger = c.warn_logger  # Go dials a new client per endpoint: its warn lines name that endpoint
        resp = request(partial(sub.maintenance.status, timeout=left()))
        if resp.header.member_id == resp.leader:
            return sub, resp.leader
        sub.close()
    return None
