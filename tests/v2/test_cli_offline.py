"""ETCDCTL_API=2 behaviour that needs no live server (or a dead one): help texts, parse errors,
version, unknown commands, unreachable endpoints. Real etcdctl 3.5.1 vs etcdctl-py."""

from __future__ import annotations

import pytest

from tests.v2.v2tools import Pair, Side, py_argv, real_argv

DEAD = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def dead_pair():
    return Pair(Side(real_argv(), DEAD), Side(py_argv(), DEAD))


HELP = [
    [],
    ["--help"],
    ["-h"],
    ["help"],
    ["h"],
    ["--version"],
    ["-v"],
    ["help", "foo"],
    ["foo"],
    ["version"],
    ["help", "member"],
    ["member"],
    ["member", "--help"],
    ["member", "help"],
    ["member", "help", "list"],
    ["member", "foo"],
    ["member", "h", "add"],
    ["user"],
    ["user", "-h"],
    ["role", "--help"],
    ["auth"],
    ["auth", "help"],
    ["--bogus"],
    ["-o"],
    ["--timeout", "3", "get", "/x"],
    ["--timeout", "bad"],
    ["--debug=maybe", "get"],
    ["---x"],
    ["-=x"],
    ["user", "--bogus"],
    ["member", "list", "--bogus"],
]
CMDS = [
    "set",
    "mk",
    "mkdir",
    "rm",
    "rmdir",
    "get",
    "ls",
    "setdir",
    "update",
    "updatedir",
    "watch",
    "exec-watch",
    "cluster-health",
    "backup",
    "help",
]
SUBS = (
    [("member", s) for s in ("list", "add", "remove", "update")]
    + [("user", s) for s in ("add", "get", "list", "remove", "grant", "revoke", "passwd")]
    + [("role", s) for s in ("add", "get", "list", "remove", "grant", "revoke")]
    + [("auth", s) for s in ("enable", "disable")]
)
for c in CMDS:
    HELP.append([c, "--help"])
    HELP.append(["help", c])
for c, s in SUBS:
    HELP.append([c, s, "--help"])
    HELP.append([c, s, "-h"])
HELP += [
    ["set", "--ttl", "abc", "/x", "v"],
    ["set", "/x", "--ttl"],
    ["get", "--sort=maybe", "/x"],
    ["get", "--bogus", "/x"],
    ["rm", "--with-index", "x", "/k"],
    ["user", "grant", "--bogus", "u"],
    ["role", "grant", "--path"],
    ["watch", "--after-index=1.5", "/x"],
    ["set", "--swap-with-index", "99999999999999999999", "/x", "v"],
]
# Go's flag errors quote the value with %q; durations follow time.ParseDuration (int64 overflow is an error)
HELP += [
    ["--debug=\x01", "get"],
    ["--timeout=1\x02s", "get"],
    ["--total-timeout=1.5h3m9x", "get"],
    ["rm", "--with-index=\u00e9\x7f", "/k"],
    ["--timeout=9999999999h", "get"],
]


@pytest.mark.parametrize("args", HELP, ids=[" ".join(a) or "noargs" for a in HELP])
def test_help_and_usage(dead_pair, args):
    dead_pair.same(args, endpoint=False)


UNREACH = [
    ["get", "/foo"],
    ["--no-sync", "get", "/foo"],
    ["cluster-health"],
    ["member", "list"],
    ["user", "list"],
    ["role", "add", "r"],
    ["auth", "enable"],
    ["--no-sync", "set", "/a", "b"],
    ["--no-sync", "mk", "/a", "b"],
    ["--no-sync", "rm", "/a"],
    ["--no-sync", "watch", "/a"],
    ["--debug", "get", "/foo"],
    ["--debug", "--no-sync", "ls"],
    ["--no-sync", "member", "list"],
    ["--no-sync", "role", "grant", "--path", "/x", "--read", "r"],
]


@pytest.mark.parametrize("args", UNREACH, ids=[" ".join(a) for a in UNREACH])
def test_unreachable(dead_pair, args):
    r = dead_pair.same(args)
    assert r.rc != 0


ENDPOINTS = [
    ["--endpoints=127.0.0.1:1", "get", "/x"],
    ["--endpoints=//127.0.0.1:1", "get", "/x"],
    ["--peers", "127.0.0.1:1", "get", "/x"],
    ["-C", "http://127.0.0.1:1", "get", "/x"],
    ["--endpoint", "http://127.0.0.1:1", "--no-sync", "get", "/x"],
    ["--ca-file", "/nonexistent/ca.pem", "get", "/x"],
    ["--cert-file", "/nonexistent/c.pem", "--key-file", "/nonexistent/k.pem", "get", "/x"],
]


@pytest.mark.parametrize("args", ENDPOINTS, ids=[" ".join(a) for a in ENDPOINTS])
def test_endpoint_forms(dead_pair, args):
    dead_pair.same(args, endpoint=False)


ENVS = [
    {"ETCDCTL_ENDPOINTS": DEAD},
    {"ETCDCTL_ENDPOINT": DEAD},
    {"ETCDCTL_PEERS": "127.0.0.1:1"},
    {"ETCDCTL_ENDPOINTS": "127.0.0.1:1", "ETCDCTL_PEERS": DEAD},
]


@pytest.mark.parametrize("env", ENVS, ids=[",".join(e) for e in ENVS])
def test_env_endpoints(dead_pair, env):
    dead_pair.same(["get", "/x"], env=env, endpoint=False)
