"""`etcdctl compaction`: the Compact RPC, plus `--keep-revisions N` (ours) to compact to current − N.

etcdctl parses the revision before building a client, so argument errors never touch the network; the output is
always `compacted revision <rev>` whatever `-w` says.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args, from_exception
from etcdctl_py.cli.verbkit import verb
from etcdctl_py.client.errors import EtcdError

if TYPE_CHECKING:
    from etcdctl_py.client import Client

COMPACTED = "etcdserver: mvcc: required revision has been compacted"


def command() -> Command:
    return verb(
        "compaction [options] <revision>",
        "Compacts the event history in etcd",
        run,
        Flag.bool("physical", False, "'true' to wait for compaction to physically remove all old revisions"),
        Flag.int(
            "keep-revisions",
            0,
            "Compact to (current revision - N) instead of taking a <revision> argument",
            kind="int64",
            hidden=True,
        ),
    )


def _parse_revision(text: str) -> int:
    """strconv.ParseInt(text, 10, 64), failing with Go's error text (exit 1, as in etcdctl)."""
    from etcdctl_py.gofmt import parse_int

    try:
        return parse_int(text, 10, 64)
    except ValueError as e:
        raise ExitError(EXIT_ERROR, str(e)) from None


def _revision_arg(ctx: Context, keep: int | None) -> int:
    """The <revision> argument, checked before any client exists (0 with --keep-revisions, which takes none)."""
    if keep is None:
        if len(ctx.args) != 1:
            raise bad_args("compaction command needs 1 argument")
        return _parse_revision(ctx.args[0])
    if ctx.args:
        raise bad_args("compaction takes no <revision> argument when --keep-revisions is set")
    if keep < 0:
        raise bad_args("--keep-revisions must be zero or positive")
    return 0


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    keep = ctx.get("keep-revisions") if ctx.changed("keep-revisions") else None
    rev = _revision_arg(ctx, keep)
    s = g.setup(ctx)
    try:
        if keep is not None:
            return _compact_keeping(s.client(), keep, ctx.get("physical"))
        s.client().kv.compact(rev, physical=ctx.get("physical"))
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    sys.stdout.write(f"compacted revision {rev}\n")
    return 0


def _compact_keeping(c: Client, keep: int, physical: bool) -> int:
    """--keep-revisions N: compact to the current revision - N; an earlier compaction past it is no failure."""
    c.warn_logger = None  # "already compacted" is an expected answer here, not a failure
    current = c.kv.range(b"\x00", count_only=True, limit=1).header.revision
    rev = current - keep
    if rev < 1:
        sys.stdout.write(f"nothing to compact: current revision {current}, keeping {keep} revisions\n")
        return 0
    try:
        c.kv.compact(rev, physical=physical)
    except EtcdError as e:
        if str(e) != COMPACTED:
            raise
        sys.stdout.write(f"revision {rev} is already compacted (current revision {current})\n")
        return 0
    sys.stdout.write(f"compacted revision {rev}\n")
    return 0
