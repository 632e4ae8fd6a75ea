"""`etcdctl-py completion bash|zsh|fish|powershell`: print a shell completion script (etcdctl 3.6's verb).

etcdctl 3.5.1 has no such verb, so root.py registers it hidden (out of COMMANDS and "Did you mean this?") and
matched by its full name only (`etcdctl-py comp` stays compaction, as in 3.5.1). The script is generated from
the live command tree by etcdctl_py.docgen, the same code that writes the committed completions/ directory: this
verb checks its arguments, then runs docgen's entry point (`python -m etcdctl_py.docgen --completion SHELL`) in its
place, so the command line never imports the generator that reads it.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_ERROR, ExitError

SHELLS = ("bash", "zsh", "fish", "powershell")
PROGRAMS = ("etcdctl-py", "etcdutl-py", "etcd-py")

LONG = """Prints a completion script for bash, zsh, fish or PowerShell: verbs, sub-verbs, flags and flag values.

  bash:        source <(etcdctl-py completion bash)
  zsh:         etcdctl-py completion zsh > "${fpath[1]}/_etcdctl-py"
  fish:        etcdctl-py completion fish > ~/.config/fish/completions/etcdctl-py.fish
  PowerShell:  etcdctl-py completion powershell | Out-String | Invoke-Expression

--program etcdutl-py or --program etcd-py prints the script for those commands instead.
The same scripts are in completions/ of the source tree, and every command has a man page
in man/ (for example: man -l man/etcdctl-py-get.1, or man etcdctl-py-get once installed).
"""


def command() -> Command:
    return Command(
        "completion <bash|zsh|fish|powershell>",
        short="Prints a shell completion script",
        long=LONG,
        run=run,
        hidden=True,
        exact_name_only=True,
        flags=[Flag.string("program", "etcdctl-py", "the command to complete: etcdctl-py, etcdutl-py or etcd-py")],
    )


def run(ctx: Context) -> NoReturn:
    if len(ctx.args) != 1 or ctx.args[0] not in SHELLS:
        raise ExitError(EXIT_BAD_ARGS, "completion needs one argument: bash, zsh, fish or powershell")
    program = ctx.get("program")
    if program not in PROGRAMS:
        raise ExitError(EXIT_BAD_ARGS, f"unknown --program {program!r}: etcdctl-py, etcdutl-py or etcd-py")
    # The scripts come from every program's command tree, which only docgen, the layer above the trees, reads:
    # docgen's own entry point prints the script, in this process's place.
    argv = [sys.executable, "-m", "etcdctl_py.docgen", "--completion", ctx.args[0], "--program", program]
    sys.stdout.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as e:
        raise ExitError(EXIT_ERROR, f"cannot run {' '.join(argv[1:])}: {e.strerror}") from None
