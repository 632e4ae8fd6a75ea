"""put/get/del/version through real etcdctl 3.5.1 and etcdctl-py, on twin servers: identical bytes.

Each step runs on both sides, so the two stores evolve identically; every step compares stdout,
stderr (timestamps masked) and the exit code.
"""

from __future__ import annotations

import pytest

FORMATS = ["simple", "json", "protobuf", "fields", "table"]

SETUP = [
    ["put", "foo", "bar"],
    ["put", "k1", "v1"],
    ["put", "k2", "v2"],
    ["put", "k3", "hello world"],
    ["put", "bin", 'line1\nline2 é "q" \\ \t tab'],
    ["put", "emptyval", ""],
    ["put", "r1", "1"],
    ["put", "r2", "2"],
    ["put", "r3", "3"],
]


@pytest.fixture(scope="module")
def kv(twin_pair):
    for args in SETUP:
        twin_pair.check(args)
    return twin_pair


GETS = [
    ["get", "foo"],
    ["get", "k", "--prefix"],
    ["get", "k", "--prefix", "--keys-only"],
    ["get", "k", "--prefix", "--print-value-only"],
    ["get", "k1", "k3"],
    ["get", "k", "--prefix", "--limit", "1"],
    ["get", "k", "--prefix", "--limit=2", "--order", "descend"],
    ["get", "k", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND"],
    ["get", "k", "--prefix", "--sort-by", "create"],
    ["get", "k", "--prefix", "--order", "ASCEND"],
    ["get", "", "--prefix", "--keys-only"],
    ["get", "k2", "--from-key"],
    ["get", "", "--from-key", "--limit", "2"],
    ["get", "nosuchkey"],
    ["get", "foo", "--rev", "1"],
    ["get", "foo", "--rev", "2"],
    ["get", "bin"],
    ["get", "emptyval"],
    ["get", "foo", "--consistency", "s"],
    ["get", "k", "--prefix", "--count-only"],
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", GETS, ids=lambda a: " ".join(a))
def test_get_formats(kv, args, fmt):
    kv.check([*args, "-w", fmt])


@pytest.mark.parametrize("args", GETS[:8], ids=lambda a: " ".join(a))
def test_get_hex(kv, args):
    for fmt in FORMATS:
        kv.check([*args, "--hex", "-w", fmt])


ERRORS = [
    ["get"],
    ["get", "k", "--prefix", "--from-key"],
    ["get", "k", "--keys-only", "--count-only"],
    ["get", "k", "--consistency", "x"],
    ["get", "k", "z", "--prefix"],
    ["get", "k", "--order", "up"],
    ["get", "k", "--sort-by", "size"],
    ["get", "k", "--count-only"],
    ["get", "k", "--print-value-only", "-w", "json"],
    ["get", "foo", "--rev", "999999"],
    ["get", "--limit", "abc", "k"],
    ["get", "-w"],
    ["get", "--rev"],
    ["get", "k", "--nosuchflag"],
    ["get", "k", "-x"],
    ["get", "k", "--prefix=maybe"],
    ["get", "foo", "-w", "xml"],
    ["get", "foo", "--dial-timeout", "3"],
    ["get", "foo", "--dial-timeout=abc"],
    ["put"],
    ["put", "foo", "x", "--ignore-value"],
    ["put", "nokey", "--ignore-value"],
    ["put", "foo", "bar", "--lease", "zz"],
    ["put", "foo", "bar", "--lease", "1234"],
    ["put", "", "v"],
    ["put", "dash", "-negative"],
    ["del"],
    ["del", "a", "b", "c"],
    ["del", "a", "--prefix", "--from-key"],
    ["del", "a", "b", "--prefix"],
    ["version", "extra", "args"],
    ["nosuchcommand"],
    ["g", "foo"],
    ["ge", "foo"],
    ["help", "get"],
    ["get", "--help"],
    ["get", "foo", "--cert", ""],
    ["get", "foo", "--cacert="],
    ["get", "foo", "--cert", "/nonexistent.pem", "--key", "/nonexistent.pem"],
]


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_errors_and_usage(kv, args):
    kv.check(args)


def test_put_del_sequence(kv):
    """Writes in every format, with prev-kv, ranges and prefixes: outputs and revisions stay identical."""
    steps = [
        ["put", "p1", "a"],
        ["put", "p1", "b", "--prev-kv"],
        ["put", "p1", "c", "--prev-kv", "-w", "json"],
        ["put", "p1", "d", "--prev-kv", "-w", "fields"],
        ["put", "p1", "e", "--prev-kv", "-w", "protobuf"],
        ["put", "p1", "f", "-w", "fields"],
        ["put", "p1", "g", "--prev-kv", "--hex"],
        ["put", "p1", "--ignore-value"],
        ["put", "p1", "h", "--ignore-lease"],
        ["put", "p2", "x", "-w", "table"],
        ["put", "dash", "--", "-negative"],
        ["put", "--", "dash2", "v"],
        ["put", "a", "b", "c", "d"],
        ["get", "p", "--prefix", "-w", "json"],
        ["del", "p1"],
        ["del", "p1"],
        ["del", "p2", "--prev-kv"],
        ["del", "r1", "r3", "--prev-kv"],
        ["del", "r", "--prefix", "--prev-kv", "--hex"],
        ["put", "d3", "x3"],
        ["del", "d3", "--prev-kv", "-w", "json"],
        ["del", "nothere", "-w", "json"],
        ["put", "d4", "x4"],
        ["del", "d4", "--prev-kv", "-w", "fields"],
        ["del", "nothere", "-w", "fields"],
        ["put", "d5", "x5"],
        ["del", "d5", "--prev-kv", "-w", "protobuf"],
        ["del", "d", "--prefix", "-w", "table"],
        ["del", "dash", "--from-key", "--prev-kv"],
        ["get", "", "--prefix", "-w", "json"],
    ]
    for args in steps:
        kv.check(args)


def test_put_value_from_stdin(kv):
    kv.check(["put", "stdinkey"], stdin=b"from stdin\n")
    kv.check(["get", "stdinkey", "-w", "json"])
    kv.check(["put", "stdinkey2"], stdin=b"")


ROOT_USAGE = [["--version"], ["e"], ["help", "nosuch"], ["--help"], []]


def _all_verbs_present() -> bool:
    import importlib

    from etcdctl_py.cli.root import VERB_MODULES

    for name in VERB_MODULES:
        try:
            importlib.import_module(f"etcdctl_py.cli.{name}")
        except ModuleNotFoundError:
            return False
    return True


@pytest.mark.parametrize("args", ROOT_USAGE, ids=lambda a: " ".join(a) or "(none)")
def test_root_usage(kv, args):
    """Cases that print the root usage or suggestions, whose text lists every verb.

    Until every verb module exists, the COMMANDS block and suggestions necessarily differ, so we
    compare everything else: exit code, the OPTIONS part of stdout, and the first stderr line.
    """
    if _all_verbs_present():
        kv.check(args)
        return
    real, mine = kv.run(args)
    assert mine.rc == real.rc
    assert mine.stdout.partition(b"OPTIONS:")[2] == real.stdout.partition(b"OPTIONS:")[2]
    assert mine.stderr.split(b"\n")[0] == real.stderr.split(b"\n")[0]
