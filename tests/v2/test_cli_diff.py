"""ETCDCTL_API=2: real etcdctl 3.5.1 vs etcdctl-py, each against its own real etcd 3.5.1
`--enable-v2` twin, same command sequence: identical stdout, stderr and exit code."""

from __future__ import annotations

import pytest

from tests.v2.cases import KEY_CASES

pytestmark = pytest.mark.usefixtures("cli_pair")


@pytest.mark.parametrize("args,opts", KEY_CASES, ids=[" ".join(a) or "noargs" for a, _ in KEY_CASES])
def test_key_commands(cli_pair, args, opts):
    r = cli_pair.same(args, stdin=opts.get("stdin", ""), env=opts.get("env"), unordered=opts.get("unordered", False))
    assert r.rc in (0, 1, 2, 4, 128)


def test_watch_one_event(cli_pair):
    r = cli_pair.watch_same(["watch", "/w/a"], [["set", "/w/a", "1"]])
    assert r.out == "1\n" and r.rc == 0


def test_watch_forever_recursive(cli_pair):
    r = cli_pair.watch_same(
        ["watch", "-f", "-r", "/w"],
        [["set", "/w/a", "2"], ["set", "/w/b", "3"], ["rm", "/w/b"], ["mkdir", "/w/d"]],
        sigint=True,
    )
    assert r.out == "[set] /w/a\n2\n[set] /w/b\n3\n[delete] /w/b\nPrevNode.Value: 3\n"


def test_watch_json_after_index(cli_pair):
    r = cli_pair.watch_same(["-o", "json", "watch", "--after-index", "1", "-r", "/w"], [])
    assert r.out.startswith("[set] /w/a\n{")


def test_watch_extended(cli_pair):
    r = cli_pair.watch_same(["-o", "extended", "watch", "/w/a"], [["set", "/w/a", "4"]])
    assert "PrevNode.Value: 2" in r.out


def test_exec_watch(cli_pair):
    cmd = [
        "exec-watch",
        "/w/a",
        "--",
        "sh",
        "-c",
        'echo "A=$ETCD_WATCH_ACTION I=$ETCD_WATCH_MODIFIED_INDEX K=$ETCD_WATCH_KEY V=$ETCD_WATCH_VALUE"',
    ]
    r = cli_pair.watch_same(cmd, [["set", "/w/a", "5"]], sigint=True)
    assert r.out.startswith("A=set I=") and r.rc == 0


def test_exec_watch_key_last(cli_pair):
    r = cli_pair.watch_same(
        ["exec-watch", "-r", "echo", "hi", "/w"], [["set", "/w/x", "6"], ["mkdir", "/w/dir2"]], sigint=True
    )
    assert r.out == "hi\n" and r.err == "Ignored dir /w/dir2 change\n"


def test_exec_watch_missing_args(cli_pair):
    r = cli_pair.same(["exec-watch", "/w/a"])
    assert r.rc == 128 and r.err == "Error:  key and command to exec required\n"


def test_watch_cleared_index(cli_pair):
    """After more than 1000 events an old --after-index is refused with etcd's 401 error on both sides."""
    import urllib.request

    for side in (cli_pair.a, cli_pair.b):
        for i in range(1005):
            req = urllib.request.Request(
                side.url + "/v2/keys/flood",
                data=f"value={i}".encode(),
                method="PUT",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            urllib.request.urlopen(req, timeout=30).read()
    r = cli_pair.same(["watch", "--after-index", "2", "/flood"])
    assert r.rc == 4 and "401: The event in requested index is outdated and cleared" in r.err
    r = cli_pair.same(["-o", "json", "watch", "--after-index", "2", "-r", "/"])
    assert r.rc == 4


MEMBER_CASES = [
    ["member", "list"],
    ["member", "list", "extra"],
    ["member", "add"],
    ["member", "add", "onlyname"],
    ["member", "remove"],
    ["member", "remove", "1234"],
    ["member", "remove", "twin"],
    ["member", "update", "1234", "http://127.0.0.1:1"],
    ["member", "update", "1234"],
    ["member", "update", "zz", "http://127.0.0.1:1"],
    ["member", "add", "n2", "notaurl"],
    ["member", "foo"],
    ["cluster-health"],
    ["cluster-health", "extra"],
    ["--debug", "member", "list"],
    ["--debug", "cluster-health"],
]


@pytest.mark.parametrize("args", MEMBER_CASES, ids=[" ".join(a) for a in MEMBER_CASES])
def test_member_commands(cli_pair, args):
    cli_pair.same(args)


AUTH_CASES: list[list[str]] = [
    ["user", "list"],
    ["role", "list"],
    ["auth", "enable"],
    ["user", "add", "root:rootpw"],
    ["user", "add", "alice:apw"],
    ["user", "add", "alice:apw"],
    ["user", "add"],
    ["user", "get", "alice"],
    ["user", "get", "nosuch"],
    ["user", "list"],
    ["user", "list", "x"],
    ["role", "add", "r1"],
    ["role", "add", "r1"],
    ["role", "add", "root"],
    ["role", "add"],
    ["role", "grant", "--path", "/foo/*", "--read", "r1"],
    ["role", "grant", "--path", "/foo/*", "--read", "r1"],
    ["role", "grant", "--path", "/bar", "--rw", "r1"],
    ["role", "grant", "--path", "bar", "--rw", "r1"],
    ["role", "grant", "--path", "/bar", "r1"],
    ["role", "grant", "--path", "/bar", "--read", "--write", "r1"],
    ["role", "grant", "--read", "r1"],
    ["role", "grant", "--path", "/x", "--write", "nosuchrole"],
    ["role", "get", "r1"],
    ["role", "get", "root"],
    ["role", "get", "nosuch"],
    ["role", "list"],
    ["user", "grant", "--roles", "r1", "alice"],
    ["user", "grant", "alice"],
    ["user", "grant", "--roles", "nosuch", "alice"],
    ["user", "get", "alice"],
    ["user", "revoke", "--roles", "r1", "alice"],
    ["user", "revoke", "--roles", "r1", "alice"],
    ["role", "revoke", "--path", "/bar", "--rw", "r1"],
    ["role", "revoke", "--path", "/bar", "--rw", "r1"],
    ["role", "revoke", "--path", "/zzz", "--write", "r1"],
    ["role", "remove", "r1"],
    ["role", "remove", "r1"],
    ["auth", "enable", "x"],
    ["auth", "enable"],
    ["get", "/k"],
    ["-u", "root:wrong", "get", "/k"],
    ["-u", "root:rootpw", "get", "/k"],
    ["-u", "alice:apw", "set", "/k", "v"],
    ["user", "list"],
    ["-u", "root:rootpw", "user", "list"],
    ["-u", "root:rootpw", "auth", "disable"],
    ["auth", "disable"],
    ["user", "remove", "alice"],
    ["user", "remove", "alice"],
    ["user", "remove", "root"],
]


@pytest.mark.parametrize("args", AUTH_CASES, ids=[" ".join(a) for a in AUTH_CASES])
def test_auth_commands(cli_pair, args):
    cli_pair.same(args)


def test_username_prompt(cli_pair):
    r = cli_pair.same(["-u", "root", "get", "/k"], stdin="rootpw\n")
    assert r.out.startswith("Password: ")


def test_user_passwd_prompt(cli_pair):
    cli_pair.same(["user", "add", "bob:bpw"])
    r = cli_pair.same(["user", "passwd", "bob"], stdin="newpw\n")
    assert "Password updated" in r.out
    cli_pair.same(["user", "add", "carol"], stdin="cpw\n")
    cli_pair.same(["user", "remove", "bob"])
    cli_pair.same(["user", "remove", "carol"])
