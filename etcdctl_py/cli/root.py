"""The etcdctl v3 command tree: the root command, its global flags, and every verb in
etcdctl's registration order (which decides the order of "Did you mean this?" suggestions)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from etcdctl_py.cli.cobra import Command, LazyCommand
from etcdctl_py.cli.globals import GLOBAL_FLAGS

# etcdctl 3.5's AddCommand order. Each module under etcdctl_py.cli exposes `command() -> Command`.
VERB_MODULES = [
    "get",
    "put",
    "delete",
    "txn",
    "compaction",
    "alarm",
    "defrag",
    "endpoint",
    "move_leader",
    "watch",
    "version",
    "lease",
    "member",
    "snapshot",
    "make_mirror",
    "lock",
    "elect",
    "auth",
    "user",
    "role",
    "check",
]


def _command_name(module: str) -> str:
    return {"delete": "del"}.get(module, module.replace("_", "-"))


def _loader(module: str) -> Callable[[], Command]:
    def load() -> Command:
        return importlib.import_module(f"etcdctl_py.cli.{module}").command()

    return load


def build_root() -> Command:
    """The root with every verb registered lazily: only the verb being run is imported."""
    root = Command(
        "etcdctl",
        short="A simple command line client for etcd3.",
        persistent_flags=list(GLOBAL_FLAGS),
        suggest_for=["etcdctl"],
    )
    for name in VERB_MODULES:
        root.add(LazyCommand(_command_name(name), _loader(name)))
    # Not an etcdctl 3.5.1 verb (3.6 has it): hidden from help and suggestions, matched only by its full name.
    completion = LazyCommand("completion", _loader("completion"))
    completion.hidden = completion.exact_name_only = True
    root.add(completion)
    return root
