"""The etcdctl v3 command tree: the root command, its global flags, and every verb in
etcdctl's registration order (which decides the order of "Did you mean this?" suggestions)."""

from __future__ import annotations

import importlib

from etcdctl_py.cli.cobra import Command
from etcdctl_py.cli.globals import GLOBAL_FLAGS

# etcdctl 3.5's AddCommand order. Each module under etcdctl_py.cli exposes `command() -> Command`.
VERB_MODULES = [
    "get", "put", "delete", "txn", "compaction", "alarm", "defrag", "endpoint", "move_leader", "watch",
    "version", "lease", "member", "snapshot", "make_mirror", "lock", "elect", "auth", "user", "role", "check",
]


def build_root() -> Command:
    root = Command("etcdctl", short="A simple command line client for etcd3.", persistent_flags=list(GLOBAL_FLAGS),
                   suggest_for=["etcdctl"])
    for name in VERB_MODULES:
        try:
            mod = importlib.import_module(f"etcdctl_py.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"etcdctl_py.cli.{name}":
                continue  # verb not built yet
            raise
        root.add(mod.command())
    return root
