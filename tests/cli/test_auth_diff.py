"""auth / user / role through real etcdctl 3.5.1 and etcdctl-py on twin servers: every sub-command,
flag, format, prompt and error; auth is enabled and disabled at the end (with root credentials)."""

from __future__ import annotations

import signal

import pytest

from tests.cli.verbdiff import Diff, both

FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def d(twin_pair):
    return Diff(twin_pair)


def test_roles(d):
    steps = [
        ["role", "add", "reader"],
        ["role", "add", "writer", "-w", "json"],
        ["role", "add", "admin2", "-w", "fields"],
        ["role", "add", "p1", "-w", "protobuf"],
        ["role", "add", "t1", "-w", "table"],
        ["role", "add", "reader"],
        ["role", "grant-permission", "reader", "read", "/foo"],
        ["role", "grant-permission", "reader", "readwrite", "/a", "--prefix"],
        ["role", "grant-permission", "reader", "READ", "/pfx/", "--prefix", "-w", "json"],
        ["role", "grant-permission", "reader", "write", "/from", "--from-key", "-w", "fields"],
        ["role", "grant-permission", "reader", "read", "", "--prefix", "-w", "protobuf"],
        ["role", "grant-permission", "writer", "write", "/w", "/x"],
        ["role", "grant-permission", "writer", "Write", "/w2"],
        ["role", "grant-permission", "writer", "rw", "/w"],
        ["role", "grant-permission", "writer", "read"],
        ["role", "grant-permission", "writer", "read", "/k", "--prefix", "--from-key"],
        ["role", "grant-permission", "writer", "read", "", "--prefix", "--from-key"],
        ["role", "grant-permission", "writer", "read", "/k", "/l", "--prefix"],
        ["role", "grant-permission", "writer", "read", "/k", "/l", "--from-key"],
        ["role", "grant-permission", "nosuch", "read", "/k"],
        ["role", "grant-permission", "writer", "read", "/t", "-w", "table"],
    ]
    for args in steps:
        d.check(args)
    for fmt in FORMATS:
        d.check(["role", "get", "reader", "-w", fmt])
        d.check(["role", "get", "writer", "-w", fmt])
        d.check(["role", "list", "-w", fmt])
    d.check(["role", "get", "reader", "--hex"])
    revokes = [
        ["role", "revoke-permission", "reader", "/foo"],
        ["role", "revoke-permission", "reader", "/a", "--prefix", "-w", "json"],
        ["role", "revoke-permission", "reader", "/from", "--from-key", "-w", "fields"],
        ["role", "revoke-permission", "reader", "", "--prefix"],
        ["role", "revoke-permission", "writer", "/w", "/x", "-w", "protobuf"],
        ["role", "revoke-permission", "writer", "/nothere"],
        ["role", "revoke-permission", "writer"],
        ["role", "revoke-permission", "writer", "/k", "/l", "--prefix"],
        ["role", "revoke-permission", "writer", "/w2", "-w", "table"],
        ["role", "get", "reader"],
        ["role", "delete", "admin2"],
        ["role", "delete", "p1", "-w", "json"],
        ["role", "delete", "t1", "-w", "fields"],
        ["role", "delete", "nosuch"],
        ["role", "get", "nosuch"],
        ["role", "add"],
        ["role", "add", "a", "b"],
        ["role", "delete"],
        ["role", "get"],
        ["role", "list", "x"],
        ["role"],
        ["role", "nosub"],
    ]
    for args in revokes:
        d.check(args)


def test_users(d):
    steps = [
        (["user", "add", "alice:pw"], None),
        (["user", "add", "bob", "--new-user-password", "bpw", "-w", "json"], None),
        (["user", "add", "carol", "--interactive=false", "-w", "fields"], b"  cpw rest\n"),
        (["user", "add", "dave"], b"dpw\ndpw\n"),
        (["user", "add", "erin", "--no-password", "-w", "protobuf"], None),
        (["user", "add", "frank"], b"a\nb\n"),
        (["user", "add", "frank"], b"\n"),
        (["user", "add", "frank"], b""),
        (["user", "add", ":pw"], None),
        (["user", "add", "alice:pw"], None),
        (["user", "add"], None),
        (["user", "add", "x", "y"], None),
        (["user", "add", "gina:pw", "-w", "table"], None),
        (["user", "grant-role", "alice", "reader"], None),
        (["user", "grant-role", "alice", "writer", "-w", "json"], None),
        (["user", "grant-role", "bob", "reader", "-w", "fields"], None),
        (["user", "grant-role", "bob", "nosuch"], None),
        (["user", "grant-role", "bob"], None),
        (["user", "revoke-role", "bob", "reader", "-w", "protobuf"], None),
        (["user", "revoke-role", "bob", "reader"], None),
        (["user", "revoke-role", "bob"], None),
        (["user", "passwd", "bob"], b"n1\nn1\n"),
        (["user", "passwd", "bob", "--interactive=false", "-w", "json"], b"n2\n"),
        (["user", "passwd", "nosuch", "--interactive=false"], b"n2\n"),
        (["user", "passwd"], None),
        (["user", "delete", "gina"], None),
        (["user", "delete", "gina"], None),
        (["user", "delete"], None),
    ]
    for args, stdin in steps:
        d.check(args, stdin=stdin)
    for fmt in FORMATS:
        d.check(["user", "get", "alice", "-w", fmt])
        d.check(["user", "get", "alice", "--detail", "-w", fmt])
        d.check(["user", "list", "-w", fmt])
    for args in (["user", "get", "nosuch"], ["user", "get"], ["user", "list", "x"], ["user", "get", "bob", "--detail"]):
        d.check(args)


def test_auth_enable_status_disable(d):
    for fmt in FORMATS:
        d.check(["auth", "status", "-w", fmt])
    d.check(["auth", "enable"])  # no root user yet
    for args in (["auth", "enable", "x"], ["auth", "disable", "x"], ["auth", "status", "x"], ["auth"]):
        d.check(args)
    d.check(["user", "add", "root:rootpw"])
    d.check(["auth", "enable"])  # creates the root role, grants it, enables
    d.check(["auth", "status"])  # unauthenticated: permission denied? (either way identical)
    root = ["--user", "root:rootpw"]
    d.check(["auth", "status", "-w", "json", *root])
    d.check(["user", "list", *root])
    d.check(["get", "k", "--user", "alice:wrong"])
    d.check(["user", "get", "root", "--user", "root", "--password", "rootpw"])
    d.check(["auth", "disable", "--user", "alice:pw"])
    d.check(["auth", "disable", *root])
    d.check(["auth", "status"])


def test_signal_at_password_prompt(d):
    """SIGINT while `user add` asks for the password: no request is sent, the prompt's terminal echo is restored (its
    `stty` complaint without a terminal) and the process exits 255, as speakeasy's os.Exit(-1) makes etcdctl do."""
    procs = d.start(["user", "add", "interrupted"])
    both(procs, lambda p: bytes(p.out) == b"Password of interrupted: " and b"stty" in p.err, what="the prompt")
    for p in procs:  # stdin stays open until the process has ended: EOF would end the read another way
        p.p.send_signal(signal.SIGINT)
        p.p.wait(10)
    real, mine = (p.finish(None) for p in procs)
    assert real.rc == 255
    d.compare(["user", "add", "interrupted"], real, mine)
    d.check(["user", "get", "interrupted"])  # never created on either side
