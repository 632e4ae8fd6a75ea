"""`etcdctl snapshot save|restore|status` (etcdctl 3.5.1).

restore and status are deprecated in 3.5: they print ``Deprecated: Use `etcdutl snapshot ...` instead.`` and a blank
line on stderr, then run etcdutl's code (shared with `etcdutl-py` in etcdctl_py/cli/etcdutl.py). `save` talks to a
server and lives with the client code: see `_save_command` below.
"""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context

STATUS_LONG = (
    "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.\n"
    "The items in the lists are hash, revision, total keys, total size.\n"
    "\n"
    "Moved to 'etcdctl snapshot status ...'\n"
)


def _deprecated(verb: str) -> None:
    sys.stderr.write(f"Deprecated: Use `etcdutl snapshot {verb}` instead.\n\n")
    sys.stderr.flush()


def run_status(ctx: Context) -> int:
    _deprecated("status")
    from etcdctl_py.cli import etcdutl  # lazy: keeps `etcdctl-py get` start-up lean

    return etcdutl.run_snapshot_status(ctx)


def run_restore(ctx: Context) -> int:
    _deprecated("restore")
    from etcdctl_py.cli import etcdutl  # lazy: keeps `etcdctl-py get` start-up lean

    return etcdutl.run_snapshot_restore(ctx)


def _save_command() -> Command:
    """`snapshot save <filename>`: lives in etcdctl_py/cli/snapshot_save.py (client side, exit 5 on failure)."""
    from etcdctl_py.cli import snapshot_save

    return snapshot_save.command()


def _follow_command() -> Command:
    """`snapshot follow <dir>` (ours, hidden): full + watch deltas for point-in-time restore."""
    from etcdctl_py.cli import snapshot_follow

    return snapshot_follow.command()


def command() -> Command:
    from etcdctl_py.cli import etcdutl

    snapshot = Command("snapshot <subcommand>", short="Manages etcd node snapshots")
    restore = Command(
        "restore <filename> [options]",
        short="Restores an etcd member snapshot to an etcd directory",
        long="Moved to `etcdctl snapshot restore ...`\n",
        run=run_restore,
        flags=etcdutl.restore_flags("Path to the data directory"),
    )
    status = Command(
        "status <filename>",
        short="[deprecated] Gets backend snapshot status of a given file",
        long=STATUS_LONG,
        run=run_status,
        flags=etcdutl.status_flags(),
    )
    snapshot.add(_save_command(), restore, status, _follow_command())
    return snapshot
