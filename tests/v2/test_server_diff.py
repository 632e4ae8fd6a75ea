"""Real `ETCDCTL_API=2 etcdctl` against real etcd 3.5.1 --enable-v2 vs against etcd-py --enable-v2 (twins
started with tests/etcdproc.py), same command sequence."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.v2.cases import KEY_CASES

SERVER_CASES = [c for c in KEY_CASES if "--quorum" not in c[0] and "-q" not in c[0]]


@pytest.mark.parametrize("args,opts", SERVER_CASES, ids=[" ".join(a) or "noargs" for a, _ in SERVER_CASES])
def test_key_commands(etcdpy_pair, args, opts):
    etcdpy_pair.same(args, stdin=opts.get("stdin", ""), env=opts.get("env"), unordered=opts.get("unordered", False))


def test_quorum_get(etcdpy_pair):
    etcdpy_pair.same(["set", "/qk", "v"])
    r = etcdpy_pair.same(["get", "--quorum", "/qk"])
    assert r.out == "v\n"


def test_watch_one_event(etcdpy_pair):
    r = etcdpy_pair.watch_same(["watch", "/w/a"], [["set", "/w/a", "1"]])
    assert r.out == "1\n"


def test_watch_forever_recursive(etcdpy_pair):
    r = etcdpy_pair.watch_same(
        ["watch", "-f", "-r", "/w"],
        [["set", "/w/a", "2"], ["set", "/w/b", "3"], ["rm", "/w/b"], ["mkdir", "/w/d"]],
        sigint=True,
    )
    assert r.out == "[set] /w/a\n2\n[set] /w/b\n3\n[delete] /w/b\nPrevNode.Value: 3\n"


def test_watch_from_history(etcdpy_pair):
    r = etcdpy_pair.watch_same(["-o", "json", "watch", "--after-index", "1", "-r", "/w"], [])
    assert r.out.startswith("[set] /w/a\n{")


def test_ttl_expiry(etcdpy_pair):
    import time

    etcdpy_pair.same(["set", "--ttl", "1", "/exp", "x"])
    time.sleep(2.2)  # deliberate: the 1 s TTL runs out
    r = etcdpy_pair.same(["get", "/exp"])
    assert r.rc == 4 and "100: Key not found" in r.err


@pytest.mark.parametrize(
    "args",
    [
        ["member", "list"],
        ["cluster-health"],
        ["member", "remove", "1234"],
        ["member", "update", "1234", "http://127.0.0.1:1"],
        ["member", "update", "zz", "x"],
        ["member", "list", "x"],
        ["--debug", "member", "list"],
    ],
    ids=lambda a: " ".join(a),
)
def test_member_commands(etcdpy_pair, args):
    etcdpy_pair.same(args)


def test_http_bodies(etcdpy_pair):
    """Raw v2 JSON bodies and index headers agree (dates and raft numbers aside)."""
    etcdpy_pair.same(["set", "/raw", "v"])
    outs = []
    for side in (etcdpy_pair.a, etcdpy_pair.b):
        res = []
        for path in (
            "/v2/keys/raw",
            "/v2/keys/nope",
            "/v2/keys/?recursive=true&sorted=true",
            "/v2/members",
            "/version",
            "/health",
        ):
            try:
                with urllib.request.urlopen(side.url + path, timeout=30) as r:
                    res.append(
                        (
                            r.status,
                            r.headers.get("X-Etcd-Index"),
                            r.headers.get("X-Etcd-Cluster-Id"),
                            r.read().decode().replace(side.url, "<EP>"),
                        )
                    )
            except urllib.error.HTTPError as e:
                res.append(
                    (e.code, e.headers.get("X-Etcd-Index"), e.headers.get("X-Etcd-Cluster-Id"), e.read().decode())
                )
        outs.append(res)
    import re

    norm = [
        [(a, b, c, re.sub(r',"ttl":\d+', "", re.sub(r'"expiration":"[^"]*"', "<T>", d))) for a, b, c, d in o]
        for o in outs
    ]
    assert norm[0] == norm[1]
    assert json.loads(outs[1][0][3])["node"]["value"] == "v"


def test_persistence_restart(etcdpy_pair):
    """etcd-py's v2 store survives a restart of the server (atomic JSON file)."""
    etcdpy_pair.same(["set", "/persist", "kept"])
    for srv in etcdpy_pair.servers:  # a restarted etcd republishes its attributes (index + 1): restart both
        srv.stop()
    for srv in etcdpy_pair.servers:
        srv.start()
    r = etcdpy_pair.same(["-o", "extended", "get", "/persist"])
    assert "kept" in r.out
