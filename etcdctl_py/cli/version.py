"""`etcdctl version`: no client, no environment processing, extra arguments ignored."""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context


def command() -> Command:
    return Command("version", short="Prints the version of etcdctl", run=run)


def run(ctx: Context) -> int:
    sys.stdout.write(f"etcdctl version: {ctx.version}\nAPI version: {ctx.api_version}\n")
    return 0
