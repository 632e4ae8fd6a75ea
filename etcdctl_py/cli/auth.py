"""`etcdctl auth enable|disable|status`."""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context
from etcdctl_py.cli.verbkit import exact_args, failure, print_reply, request, session

ROOT_ROLE_MISSING = "etcdserver: root user does not have root role"


def command() -> Command:
    root = Command("auth <enable or disable>", short="Enable or disable authentication")
    root.add(
        Command("enable", short="Enables authentication", run=run_enable),
        Command("disable", short="Disables authentication", run=run_disable),
        Command("status", short="Returns authentication status", run=run_status),
    )
    return root


def run_status(ctx: Context) -> int:
    exact_args(ctx, 0, "auth status command does not accept any arguments")
    return print_reply(
        ctx, lambda s: s.client().auth.auth_status(timeout=s.command_timeout), lambda p, resp: p.auth_status(resp)
    )


def run_enable(ctx: Context) -> int:
    """AuthEnable; when the root user lacks the root role, create the role, grant it, retry (like etcdctl)."""
    import time

    from etcdctl_py.client.errors import EtcdError

    exact_args(ctx, 0, "auth enable command does not accept any arguments")
    s = session(ctx)
    c = s.client()
    deadline = time.monotonic() + s.command_timeout

    def left() -> float:
        return max(deadline - time.monotonic(), 0.0)

    while True:
        try:
            c.auth.auth_enable(timeout=left())
            break
        except EtcdError as e:
            if str(e) != ROOT_ROLE_MISSING:
                raise failure(e) from None
            request(lambda: c.auth.role_add("root", timeout=left()))
            request(lambda: c.auth.user_grant_role("root", "root", timeout=left()))
    sys.stdout.write("Authentication Enabled\n")
    return 0


def run_disable(ctx: Context) -> int:
    exact_args(ctx, 0, "auth disable command does not accept any arguments")
    s = session(ctx)
    request(lambda: s.client().auth.auth_disable(timeout=s.command_timeout))
    sys.stdout.write("Authentication Disabled\n")
    return 0
