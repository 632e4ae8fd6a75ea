"""`etcdctl alarm list|disarm`."""

from __future__ import annotations

from etcdctl_py.cli.cobra import Command, Context
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    root = Command("alarm <subcommand>", short="Alarm related commands")
    root.add(Command("disarm", short="Disarms all alarms", run=run_disarm),
             Command("list", short="Lists all alarms", run=run_list))
    return root


def run_disarm(ctx: Context) -> int:
    if ctx.args:
        raise bad_args("alarm disarm command accepts no arguments")
    s = session(ctx)
    resp = request(lambda: s.client().maintenance.alarm_disarm(timeout=s.command_timeout))
    show(s.printer.alarm, resp)
    return 0


def run_list(ctx: Context) -> int:
    if ctx.args:
        raise bad_args("alarm list command accepts no arguments")
    s = session(ctx)
    resp = request(lambda: s.client().maintenance.alarm_list(timeout=s.command_timeout))
    show(s.printer.alarm, resp)
    return 0
