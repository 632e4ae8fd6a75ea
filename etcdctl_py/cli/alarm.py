"""`etcdctl alarm list|disarm`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context
from etcdctl_py.cli.verbkit import exact_args, print_reply

if TYPE_CHECKING:
    from etcdctl_py.client.maintenance import Maintenance
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


def command() -> Command:
    root = Command("alarm <subcommand>", short="Alarm related commands")
    root.add(
        Command("disarm", short="Disarms all alarms", run=run_disarm),
        Command("list", short="Lists all alarms", run=run_list),
    )
    return root


def run_disarm(ctx: Context) -> int:
    return _alarms(ctx, "disarm", lambda m, timeout: m.alarm_disarm(timeout=timeout))


def run_list(ctx: Context) -> int:
    return _alarms(ctx, "list", lambda m, timeout: m.alarm_list(timeout=timeout))


def _alarms(ctx: Context, sub: str, call: Callable[[Maintenance, float], rpc_pb2.AlarmResponse]) -> int:
    """Both alarm verbs: no arguments, one Maintenance request, the alarms it answers with printed."""
    exact_args(ctx, 0, f"alarm {sub} command accepts no arguments")
    return print_reply(ctx, lambda s: call(s.client().maintenance, s.command_timeout), lambda p, resp: p.alarm(resp))
