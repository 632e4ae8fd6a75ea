"""`etcdctl move-leader <transferee-member-id>`: find the leader among the endpoints, ask it to hand over.

Deliberate difference: etcdctl 3.5.0-3.5.4 dies with the "conflicting environment variable" fatal
line when the endpoints come from ETCDCTL_ENDPOINTS (it reads its configuration twice); we read
it once, as etcdctl >= 3.5.5 does.
"""

from __future__ import annotations

from etcdctl_py.cli.cobra import Command, Context
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    return Command("move-leader <transferee-member-id>", short="Transfers leadership to another etcd cluster member.",
                   run=run)


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
    c = s.client()
    deadline = time.monotonic() + s.command_timeout
    eps = [e.strip() for e in ctx.get("endpoints")]
    leader_client, leader_id = None, 0
    for ep in eps:
        sub = c.maintenance.at(ep)
        sub.warn_logger = c.warn_logger  # Go dials a new client per endpoint: its warn lines name that endpoint
        resp = request(lambda: sub.unary("Maintenance", "Status", _status_req(), _status_resp(),
                                         timeout=max(deadline - time.monotonic(), 0)))
        if resp.header.member_id == resp.leader:
            leader_client, leader_id = sub, resp.leader
            break
        sub.close()
    if leader_client is None:
        raise bad_args("no leader endpoint given at [" + " ".join(eps) + "]")
    mresp = request(lambda: leader_client.maintenance.move_leader(target,
                                                                  timeout=max(deadline - time.monotonic(), 0)))
    show(s.printer.move_leader, leader_id, target, mresp)
    return 0


def _status_req():  # noqa: ANN202
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    return rpc_pb2.StatusRequest()


def _status_resp():  # noqa: ANN202
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    return rpc_pb2.StatusResponse
