"""`etcdctl compaction`: the Compact RPC, plus `--keep-revisions N` (ours) to compact to current − N.

etcdctl parses the revision before building a client, so argument errors never touch the network; the output is
always `compacted revision <rev>` whatever `-w` says.
"""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args, from_exception

COMPACTED = "etcdserver: mvcc: required revision has been compacted"


def command() -> Command:
    return Command(
        "compaction [options] <revision>",
        short="Compacts the event history in etcd",
        run=run,
        flags=[
            Flag.bool("physical", False, "'true' to wait for compaction to physically remove all old revisions"),
            Flag.int("keep-revisions", 0, "Compact to (current revision - N) instead of taking a <revision> argument",
                     kind="int64", hidden=True),
        ],
    )


def _parse_revision(text: str) -> int:
    """strconv.ParseInt(text, 10, 64) with Go's error text."""
    from etcdctl_py.gofmt import quote

    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ExitError(EXIT_ERROR, f"strconv.ParseInt: parsing {quote(text)}: invalid syntax")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ExitError(EXIT_ERROR, f"strconv.ParseInt: parsing {quote(text)}: value out of range")
    return value


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    keep = ctx.get("keep-revisions") if ctx.changed("keep-revisions") else None
    if keep is None:
        if len(ctx.args) != 1:
            raise bad_args("compaction command needs 1 argument")
        rev = _parse_revision(ctx.args[0])
    else:
        if ctx.args:
            raise bad_args("compaction takes no <revision> argument when --keep-revisions is set")
        if keep < 0:
            raise bad_args("--keep-revisions must be zero or positive")
        rev = 0
    s = g.setup(ctx)
    try:
        kv = s.client().kv
        if keep is not None:
            s.client().warn_logger = None  # "already compacted" is an expected answer here, not a failure
            current = kv.range(b"\x00", count_only=True, limit=1).header.revision
            rev = current - keep
            if rev < 1:
                sys.stdout.write(f"nothing to compact: current revision {current}, keeping {keep} revisions\n")
                return 0
            try:
                kv.compact(rev, physical=ctx.get("physical"))
            except Exception as e:  # noqa: BLE001 - an earlier compaction already went past rev: nothing to do
                if str(e) != COMPACTED:
                    raise
                sys.stdout.write(f"revision {rev} is already compacted (current revision {current})\n")
                return 0
        else:
            kv.compact(rev, physical=ctx.get("physical"))
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    sys.stdout.write(f"compacted revision {rev}\n")
    return 0
