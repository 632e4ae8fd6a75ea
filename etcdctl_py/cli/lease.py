"""`etcdctl lease grant|revoke|timetolive|list|keep-alive`.

Lease IDs are hex on the command line. timetolive/list/keep-alive have no request timeout and
report request failures with exit 2, as etcdctl does.
"""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_BAD_CONNECTION, bad_args
from etcdctl_py.cli.verbkit import parse_lease_id, request, session, show


def command() -> Command:
    root = Command("lease <subcommand>", short="Lease related commands")
    root.add(
        Command("grant <ttl>", short="Creates leases", run=run_grant),
        Command("revoke <leaseID>", short="Revokes leases", run=run_revoke),
        Command(
            "timetolive <leaseID> [options]",
            short="Get lease information",
            run=run_ttl,
            flags=[
                Flag.bool("keys", False, "Get keys attached to this lease"),
            ],
        ),
        Command("list", short="List all active leases", run=run_list),
        Command(
            "keep-alive [options] <leaseID>",
            short="Keeps leases alive (renew)",
            run=run_keep_alive,
            flags=[
                Flag.bool(
                    "once", False, "Resets the keep-alive time to its original value and cobrautl.Exits immediately"
                ),
            ],
        ),
    )
    return root


def run_grant(ctx: Context) -> int:
    from etcdctl_py.gofmt import parse_int

    if len(ctx.args) != 1:
        raise bad_args("lease grant command needs TTL argument")
    try:
        ttl = parse_int(ctx.args[0], 10, 64)
    except ValueError as e:
        raise bad_args(f"bad TTL ({e})") from None
    s = session(ctx)
    resp = request(lambda: s.client().lease.grant(ttl, timeout=s.command_timeout), wrap="failed to grant lease ({})")
    show(s.printer.lease_grant, resp)
    return 0


def run_revoke(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("lease revoke command needs 1 argument")
    lid = parse_lease_id(ctx.args[0])
    s = session(ctx)
    resp = request(lambda: s.client().lease.revoke(lid, timeout=s.command_timeout), wrap="failed to revoke lease ({})")
    show(s.printer.lease_revoke, lid, resp)
    return 0


def run_ttl(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("lease timetolive command needs lease ID as argument")
    keys = ctx.get("keys")
    s = session(ctx)
    lid = parse_lease_id(ctx.args[0])
    resp = request(lambda: s.client().lease.time_to_live(lid, keys, timeout=None), EXIT_BAD_CONNECTION)
    show(s.printer.lease_time_to_live, resp, keys)
    return 0


def run_list(ctx: Context) -> int:
    s = session(ctx)
    resp = request(lambda: s.client().lease.leases(timeout=None), EXIT_BAD_CONNECTION)
    show(s.printer.lease_list, resp)
    return 0


def run_keep_alive(ctx: Context) -> int:
    """Streams renewals until the lease is gone; SIGINT/SIGTERM kill the process like etcdctl (no handler)."""
    import signal

    from etcdctl_py.cli.errors import die_by_signal

    signal.signal(signal.SIGTERM, lambda *_: die_by_signal(signal.SIGTERM))
    try:
        return _keep_alive(ctx)
    except KeyboardInterrupt:
        die_by_signal(signal.SIGINT)
        return 130


def _keep_alive(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("lease keep-alive command needs lease ID as argument")
    lid = parse_lease_id(ctx.args[0])
    s = session(ctx)
    lease = s.client().lease
    if ctx.get("once"):
        resp = request(lambda: lease.keep_alive_once(lid), EXIT_BAD_CONNECTION)
        show(s.printer.lease_keep_alive, resp)
        return 0
    it = lease.keep_alive(lid)
    while True:
        renewed = request(lambda: next(it, None), EXIT_BAD_CONNECTION)
        if renewed is None:
            break
        show(s.printer.lease_keep_alive, renewed)
        sys.stdout.buffer.flush()
    if s.printer.name == "simple":
        sys.stdout.write(f"lease {lid:016x} expired or revoked.\n")
    return 0
