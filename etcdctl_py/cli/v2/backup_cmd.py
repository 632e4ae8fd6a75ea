"""v2 `backup`: offline backup of a data dir via etcdctl_py.snapshot.backup.run_cli (etcdutl's HandleBackup)."""

from __future__ import annotations

from .app import Command, Context, Exit
from .flags import Flag

DESCRIPTION = (
    "Performs an offline backup of etcd directory.\n\n"
    "Moved to `./etcdutl backup` and going to be decomissioned in v3.5\n\n"
    "The recommended (online) backup command is: `./etcdctl snapshot save ...`.\n\n"
)


_UTL = "go.etcd.io/etcd/etcdutl/v3/etcdutl."
_UTL_SRC = "/tmp/etcd-release-3.5.1/etcd/release/etcd/etcdutl/etcdutl/backup_command.go"
_REL = "/tmp/etcd-release-3.5.1/etcd/release/etcd/etcdctl/"
_MOD = "/home/remote/sbatsche/.gvm/pkgsets/go1.16.3/global/pkg/mod/github.com/urfave/cli@v1.22.4/"
# The frames below HandleBackup when etcdctl (v2) runs it, as zap prints them with a fatal line.
_CTL_FRAMES = [
    ("go.etcd.io/etcd/etcdctl/v3/ctlv2/command.handleBackup", _REL + "ctlv2/command/backup_command.go:46"),
    ("github.com/urfave/cli.HandleAction", _MOD + "app.go:526"),
    ("github.com/urfave/cli.Command.Run", _MOD + "command.go:174"),
    ("github.com/urfave/cli.(*App).Run", _MOD + "app.go:279"),
    ("go.etcd.io/etcd/etcdctl/v3/ctlv2.Start", _REL + "ctlv2/ctl.go:75"),
    ("go.etcd.io/etcd/etcdctl/v3/ctlv2.MustStart", _REL + "ctlv2/ctl.go:79"),
    ("main.main", _REL + "main.go:64"),
    ("runtime.main", "/home/remote/sbatsche/.gvm/gos/go1.16.3/src/runtime/proc.go:225"),
]
# fatal line in backup_command.go -> the etcdutl frames above it (function, line)
_UTL_FRAMES = {
    118: [("HandleBackup", 118)],
    131: [("HandleBackup", 131)],
    135: [("HandleBackup", 135)],
    138: [("HandleBackup", 138)],
    154: [("saveSnap", 154), ("HandleBackup", 125)],
    162: [("saveSnap", 162), ("HandleBackup", 125)],
    173: [("mustTranslateV2store", 173), ("saveSnap", 160), ("HandleBackup", 125)],
    191: [("translateWAL", 191), ("HandleBackup", 126)],
    201: [("translateWAL", 201), ("HandleBackup", 126)],
}


def stacktrace(line: int) -> str:
    """zap's stack for a fatal at backup_command.go:line under etcdctl v2 (bolt.Open fails in a goroutine)."""
    if line == 277:
        return f"{_UTL}saveDB.func1\n\t{_UTL_SRC}:277"
    frames = [(_UTL + fn, f"{_UTL_SRC}:{ln}") for fn, ln in _UTL_FRAMES.get(line, [("HandleBackup", line)])]
    frames += _CTL_FRAMES
    return "\n".join(f"{fn}\n\t{loc}" for fn, loc in frames)


def backup(c: Context) -> None:
    """etcdctl 3.5.1 calls etcdutl.HandleBackup; with-v3 defaults to false here (true in etcdutl)."""
    import os
    import sys

    from ...snapshot import backup as bk
    from ...snapshot.zaplog import ZapLogger

    log = ZapLogger(sys.stderr)
    data_dir, backup_dir, wal_dir = c.f("data-dir") or "", c.f("backup-dir") or "", c.f("wal-dir") or ""
    try:
        if not data_dir and not backup_dir and not wal_dir and not os.path.lexists("member"):
            # etcdctl first creates ./member/snap (the destination), so the source snap dir exists but
            # is empty and the WAL read fails; report the same without leaving that directory behind.
            raise bk.BackupError("wal.OpenForRead failed", {"error": "open member/wal: no such file or directory"}, 191)
        # No --backup-dir: etcdctl writes into the current directory; ours refuses a non-empty one early.
        bk.backup(data_dir, backup_dir or ".", wal_dir, c.f("backup-wal-dir") or "", bool(c.f("with-v3")), log)
    except bk.BackupError as e:
        log.log("fatal", bk.CALLER + str(e.line), e.message, e.fields)
        sys.stderr.write(stacktrace(e.line) + "\n")
        sys.stderr.flush()
        raise Exit(1) from None
    except KeyboardInterrupt:
        raise Exit(130) from None
    raise Exit(0)


def command() -> Command:
    return Command(
        "backup",
        "--data-dir=... --backup-dir={output}",
        usage_text="[deprecated] offline backup an etcd directory.",
        description=DESCRIPTION,
        flags=[
            Flag("data-dir", "string", "Path to the etcd data dir", ""),
            Flag("wal-dir", "string", "Path to the etcd wal dir", ""),
            Flag("backup-dir", "string", "Path to the backup dir", ""),
            Flag("backup-wal-dir", "string", "Path to the backup wal dir", ""),
            Flag("with-v3", "bool", "Backup v3 backend data"),
        ],
        action=backup,
    )
