"""`etcdutl-py`: the offline etcd tool (snapshot status/restore, defrag --data-dir, backup, version), etcdutl 3.5.1.

etcdutl uses cobra's *default* templates (help = usage: `Usage:` / `Available Commands:` / `Flags:` /
`Global Flags:`, pflag's column layout) rather than etcdctl's NAME/USAGE/OPTIONS template, so this module renders
those itself on top of the lead's Command/Flag model and pflag parser in `cobra.py`; it also implements cobra's
required flags and deprecated commands, which etcdutl uses and etcdctl does not.

Beyond etcdutl 3.5.1 (flags hidden from help so the help stays byte-identical): `snapshot restore
--bump-revision N --mark-compacted` (etcdutl 3.5.10+), `--initial-memory-map-size` (accepted, no effect) and
`--output-dir DIR` (restore every member of --initial-cluster into DIR/<name>.etcd); `snapshot status --verify`
(a full structural check with a report). See etcdctl_py/snapshot/EXTRAS.md.
"""

from __future__ import annotations

import sys

from etcdctl_py.cli import cobra
from etcdctl_py.cli.cobra import Command, Context, ExitError, Flag

VERSION = "3.5.1"
API_VERSION = "3.5"

OUTPUT_FORMATS = ("fields", "json", "protobuf", "simple", "table")

# etcdctl_py/cli/snapshot.py (etcdctl's deprecated `snapshot restore`) still passes this to run_snapshot_restore.
# The restore log used to copy the Go stack the 3.5.1 binaries log there; it no longer does (see restore.py).
ETCDCTL_RESTORE_STACK = ""


# --------------------------------------------------------------------------- shared command bodies


def check_output_format(fmt: str) -> None:
    """etcdutl's NewPrinter: unknown formats fail before any work (exit 4)."""
    if fmt not in OUTPUT_FORMATS:
        raise ExitError(cobra.EXIT_BAD_FEATURE, "unsupported output format")


def status_flags() -> list[Flag]:
    """Our extra `snapshot status` flag, hidden so that --help equals 3.5.1's byte for byte."""
    return [Flag.bool("verify", False, "Full structural check of the file (every page, checksums, key order, "
                                       "sha256 trailer) with a report; exit 1 when problems are found", hidden=True)]


def _write_out(out: str | bytes) -> None:
    if isinstance(out, bytes):
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.write(out)
    sys.stdout.flush()


def run_snapshot_status(ctx: Context) -> int:
    """SnapshotStatusCommandFunc: one argument, printer checked, status computed, then printed (or --verify)."""
    if len(ctx.args) != 1:
        raise ExitError(cobra.EXIT_BAD_ARGS, "snapshot status requires exactly one argument")
    fmt = ctx.get("write-out")
    check_output_format(fmt)
    path = ctx.args[0]
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
        raise ExitError(cobra.EXIT_ERROR, str(e) or type(e).__name__) from None
    finally:
        if bar:
            bar.close()
    if fmt == "protobuf":
        raise ExitError(cobra.EXIT_BAD_FEATURE, "protobuf not supported as output format")
    from etcdctl_py.output import snapshot_status

    _write_out(snapshot_status.render(st, fmt))
    return 0


def _run_verify(path: str, fmt: str) -> int:
    """`snapshot status --verify`: the report on stdout (JSON with -w json); problems end in `Error:`, exit 1."""
    if fmt == "protobuf":
        raise ExitError(cobra.EXIT_BAD_FEATURE, "protobuf not supported as output format")
    from etcdctl_py.snapshot import progress as progress_mod
    from etcdctl_py.snapshot import status as status_mod

    bar = progress_mod.open_bar(progress_mod.file_size(path))
    try:
        rep = status_mod.verify(path, progress=bar.stage if bar else None)
    except Exception as e:  # noqa: BLE001 - verify reports damage itself; anything else is still a clean error
        raise ExitError(cobra.EXIT_ERROR, str(e) or type(e).__name__) from None
    finally:
        if bar:
            bar.close()
    if not rep.opened:  # not a file we can read at all: the same error line as plain `status`
        raise ExitError(cobra.EXIT_ERROR, rep.problems[0])
    _write_out(rep.to_json() if fmt == "json" else rep.render())
    if not rep.ok:
        raise ExitError(cobra.EXIT_ERROR, f"snapshot file verification failed: {len(rep.problems)} problem(s) found")
    return 0


def restore_flags(data_dir_usage: str) -> list[Flag]:
    return [
        Flag.string("data-dir", "", data_dir_usage),
        Flag.string("wal-dir", "", "Path to the WAL directory (use --data-dir if none given)"),
        Flag.string("initial-cluster", "default=http://localhost:2380", "Initial cluster configuration for restore bootstrap"),
        Flag.string("initial-cluster-token", "etcd-cluster", "Initial cluster token for the etcd cluster during restore bootstrap"),
        Flag.string("initial-advertise-peer-urls", "http://localhost:2380", "List of this member's peer URLs to advertise to the rest of the cluster"),
        Flag.string("name", "default", "Human-readable name for this member"),
        Flag.bool("skip-hash-check", False, "Ignore snapshot integrity hash value (required if copied from data directory)"),
        # etcdutl 3.5.10+ flags and our own; hidden so that --help equals etcdutl 3.5.1's byte for byte.
        Flag.int("bump-revision", 0, "How much to increase the latest revision after restore", kind="uint64", hidden=True),
        Flag.bool("mark-compacted", False, "Mark the latest revision after restore as the point of scheduled compaction "
                  "(required if --bump-revision > 0, disallowed otherwise)", hidden=True),
        Flag.int("initial-memory-map-size", 0, "Initial memory map size of the database in bytes (accepted; no effect)",
                 kind="uint64", hidden=True),
        Flag.string("output-dir", "", "Restore every member of --initial-cluster into <output-dir>/<name>.etcd",
                    hidden=True),
    ]


def run_snapshot_restore(ctx: Context, _legacy_stack: str = "") -> int:
    """SnapshotRestoreCommandFunc (+ --output-dir): zap log lines on stderr, nothing on stdout."""
    if len(ctx.args) != 1:
        raise ExitError(cobra.EXIT_BAD_ARGS, "snapshot restore requires exactly one argument")
    bump, mark = ctx.get("bump-revision"), ctx.get("mark-compacted")
    if (bump == 0 and mark) or (bump > 0 and not mark):
        raise ExitError(cobra.EXIT_BAD_ARGS, "--mark-compacted required if --revision-bump > 0")
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

    bar = progress_mod.open_bar(progress_mod.file_size(cfg.snapshot_path))
    log = rs.ZapLogger(bar.writer(sys.stderr) if bar else sys.stderr)
    try:
        if ctx.get("output-dir"):
            if ctx.get("wal-dir") or ctx.get("data-dir"):
                raise ExitError(cobra.EXIT_BAD_ARGS, "--output-dir cannot be combined with --data-dir or --wal-dir")
            rs.restore_all(cfg, ctx.get("output-dir"), log, bar.stage if bar else None)
        else:
            rs.restore(cfg, log, bar.stage if bar else None)
    except rs.RestoreError as e:
        raise ExitError(cobra.EXIT_ERROR, str(e)) from None
    except KeyboardInterrupt:
        raise ExitError(130, "interrupted") from None
    except OSError as e:
        from etcdctl_py.storage.fileutil import go_path_error

        raise ExitError(cobra.EXIT_ERROR, go_path_error("write", e.filename or "", e)) from None
    finally:
        if bar:
            bar.close()
    return 0


# --------------------------------------------------------------------------- etcdutl's commands


def _run_restore(ctx: Context) -> int:
    return run_snapshot_restore(ctx)


def _run_save(ctx: Context) -> int:
    raise ExitError(cobra.EXIT_BAD_ARGS, "In order to download snapshot use: `etcdctl snapshot save ...`")


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
        raise ExitError(cobra.EXIT_ERROR, f"Failed to defragment etcd data[{data_dir}] ({e})") from None
    return 0


def _run_backup(ctx: Context) -> int:
    from etcdctl_py.snapshot import backup as backup_mod

    return backup_mod.run_cli(
        data_dir=ctx.get("data-dir"), backup_dir=ctx.get("backup-dir"), wal_dir=ctx.get("wal-dir"),
        backup_wal_dir=ctx.get("backup-wal-dir"), with_v3=ctx.get("with-v3"))


REQUIRED: dict[int, list[str]] = {}


def _require(cmd: Command, *names: str) -> Command:
    """cobra's MarkFlagRequired."""
    REQUIRED[id(cmd)] = list(names)
    return cmd


DEPRECATED: dict[int, str] = {}
# A required flag that another (our own) flag may replace: `restore --output-dir` needs no --data-dir.
ALTERNATIVES = {"data-dir": "output-dir"}


def build_root() -> Command:
    root = Command("etcdutl", short="An administrative command line tool for etcd3.", suggest_for=["etcdutl"],
                   persistent_flags=[Flag.string("write-out", "simple",
                                                 "set the output format (fields, json, protobuf, simple, table)", "w")])
    backup = _require(Command("backup", short="[legacy] offline backup of etcd directory",
                              long="Prefer: `etcdctl snapshot save` instead.", run=_run_backup, flags=[
                                  Flag.string("data-dir", "", "Path to the etcd data dir"),
                                  Flag.string("wal-dir", "", "Path to the etcd wal dir"),
                                  Flag.string("backup-dir", "", "Path to the backup dir"),
                                  Flag.string("backup-wal-dir", "", "Path to the backup wal dir"),
                                  Flag.bool("with-v3", True, "Backup v3 backend data"),
                              ]), "data-dir", "backup-dir")
    defrag = _require(Command("defrag", short="Defragments the storage of the etcd", run=_run_defrag, flags=[
        Flag.string("data-dir", "", "Required. Defragments a data directory not in use by etcd."),
    ]), "data-dir")
    snapshot = Command("snapshot <subcommand>", short="Manages etcd node snapshots")
    save = Command("save <filename>", short="Stores an etcd node backend snapshot to a given file", hidden=True,
                   run=_run_save)
    DEPRECATED[id(save)] = "Use `etcdctl snapshot save` to download snapshot"
    restore = _require(Command("restore <filename> --data-dir {output dir} [options]",
                               short="Restores an etcd member snapshot to an etcd directory", run=_run_restore,
                               flags=restore_flags("Path to the output data directory")), "data-dir")
    status = Command("status <filename>", short="Gets backend snapshot status of a given file",
                     long="When --write-out is set to simple, this command prints out comma-separated status lists "
                          "for each endpoint.\nThe items in the lists are hash, revision, total keys, total size.\n",
                     run=run_snapshot_status, flags=status_flags())
    snapshot.add(save, restore, status)
    version = Command("version", short="Prints the version of etcdutl", run=_run_version)
    root.add(backup, defrag, snapshot, version)
    return root


# --------------------------------------------------------------------------- cobra's default templates


_PFLAG_TYPE = {"string": "string", "int": "int", "int64": "int", "uint": "uint", "uint64": "uint",
               "duration": "duration", "stringSlice": "strings", "stringArray": "stringArray", "bool": ""}


def pflag_usages(flags: list[Flag], hidden: bool = False) -> str:
    """pflag FlagSet.FlagUsages(): sorted, `  -w, --name type` column padded to the longest, then the usage. With
    `hidden`, only the hidden flags (our extras) instead of the visible ones."""
    lines = []
    maxlen = 0
    for f in sorted(flags, key=lambda f: f.name):
        if f.hidden != hidden or f.deprecated:
            continue
        line = f"  -{f.shorthand}, --{f.name}" if f.shorthand else f"      --{f.name}"
        varname = _PFLAG_TYPE.get(f.kind, f.kind)
        if varname:
            line += " " + varname
        if f.no_opt_default is not None and f.kind != "bool":
            line += f'[="{f.no_opt_default}"]' if f.kind == "string" else f"[={f.no_opt_default}]"
        line += "\0"
        maxlen = max(maxlen, len(line))
        line += f.usage
        if not _zero_default(f):
            line += f' (default "{f.def_value}")' if f.kind == "string" else f" (default {f.def_value})"
        lines.append(line)
    out = []
    for line in lines:
        sidx = line.index("\0")
        out.append(line[:sidx] + " " + " " * (maxlen - sidx) + " " + line[sidx + 1:] + "\n")
    return "".join(out)


def _zero_default(f: Flag) -> bool:
    if f.kind == "bool":
        return not f.default
    if f.kind == "string":
        return f.default == ""
    if f.kind in ("stringSlice", "stringArray"):
        return not f.default
    return f.default == 0


def _available(c: Command) -> bool:
    if c.hidden or id(c) in DEPRECATED:
        return False
    return c.runnable or any(_available(s) for s in c.commands)


def _name_padding(c: Command) -> int:
    if c.parent is None:
        return 11
    return max(11, max(len(s.name) for s in c.parent.commands))


def usage_text(cmd: Command, help_flag: bool = True, extras: bool = False) -> str:
    """cobra 1.1.3's default usage template (etcdutl sets the help template to `{{.UsageString}}`).

    `help_flag=False`: cobra had not yet added -h/--help to the command (the `help <unknown>` path).
    `extras` (ETCDCTL_PY_EXTRAS=1): an `Extra Flags:` section with the command's hidden flags, after its own.
    """
    subs = [c for c in cmd.sorted_commands() if _available(c) or c.name == "help"]
    has_subs = any(_available(c) for c in cmd.commands)
    s = "Usage:"
    if cmd.runnable:
        s += "\n  " + cmd.use_line()
    if has_subs:
        s += f"\n  {cmd.command_path()} [command]"
    if has_subs:
        s += "\n\nAvailable Commands:"
        for c in subs:
            s += "\n  " + c.name.ljust(_name_padding(c)) + " " + c.short
    local = [f for f in cmd.local_flags() if not f.hidden and (help_flag or f.name != "help")]
    if local:
        s += "\n\nFlags:\n" + pflag_usages(local).rstrip()
    hidden = pflag_usages(cmd.local_flags(), hidden=True) if extras else ""
    if hidden:
        s += f"\n\nExtra Flags (etcdutl-py, not in etcdutl {VERSION}):\n" + hidden.rstrip()
    inherited = [f for f in cmd.inherited_flags() if not f.hidden]
    if inherited:
        s += "\n\nGlobal Flags:\n" + pflag_usages(inherited).rstrip()
    if has_subs:
        s += f'\n\nUse "{cmd.command_path()} [command] --help" for more information about a command.'
    return s + "\n"


# --------------------------------------------------------------------------- execution (cobra ExecuteC + main)


def _write(stream, text: str) -> None:  # noqa: ANN001
    stream.write(text)
    stream.flush()


def _help_command(root: Command) -> Command:
    def run_help(ctx: Context) -> int:
        target, rest = cobra.find_command(root, ctx.args)
        words = cobra.strip_flags(rest, {f.name: f for f in target.all_flags()})
        if target.parent is None and words == ["extras"]:  # ours: etcdutl has no such topic
            _write(sys.stdout, cobra.extras_text(root, "etcdutl-py", f"etcdutl {VERSION}",
                                                 lambda c: id(c) in DEPRECATED))
            return 0
        if target.parent is None and target.commands and words:
            _write(sys.stderr, "Unknown help topic [" + " ".join(f"`{a}`" for a in ctx.args) + "]\n")
            _write(sys.stderr, usage_text(root, help_flag=False))
            return 0
        _write(sys.stdout, usage_text(target, extras=cobra.extras_wanted()))
        return 0

    return Command("help [command]", short="Help about any command",
                   long="Help provides help for any command in the application.\n"
                        "Simply type etcdutl help [path to command] for full details.",
                   run=run_help, is_help_command=True)


def execute(root: Command, argv: list[str]) -> int:
    """Find, parse, validate and run like cobra 1.1.3; errors also printed once more by etcdutl's main."""
    if not any(c.is_help_command for c in root.commands):
        root.add(_help_command(root))
    cmd, rest = cobra.find_command(root, argv)
    words = cobra.strip_flags(rest, {f.name: f for f in cmd.all_flags()})
    if cmd.parent is None and words:
        sugg = [c.name for c in root.commands if _available(c) and
                (cobra.levenshtein(words[0].lower(), c.name.lower()) <= 2 or c.name.startswith(words[0]))]
        msg = f'unknown command "{words[0]}" for "{cmd.command_path()}"'
        if sugg:
            msg += "\n\nDid you mean this?\n" + "".join(f"\t{s}\n" for s in sugg)
        _write(sys.stderr, f"Error: {msg}\nRun '{cmd.command_path()} --help' for usage.\n")
        _write(sys.stderr, f"Error: {msg}\n")
        return cobra.EXIT_ERROR
    if id(cmd) in DEPRECATED:
        _write(sys.stderr, f'Command "{cmd.name}" is deprecated, {DEPRECATED[id(cmd)]}\n')

    def fail(msg: str) -> int:
        _write(sys.stderr, f"Error: {msg}\n")
        _write(sys.stderr, usage_text(cmd) + "\n")
        _write(sys.stderr, f"Error: {msg}\n")
        return cobra.EXIT_ERROR

    try:
        ctx = cobra.parse_flags(cmd, rest)
    except cobra.HelpRequested:
        _write(sys.stdout, usage_text(cmd, extras=cobra.extras_wanted()))
        return 0
    except cobra.FlagError as e:
        return fail(str(e))
    if ctx.values.get("help") or not cmd.runnable:
        _write(sys.stdout, usage_text(cmd, extras=cobra.extras_wanted()))
        return 0
    missing = [n for n in sorted(REQUIRED.get(id(cmd), []))
               if not ctx.changed(n) and not (n in ALTERNATIVES and ctx.flags.get(ALTERNATIVES[n]) is not None
                                              and ctx.changed(ALTERNATIVES[n]))]
    if missing:
        return fail("required flag(s) " + ", ".join(f'"{n}"' for n in missing) + " not set")
    ctx.version, ctx.api_version = VERSION, API_VERSION
    return cobra.run_command(cmd, ctx)


def main(argv: list[str] | None = None) -> int:
    """Console script `etcdutl-py`."""
    try:
        code = execute(build_root(), sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 1
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
