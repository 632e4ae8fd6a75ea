"""txn through real etcdctl 3.5.1 and etcdctl-py on twin servers: every format, -i prompts, the stdin
grammar and its errors. Cases where etcdctl panics are checked against our documented Error line."""

from __future__ import annotations

import pytest

from tests.cli.verbdiff import Diff

FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def d(twin_pair):
    d = Diff(twin_pair)
    for args in (["put", "user1", "bad"], ["put", "user2", "u2"], ["put", "user3", "u3"]):
        d.check(args)
    return d


SCRIPTS = [
    'value("user1") = "bad"\n\nput user1 good\nget user2\ndel user2 --prev-kv\n\nput user1 fail\n\n',
    'ver("user1") > "0"\n\nget user1\nput user2 x4 --prev-kv\ndel user3 --prev-kv\n\n\n',
    'ver("user1") = "0"\n\n\nget nonexist\n\n',
    'create("user1") != "0"\nmod("user1") < "1000"\nversion("user1") > "0"\nc("user1") > "0"\nm("user1") > "0"'
    '\nval("user1") != "x"\n\nget user --prefix --keys-only\nget user1 --rev 1\n\n\n',
    "\n\n\n",
    '\nput "sp ace" "line\\nbreak é"\nget "sp ace" -w json\n\n\n',
    "\np k1 v\ng k1\nd k1\n\n\n",
    "\nput k2 v --lease 0\nget k --prefix --count-only\n"
    "get k --prefix --limit 1 --order DESCEND --sort-by MODIFY\n\n\n",
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("script", SCRIPTS, ids=range(len(SCRIPTS)))
def test_txn_formats(d, script, fmt):
    d.check(["txn", "-w", fmt], stdin=script.encode())


def test_txn_interactive_prompts(d):
    d.check(["txn", "-i"], stdin=b'create("user1") = "0"\n\nput user1 y\n\nget user1\n\n')
    d.check(["txn", "--interactive"], stdin=b"\n\n")


def test_txn_hex(d):
    d.check(["txn", "--hex"], stdin=b'\nput hx "\\x01\\xff"\nget hx\n\n\n')


ERRORS = [
    'value(user1) = "y"\n',
    'value("user1")="good"\n',
    'value("user1") = good\n',
    'value("unterminated\n',
    'foo("a") = "1"\n',
    'ver("a") = "x"\n',
    "nope\n",
    "\nput a b --bogus\n\n",
    "\nget a --bogus\n\n",
    "\ndel a -x\n\n",
    "\nfoo a b\n\n",
    "\nput a\n\n",
    "\nget\n\n",
    '\n"unterminated\n\n',
    "\nput k1 v\nput k1 w\n\n\n",
    "\n\n",
    "\n\n\nx",
    "",
    "\nget a --consistency x\n\n\n",
    "\nget a --prefix --from-key\n\n\n",
    "\nget a b --prefix\n\n\n",
    "\nput k v --lease zz\n\n\n",
    "\ndel\n\n\n",
    '\nput "bad\\q" v\n\n\n',
    "\nget nokey --rev 99999\n\n\n",
]


@pytest.mark.parametrize("script", ERRORS, ids=range(len(ERRORS)))
def test_txn_errors(d, script):
    d.check(["txn"], stdin=script.encode())


def test_txn_arguments_and_help(d):
    d.check(["txn", "extra"], stdin=b"\n\n\n")
    d.check(["txn", "--help"])
    d.check(["txn", "-i", "x"])


PANICS = [
    (
        'ver("user1") >= "1"\n\n\n\n',
        b'Error: malformed comparison: ver("user1") >= "1" (unknown operator >=; use =, !=, > or <)\n',
    ),
    ('lease("user1") = "1"\n\n\n\n', b'Error: lease comparisons are not supported in txn: lease("user1") = "1"\n'),
]


@pytest.mark.parametrize("script,expected", PANICS, ids=["ge-op", "lease"])
def test_txn_panic_cases_give_clear_errors(d, script, expected):
    """etcdctl 3.5.1 crashes here (Go panic, exit 2); we print a clear error and exit 3 without sending."""
    real, mine = d.run(["txn"], stdin=script.encode())
    assert real.rc == 2 and b"panic:" in real.stderr
    assert (mine.rc, mine.stdout, mine.stderr) == (3, b"", expected)


def test_txn_single_quotes_are_stripped(d):
    """etcdctl <= 3.5.27 mangles 'single quoted' tokens (here: it asks for the empty key); we strip the
    quotes like 3.5.28+. Read-only, so the twins stay identical."""
    real, mine = d.run(["txn"], stdin=b"\nget 'user1'\n\n\n")
    assert real.rc == 1 and b"key is not provided" in real.stderr
    assert mine.rc == 0 and mine.stderr == b"" and mine.stdout.startswith(b"SUCCESS\n\nuser1\n")
