"""Differential auth tests: the same real-etcdctl 3.5.1 command sequences (users, roles, key-range
permissions, enable/disable, root rules, tokens, permission checks) against real etcd and etcd-py.

These twins are module-scoped and private: enabling auth must not leak into other test modules.
"""

from __future__ import annotations

import pytest

from tests import etcdproc
from tests.server.servertools import Ctl, both, mask


@pytest.fixture(scope="module")
def atwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="auth-twins")
    yield real, ours
    real.stop()
    ours.stop()


ROOT = "--user=root:rootpw"


def test_users_roles_and_enable(atwins):
    """The sequence of the reference capture auth.txt (etcdctl-v3-behavior.md §5.16-5.18)."""
    both(atwins, "auth", "status")
    both(atwins, "auth", "status", "-w", "json")
    both(atwins, "user", "list")
    both(atwins, "role", "list")
    rc, _, err = both(atwins, "auth", "enable")
    assert rc == 1 and "root user does not exist" in err
    both(atwins, "user", "add", "root:rootpw")
    both(atwins, "user", "add", "root:rootpw")
    both(atwins, "user", "add", "alice", "--new-user-password=alicepw")
    both(atwins, "user", "add", "bob", "--no-password")
    both(atwins, "user", "add", "carol", "--interactive=false", stdin="carolpw\n")
    both(atwins, "user", "add", "dave", "-w", "json", "--new-user-password=x")
    both(atwins, "user", "add", "erin", "-w", "fields", "--new-user-password=x")
    both(atwins, "user", "list")
    both(atwins, "user", "list", "-w", "json")
    both(atwins, "role", "add", "reader")
    both(atwins, "role", "add", "writer", "-w", "json")
    both(atwins, "role", "add", "admin2", "-w", "fields")
    both(atwins, "role", "add", "reader")
    both(atwins, "role", "add", "")
    both(atwins, "role", "grant-permission", "reader", "read", "/foo")
    both(atwins, "role", "grant-permission", "reader", "read", "/pfx/", "--prefix")
    both(atwins, "role", "grant-permission", "reader", "readwrite", "/a", "/b")
    both(atwins, "role", "grant-permission", "reader", "write", "/from", "--from-key")
    both(atwins, "role", "grant-permission", "reader", "read", "", "--prefix")
    both(atwins, "role", "grant-permission", "reader", "readwrite", "/foo")
    both(atwins, "role", "grant-permission", "nosuch", "read", "/foo")
    both(atwins, "role", "grant-permission", "writer", "WRITE", "/w", "-w", "json")
    for fmt in ("simple", "json", "fields", "protobuf"):
        both(atwins, "role", "get", "reader", "-w", fmt)
    both(atwins, "role", "get", "nosuch")
    for fmt in ("simple", "json", "fields"):
        both(atwins, "role", "list", "-w", fmt)
    both(atwins, "user", "grant-role", "alice", "reader")
    both(atwins, "user", "grant-role", "alice", "writer", "-w", "json")
    both(atwins, "user", "grant-role", "alice", "writer")
    both(atwins, "user", "grant-role", "alice", "nosuchrole")
    both(atwins, "user", "grant-role", "nosuch", "reader")
    both(atwins, "user", "get", "alice")
    both(atwins, "user", "get", "alice", "--detail")
    both(atwins, "user", "get", "alice", "-w", "json")
    both(atwins, "user", "get", "nosuch")
    both(atwins, "role", "revoke-permission", "reader", "/foo")
    both(atwins, "role", "revoke-permission", "reader", "/a", "/b")
    both(atwins, "role", "revoke-permission", "reader", "/from", "--from-key")
    both(atwins, "role", "revoke-permission", "reader", "/pfx/", "--prefix")
    both(atwins, "role", "revoke-permission", "reader", "/nothere")
    both(atwins, "role", "revoke-permission", "nosuch", "/nothere")
    both(atwins, "user", "revoke-role", "alice", "writer")
    both(atwins, "user", "revoke-role", "alice", "writer")
    both(atwins, "user", "passwd", "alice", "--interactive=false", stdin="newpw\n")
    both(atwins, "user", "add", "frank", "--new-user-password=x")
    both(atwins, "user", "delete", "frank")
    both(atwins, "user", "delete", "frank")
    both(atwins, "role", "delete", "admin2")
    both(atwins, "role", "delete", "admin2")
    both(atwins, "auth", "status", "-w", "json")
    rc, out, _ = both(atwins, "auth", "enable")
    assert rc == 0 and out == "Authentication Enabled\n"
    both(atwins, "auth", "status")
    both(atwins, "get", "foo")
    both(atwins, "auth", "status", ROOT)
    both(atwins, "auth", "status", ROOT, "-w", "json")
    both(atwins, "endpoint", "status", ROOT, "-w", "json")


def test_permission_checks(atwins):
    """Authenticated users against their key ranges; every RPC gated like etcd gates it."""
    alice = "--user=alice:newpw"
    both(atwins, "put", "/pfx/x", "1", ROOT)
    both(atwins, "put", "/a1", "v", ROOT)
    both(atwins, "get", "foo", alice)
    both(atwins, "get", "/pfx/x", alice)
    both(atwins, "get", "/pfx/", "--prefix", alice)
    both(atwins, "get", "/a", "/b", alice)
    both(atwins, "get", "/a", "/c", alice)
    both(atwins, "get", "", "--prefix", alice)
    both(atwins, "get", "/z", "--from-key", alice)
    both(atwins, "put", "/a1", "w", alice)
    both(atwins, "put", "/pfx/x", "w", alice)
    both(atwins, "put", "/from/deep", "w", alice)
    both(atwins, "put", "/from/deep", "w2", "--prev-kv", alice)
    both(atwins, "del", "/a1", alice)
    both(atwins, "del", "/a", "/b", "--prev-kv", alice)
    both(atwins, "del", "/pfx/x", alice)
    both(atwins, "get", "foo", "--user=alice:wrong")
    both(atwins, "get", "foo", "--user=alice", "--password=newpw")
    both(atwins, "get", "foo", "--user=nosuch:pw")
    both(atwins, "get", "foo", "--user=bob:anything")
    both(atwins, "txn", alice, stdin='value("/a") = "x"\n\nput /a2 y\n\nget /pfx/q\n\n')
    both(atwins, "txn", alice, stdin='value("/zzz") = "x"\n\nput /a2 y\n\nget /pfx/q\n\n')
    both(atwins, "txn", alice, stdin='value("/a") = "x"\n\nput /nope y\n\n\n')
    both(atwins, "txn", alice, stdin="\n\nget /pfx/a\nget /a\n\n\n")
    both(atwins, "user", "list", alice)
    both(atwins, "role", "list", alice)
    both(atwins, "user", "get", "alice", alice)
    both(atwins, "user", "get", "root", alice)
    both(atwins, "role", "get", "reader", alice)
    both(atwins, "role", "get", "writer", alice)
    both(atwins, "auth", "status", alice)
    both(atwins, "compaction", "2", alice)
    both(atwins, "endpoint", "health", alice)
    both(atwins, "endpoint", "hashkv", alice)
    both(atwins, "endpoint", "hashkv", ROOT, "-w", "json")
    both(atwins, "endpoint", "status", alice, "-w", "json")
    both(atwins, "defrag", alice)
    both(atwins, "alarm", "list", alice)
    both(atwins, "member", "list", alice)
    both(atwins, "member", "remove", "1234", alice)
    both(atwins, "member", "remove", "1234")
    both(atwins, "lease", "revoke", "1234", alice)
    both(atwins, "snapshot", "save", "/nonexistent-dir/x.db", alice)
    both(atwins, "endpoint", "health")
    both(atwins, "put", "x", "y")
    both(atwins, "user", "delete", "root", ROOT)
    both(atwins, "role", "delete", "root", ROOT)
    both(atwins, "user", "revoke-role", "root", "root", ROOT)
    both(atwins, "auth", "enable", ROOT)


def test_lease_keys_need_write_permission(atwins):
    """Revoking (or attaching to) a lease needs write permission on every key it holds."""
    import re

    outs = []
    for srv in atwins:
        ctl = Ctl(srv.endpoint)
        rc, out, err = ctl("lease", "grant", "600", ROOT)
        assert rc == 0, err
        lid = re.search(r"lease ([0-9a-f]+) granted", out).group(1)
        steps = [
            ctl("put", "/w", "held", "--lease", lid, ROOT),
            ctl("put", "/a5", "x", "--lease", lid, "--user=alice:newpw"),
            ctl("lease", "revoke", lid, "--user=alice:newpw"),
            ctl("put", "/nope2", "x", "--lease", lid, ROOT),
            ctl("put", "/a6", "x", "--lease", lid, "--user=alice:newpw"),
            ctl("lease", "timetolive", lid, "--user=alice:newpw"),
            ctl("lease", "revoke", lid, ROOT),
            ctl("get", "/w", ROOT),
        ]
        outs.append(
            [
                (rc, re.sub(r"remaining\(\d+s\)", "R", mask(o)).replace(lid, "ID"), mask(e).replace(lid, "ID"))
                for rc, o, e in steps
            ]
        )
    assert outs[0] == outs[1]
    assert "permission denied" in outs[0][2][2]
    both(atwins, "auth", "status", ROOT)


def test_disable(atwins):
    both(atwins, "auth", "disable")
    both(atwins, "auth", "disable", "--user=alice:newpw")
    both(atwins, "auth", "disable", ROOT)
    both(atwins, "auth", "status")
    both(atwins, "auth", "disable")
    both(atwins, "get", "/pfx/", "--prefix")
    both(atwins, "endpoint", "status", "-w", "json")
