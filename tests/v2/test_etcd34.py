"""ETCDCTL_API=2 against Debian's etcd 3.4.23 `--enable-v2` twins: etcdctl 3.4.23 (/usr/bin/etcdctl) vs
etcdctl-py (which follows etcdctl 3.5.1). The key, member and cluster-health verbs print the same bytes;
the documented differences are pinned in `test_documented_differences_from_34`:
* a missing key/value argument exits 1 in 3.4 and 128 in 3.5 (same `Error:  key required` text);
* the version is 3.4.23 vs 3.5.1 in `-v` and help output, and 3.4's help lists `backup` with
  "backup an etcd directory" where 3.5 prints its usage string;
* `member remove <name>` points at etcd's docs under `blob/master` (3.4) vs `blob/main` (3.5)."""

from __future__ import annotations

import os

import pytest

from tests import etcdproc
from tests.v2.cases import KEY_CASES
from tests.v2.test_cli_diff import MEMBER_CASES
from tests.v2.v2tools import Pair, Side, py_argv

ETCD34, CTL34 = etcdproc.debian_etcd34(), etcdproc.debian_etcdctl34()
MISSING_ARG = {
    ("set",),
    ("set", "/k"),
    ("mk",),
    ("mk", "/k2"),
    ("get",),
    ("rm",),
    ("rmdir",),
    ("mkdir",),
    ("setdir",),
    ("updatedir",),
    ("watch",),
}
DIFFERENT = MISSING_ARG | {("--timeout", "3", "get", "/k"), ("member", "remove", "twin")}

pytestmark = pytest.mark.skipif(
    not (ETCD34 and CTL34 and os.access(CTL34, os.X_OK)),
    reason="Debian etcd 3.4.23 (etcd-server/etcd-client) not installed",
)


@pytest.fixture(scope="module")
def pair34(workdir):
    a, b = etcdproc.twins(ETCD34, ETCD34, workdir, extra=["--enable-v2"])
    yield Pair(Side([CTL34], a.client_url), Side(py_argv(), b.client_url))
    a.stop()
    b.stop()


SAME = [(a, o) for a, o in KEY_CASES if tuple(a) not in DIFFERENT] + [
    (m, {}) for m in MEMBER_CASES if tuple(m) not in DIFFERENT
]


@pytest.mark.parametrize("args,opts", SAME, ids=[" ".join(a) or "noargs" for a, _ in SAME])
def test_same_as_etcdctl34(pair34, args, opts):
    pair34.same(args, stdin=opts.get("stdin", ""), env=opts.get("env"), unordered=opts.get("unordered", False))


def test_watch_same_as_etcdctl34(pair34):
    r = pair34.watch_same(["-o", "extended", "watch", "/w34"], [["set", "/w34", "x"]])
    assert r.out.startswith("Key: /w34\n")


def test_documented_differences_from_34(pair34):
    for args in sorted(MISSING_ARG):
        r34, rpy = pair34.both(list(args))
        assert (r34.rc, rpy.rc) == (1, 128), args
        assert r34.err == rpy.err and r34.out == rpy.out and r34.err.startswith("Error:  "), args
    r34, rpy = pair34.both(["-v"])
    assert r34.out == "etcdctl version: 3.4.23\nAPI version: 2\n"
    assert rpy.out == "etcdctl version: 3.5.1\nAPI version: 2\n"
    r34, rpy = pair34.both(["--help"])
    assert "backup an etcd directory" in r34.out and "--data-dir=... --backup-dir={output}" in rpy.out
    norm = [r.out.replace("3.4.23", "V").replace("3.5.1", "V").splitlines() for r in (r34, rpy)]
    assert [ln for ln in norm[0] if "backup" not in ln] == [ln for ln in norm[1] if "backup" not in ln]
    r34, rpy = pair34.both(["member", "remove", "twin"])
    assert r34.err.replace("blob/master", "blob/main") == rpy.err and r34.rc == rpy.rc == 1
