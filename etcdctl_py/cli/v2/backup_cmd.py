"""v2 `backup`: offline backup of a data dir, delegated to etcdctl_py.snapshot.backup (etcdutl's code path)."""

from __future__ import annotations

from .app import Command, Context, Exit, Out
from .flags import Flag

DESCRIPTION = ("Performs an offline backup of etcd directory.\n\n"
               "Moved to `./etcdutl backup` and going to be decomissioned in v3.5\n\n"
               "The recommended (online) backup command is: `./etcdctl snapshot save ...`.\n\n")


def backup(c: Context) -> None:
    try:
        from ...snapshot import backup as impl  # written by the snapshot engineer
    except ImportError:
        Out.err("Error: backup is not available in this build\n")
        raise Exit(1)
    handler = getattr(impl, "handle_backup", None)
    if handler is None:
        Out.err("Error: backup is not available in this build\n")
        raise Exit(1)
    rc = handler(with_v3=bool(c.f("with-v3")), data_dir=c.f("data-dir"), backup_dir=c.f("backup-dir"),
                 wal_dir=c.f("wal-dir"), backup_wal_dir=c.f("backup-wal-dir"))
    raise Exit(int(rc or 0))


def command() -> Command:
    return Command("backup", "--data-dir=... --backup-dir={output}", usage_text="[deprecated] offline backup an etcd directory.",
                   description=DESCRIPTION, flags=[
                       Flag("data-dir", "string", "Path to the etcd data dir", ""),
                       Flag("wal-dir", "string", "Path to the etcd wal dir", ""),
                       Flag("backup-dir", "string", "Path to the backup dir", ""),
                       Flag("backup-wal-dir", "string", "Path to the backup wal dir", ""),
                       Flag("with-v3", "bool", "Backup v3 backend data")], action=backup)
