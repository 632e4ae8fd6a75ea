"""`etcdutl-py`: the offline etcd tool (snapshot status/restore, defrag --data-dir, backup, version), etcdutl 3.5.1.

etcdutl runs on the same cobra work-alike as etcdctl (`cobra.py`), with cobra's *default* template (help = usage:
`Usage:` / `Available Commands:` / `Flags:` / `Global Flags:`, pflag's column layout) instead of etcdctl's
NAME/USAGE/OPTIONS one, and with cobra's required flags and deprecated commands, which etcdctl does not use.

Beyond etcdutl 3.5.1 (flags hidden from help so the help stays byte-identical): `snapshot restore
--bump-revision N --mark-compacted` (etcdutl 3.5.10+), `--initial-memory-map-size` (accepted, no effect) and
`--output-dir DIR` (restore every member of --initial-cluster into DIR/<name>.etcd); `snapshot status --verify`
(a full structural check with a report). See etcdctl_py/snapshot/EXTRAS.md.
"""

from __future__ import annotations

import sys

from etcdctl_py.cli import cobra
from etcdctl_py.cli.cobra import (
    Command,
    Context,
    Flag,
    pflag_usages,  # noqa: F401 - cli/txn.py imports it from here (cobra's now)
)
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_BAD_FEATURE, EXIT_ERROR, EXIT_SIGPIPE, ExitError, die_by_sigpipe
from etcdctl_py.stdio import open_missing_std_streams

VERSION = "3.5.1"
API_VERSION = "3.5"

OUTPUT_FORMATS = ("fields", "json", "protobuf", "simple", "table")

# --------------------------------------------------------------------------- shared command bodies


def check_output_format(fmt: str) -> None:
    """etcdutl's NewPrinter: unknown formats fail before any work (exit 4)."""
    if fmt not in OUTPUT_FORMATS:
        raise ExitError(EXIT_BAD_FEATURE, "unsupported output format")


def status_flags() -> list[Flag]:
    """Our extra `snapshot status` flag, hidden so that --help equals 3.5.1's byte for byte."""
    return [
        Flag.bool(
            "verify",
            False,
            "Full structural check of the file (every page, checksums, key order, "
            "sha256 trailer) with a report; exit 1 when problems are found",
            hidden=True,
        )
    ]


def _write_out(out: str | bytes) -> None:
    if isinstance(out, bytes):
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.write(out)
    sys.stdout.flush()


def run_snapshot_status(ctx: Context) -> int:
    """SnapshotStatusCommandFunc: one argument, printer checked, status computed, then printed (or --verify)."""
    if len(ctx.args) != 1:
        raise ExitError(EXIT_BAD_ARGS, "snapshot status requires exactly one argument")
    fmt = ctx.get("write-out")
    check_output_format(fmt)
    path = ctx.args[0]
    if _is_chain_dir(path):  # ours: a `snapshot follow` directory
        return _run_chain_status(path, fmt, bool(ctx.values.get("verify")))
    if ctx.values.get("verify"):
        return _run_verify(path, fmt)
    from etcdctl_py.snapshot import progress as progress_mod
    from etcdctl_py.snapshot import status as status_mod

    bar = progress_mod.open_bar(progress_mod.file_size(path))
    try:
        st = status_mod.status(path, progress=bar.stage("status") if bar else None)
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure is etcdutl's `Error: <err>`, exit 1
        raise ExitError(EXIT_ERROR, str(e) or type(e).__name__) from None
    finally:
        if bar:
            bar.close()
    if fmt == "protobuf":
        raise ExitError(EXIT_BAD_FEATURE, "protobuf not supported as output format")
    from etcdctl_py.output import snapshot_status

    _write_out(snapshot_status.render(st, fmt))
    return 0


def _run_verify(path: str, fmt: str) -> int:
    """`snapshot status --verify`: the report on stdout (JSON with -w json); problems end in `Error:`, exit 1."""
    if fmt == "protobuf":
        raise ExitError(EXIT_BAD_FEATURE, "protobuf not supported as output format")
    from etcdctl_py.snapshot import progress as progress_mod
    from etcdctl_py.snapshot import status as status_mod

    bar = progress_mod.open_bar(progress_mod.file_size(path))
    try:
        rep = status_mod.verify(path, progress=bar.stage if bar else None)
    except Exception as e:  # noqa: BLE001 - verify reports damage itself; anything else is still a clean error
        raise ExitError(EXIT_ERROR, str(e) or type(e).__name__) from None
    finally:
        if bar:
            bar.close()
    if not rep.opened:  # not a file we can read at all: the same error line as plain `status`
        raise ExitError(EXIT_ERROR, rep.problems[0])
    _write_out(rep.to_json() if fmt == "json" else rep.render())
    if not rep.ok:
        raise ExitError(EXIT_ERROR, f"snapshot file verification failed: {len(rep.problems)} problem(s) found")
    return 0


def _is_chain_dir(path: str) -> bool:
    """A `snapshot follow` directory (the chain module is imported only for directories: file runs stay lean)."""
    import os

    if not os.path.isdir(path):
        return False
    from etcdctl_py.snapshot import chain as chain_mod

    return chain_mod.is_chain_dir(path)


def _run_chain_status(path: str, fmt: str, verify: bool) -> int:
    """`snapshot status DIR` (ours): the fulls, segments, restorable revisions and gaps of a follow directory."""
    if fmt == "protobuf":
        raise ExitError(EXIT_BAD_FEATURE, "protobuf not supported as output format")
    from etcdctl_py.snapshot import chain as chain_mod

    try:
        rep = chain_mod.report(chain_mod.load(path), verify=verify)
    except Exception as e:  # noqa: BLE001 - an unreadable directory or file is a clean error
        raise ExitError(EXIT_ERROR, str(e) or type(e).__name__) from None
    if fmt == "json":
        import json

        _write_out(json.dumps(rep) + "\n")
    else:
        _write_out(chain_mod.render(rep))
    if verify and not rep["ok"]:
        raise ExitError(EXIT_ERROR, f"snapshot chain verification failed: {len(rep['problems'])} problem(s) found")
    return 0


def restore_flags(data_dir_usage: str, required: bool = False) -> list[Flag]:
    """`snapshot restore`'s flags; etcdutl requires --data-dir (our --output-dir may stand in), etcdctl does not."""
    return [
        Flag.string("data-dir", "", data_dir_usage, required=required, required_unless="output-dir"),
        Flag.string("wal-dir", "", "Path to the WAL directory (use --data-dir if none given)"),
        Flag.string(
            "initial-cluster", "default=http://localhost:2380", "Initial cluster configuration for restore bootstrap"
        ),
        Flag.string(
            "initial-cluster-token",
            "etcd-cluster",
            "Initial cluster token for the etcd cluster during restore bootstrap",
        ),
        Flag.string(
            "initial-advertise-peer-urls",
            "http://localhost:2380",
            "List of this member's peer URLs to advertise to the rest of the cluster",
        ),
        Flag.string("name", "default", "Human-readable name for this member"),
        Flag.bool(
            "skip-hash-check", False, "Ignore snapshot integrity hash value (required if copied from data directory)"
        ),
        # etcdutl 3.5.10+ flags and our own; hidden so that --help equals etcdutl 3.5.1's byte for byte.
        Flag.int(
            "bump-revision", 0, "How much to increase the latest revision after restore", kind="uint64", hidden=True
        ),
        Flag.bool(
            "mark-compacted",
            False,
            "Mark the latest revision after restore as the point of scheduled "
            "compaction (required if --bump-revision > 0, disallowed otherwise)",
            hidden=True,
        ),
        Flag.int(
            "initial-memory-map-size",
            0,
            "Initial memory map size of the database in bytes (accepted; no effect)",
            kind="uint64",
            hidden=True,
        ),
        Flag.string(
            "output-dir", "", "Restore every member of --initial-cluster into <output-dir>/<name>.etcd", hidden=True
        ),
        Flag.int(
            "to-revision",
            0,
            "With a `snapshot follow` directory: restore the store as it was at this revision (default: newest)",
            kind="int64",
            hidden=True,
        ),
        Flag.string(
            "to-time",
            "",
            "With a `snapshot follow` directory: restore the newest revision follow had received at this RFC 3339 time",
            hidden=True,
        ),
    ]


def run_snapshot_restore(ctx: Context, _legacy_stack: str = "") -> int:
    """SnapshotRestoreCommandFunc (+ --output-dir): zap log lines on stderr, nothing on stdout."""
    if len(ctx.args) != 1:
        raise ExitError(EXIT_BAD_ARGS, "snapshot restore requires exactly one argument")
    bump, mark = ctx.get("bump-revision"), ctx.get("mark-compacted")
    if (bump == 0 and mark) or (bump > 0 and not mark):
        raise ExitError(EXIT_BAD_ARGS, "--mark-compacted required if --revision-bump > 0")
    from etcdctl_py.snapshot import restore as rs

    cfg = rs.RestoreConfig(
        snapshot_path=ctx.args[0],
        name=ctx.get("name"),
        data_dir=ctx.get("data-dir"),
        wal_dir=ctx.get("wal-dir"),
        initial_cluster=ctx.get("initial-cluster"),
        initial_cluster_token=ctx.get("initial-cluster-token"),
        peer_urls=ctx.get("initial-advertise-peer-urls"),
        skip_hash_check=ctx.get("skip-hash-check"),
        revision_bump=bump,
        mark_compacted=mark,
    )
    from etcdctl_py.snapshot import progress as progress_mod

    chain_dir = _is_chain_dir(cfg.snapshot_path)
    if not chain_dir and (ctx.get("to-revision") or ctx.get("to-time")):
        raise ExitError(EXIT_BAD_ARGS, "--to-revision and --to-time need a `snapshot follow` directory")
    bar = None if chain_dir else progress_mod.open_bar(progress_mod.file_size(cfg.snapshot_path))
    log = rs.ZapLogger(bar.writer(sys.stderr) if bar else sys.stderr)
    try:
        if ctx.get("output-dir") and (ctx.get("wal-dir") or ctx.get("data-dir")):
            raise ExitError(EXIT_BAD_ARGS, "--output-dir cannot be combined with --data-dir or --wal-dir")
        if chain_dir:
            from etcdctl_py.snapshot import pitr

            pitr.restore(
                cfg,
                cfg.snapshot_path,
                to_revision=ctx.get("to-revision"),
                to_time=ctx.get("to-time"),
                output_dir=ctx.get("output-dir"),
                log=log,
            )
        elif ctx.get("output-dir"):
            rs.restore_all(cfg, ctx.get("output-dir"), log, bar.stage if bar else None)
        else:
            rs.restore(cfg, log, bar.stage if bar else None)
    except rs.RestoreError as e:
        raise ExitError(EXIT_ERROR, str(e)) from None
    except KeyboardInterrupt:
        raise ExitError(130, "interrupted") from None
    except OSError as e:
        from etcdctl_py.storage.fileutil import go_path_error

        raise ExitError(EXIT_ERROR, go_path_error("write", e.filename or "", e)) from None
    finally:
        if bar:
            bar.close()
    return 0


# --------------------------------------------------------------------------- etcdutl's commands


def _run_restore(ctx: Context) -> int:
    return run_snapshot_restore(ctx)


def _run_save(ctx: Context) -> int:
    raise ExitError(EXIT_BAD_ARGS, "In order to download snapshot use: `etcdctl snapshot save ...`")


def _run_version(ctx: Context) -> int:
    sys.stdout.write(f"etcdutl version: {VERSION}\nAPI version: {API_VERSION}\n")
    return 0


def _run_defrag(ctx: Context) -> int:
    data_dir = ctx.get("data-dir")
    from etcdctl_py.snapshot import defrag as defrag_mod

    try:
        defrag_mod.defrag_data_dir(data_dir)
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - reported like etcdutl's DefragData failure
        raise ExitError(EXIT_ERROR, f"Failed to defragment etcd data[{data_dir}] ({e})") from None
    return 0


def _run_backup(ctx: Context) -> int:
    from etcdctl_py.snapshot import backup as backup_mod

    return backup_mod.run_cli(
        data_dir=ctx.get("data-dir"),
        backup_dir=ctx.get("backup-dir"),
        wal_dir=ctx.get("wal-dir"),
        backup_wal_dir=ctx.get("backup-wal-dir"),
        with_v3=ctx.get("with-v3"),
    )


def build_root() -> Command:
    root = Command(
        "etcdutl",
        short="An administrative command line tool for etcd3.",
        suggest_for=["etcdutl"],
        persistent_flags=[
            Flag.string("write-out", "simple", "set the output format (fields, json, protobuf, simple, table)", "w")
        ],
    )
    backup = Command(
        "backup",
        short="[legacy] offline backup of etcd directory",
        long="Prefer: `etcdctl snapshot save` instead.",
        run=_run_backup,
        flags=[
            Flag.string("data-dir", "", "Path to the etcd data dir", required=True),
            Flag.string("wal-dir", "", "Path to the etcd wal dir"),
            Flag.string("backup-dir", "", "Path to the backup dir", required=True),
            Flag.string("backup-wal-dir", "", "Path to the backup wal dir"),
            Flag.bool("with-v3", True, "Backup v3 backend data"),
        ],
    )
    defrag = Command(
        "defrag",
        short="Defragments the storage of the etcd",
        run=_run_defrag,
        flags=[
            Flag.string("data-dir", "", "Required. Defragments a data directory not in use by etcd.", required=True),
        ],
    )
    snapshot = Command("snapshot <subcommand>", short="Manages etcd node snapshots")
    save = Command(
        "save <filename>",
        short="Stores an etcd node backend snapshot to a given file",
        hidden=True,
        run=_run_save,
        deprecated="Use `etcdctl snapshot save` to download snapshot",
        disable_flags_in_use_line=True,
    )
    restore = Command(
        "restore <filename> --data-dir {output dir} [options]",
        short="Restores an etcd member snapshot to an etcd directory",
        run=_run_restore,
        flags=restore_flags("Path to the output data directory", required=True),
    )
    status = Command(
        "status <filename>",
        short="Gets backend snapshot status of a given file",
        long="When --write-out is set to simple, this command prints out comma-separated status lists "
        "for each endpoint.\nThe items in the lists are hash, revision, total keys, total size.\n",
        run=run_snapshot_status,
        flags=status_flags(),
    )
    snapshot.add(save, restore, status)
    version = Command("version", short="Prints the version of etcdutl", run=_run_version)
    root.add(backup, defrag, snapshot, version)
    return root


def execute(root: Command, argv: list[str]) -> int:
    """Run etcdutl's command line: cobra with its default template; errors printed once more by etcdutl's main."""
    return cobra.execute(root, argv, version=VERSION, api_version=API_VERSION, template=cobra.DefaultTemplate)


def main(argv: list[str] | None = None) -> int:
    """Console script `etcdutl-py`."""
    open_missing_std_streams()
    try:
        code = execute(build_root(), sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = EXIT_SIGPIPE
    if argv is None:
        if code == EXIT_SIGPIPE:
            die_by_sigpipe()
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
