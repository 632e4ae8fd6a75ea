"""defrag through real etcdctl 3.5.1 and etcdctl-py on twin servers (online, --cluster, failures, help), and the
offline --data-dir mode against a stopped real etcd's data directory."""

from __future__ import annotations

import os
import shutil

import pytest

from tests import difftest, etcdproc
from tests.cli.opsdiff import check_masked, put_both


@pytest.fixture(scope="module")
def pair(twin_pair):
    put_both(twin_pair, [(f"d{i}", "x" * 200) for i in range(50)])
    twin_pair.check(["del", "d", "--prefix"])
    return twin_pair


CASES = [
    ["defrag"],
    ["defrag", "-w", "json"],
    ["defrag", "extra", "args"],
    ["defrag", "--cluster"],
    ["defrag", "--cluster=true", "-w", "table"],
    ["defrag", "--cluster=maybe"],
    ["defrag", "--nosuch"],
    ["defrag", "--help"],
    ["help", "defrag"],
    ["defrag", "--data-dir"],
    ["defrag", "-w", "xml"],
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_defrag(pair, args):
    check_masked(pair, args, extra_flags=("rolling",))


def test_defrag_dead_endpoints(pair):
    """Each failure: the Go client's warn line (under the first endpoint), `Failed to defragment ...`, exit 1."""
    for args in (
        ["--endpoints", "127.0.0.1:1,127.0.0.1:2", "--command-timeout", "1s", "defrag"],
        ["--endpoints", "127.0.0.1:1", "--command-timeout=1s", "defrag", "--cluster"],
    ):
        real, mine = pair.run(args, endpoints=False)
        assert (mine.rc, mine.stdout) == (real.rc, real.stdout), (real, mine)
        assert difftest.mask_stderr(mine.stderr) == difftest.mask_stderr(real.stderr), (real, mine)
        assert mine.rc == 1


def test_defrag_one_dead_one_alive(pair):
    real, mine = pair.run(
        ["--endpoints", f"{pair.a.endpoint},127.0.0.1:1", "--command-timeout", "1s", "defrag"], endpoints=False
    )
    mine2 = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", f"{pair.b.endpoint},127.0.0.1:1", "--command-timeout", "1s", "defrag"]
    )
    ports = (pair.a.client_port, pair.b.client_port)
    assert difftest.mask_stderr(mine2.stdout, ports) == difftest.mask_stderr(real.stdout, ports)
    assert difftest.mask_stderr(mine2.stderr, ports) == difftest.mask_stderr(real.stderr, ports)
    assert mine2.rc == real.rc == 1
    del mine


def test_defrag_data_dir_offline(tmp_path, etcd_bin, etcdutl_bin):
    """--data-dir defragments a stopped member's db in place (same hash/revision), after etcdctl's notice; unlike
    3.5.0-3.5.2 it does not go on to defragment the (unrelated) endpoints."""
    srv = etcdproc.make_server(etcd_bin, str(tmp_path), name="off")
    srv.start()
    from etcdctl_py.client import Client

    with Client([srv.endpoint]) as c:
        for i in range(200):
            c.kv.put(f"k{i}".encode(), b"v" * 500)
        c.kv.delete(b"k1", b"k9")  # the range [k1, k9): frees pages for defrag to reclaim
    srv.stop()
    db = os.path.join(srv.data_dir, "member", "snap", "db")
    copy = str(tmp_path / "before.db")
    shutil.copy(db, copy)
    before = difftest.run([etcdutl_bin, "snapshot", "status", copy, "-w", "json"])
    size_before = os.path.getsize(db)
    r = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", "127.0.0.1:1", "defrag", "--data-dir", srv.data_dir])
    assert r.rc == 0, r
    assert r.stdout == b""
    assert r.stderr.startswith(
        b"Use `etcdutl defrag` instead. The --data-dir is going to be decomissioned in v3.6.\n\n"
    )
    assert b"finished defragmenting directory" in r.stderr
    after = difftest.run([etcdutl_bin, "snapshot", "status", db, "-w", "json"])
    assert after.stdout.split(b'"totalSize"')[0] == before.stdout.split(b'"totalSize"')[0]
    assert os.path.getsize(db) < size_before
    assert not [f for f in os.listdir(os.path.dirname(db)) if f.startswith("db.tmp")]
    srv.start()  # real etcd still starts on it
    got = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", srv.endpoint, "get", "k95", "--print-value-only"])
    srv.stop()
    assert got.stdout == b"v" * 500 + b"\n"


def test_defrag_data_dir_missing(tmp_path):
    r = difftest.run([*difftest.ETCDCTL_PY, "defrag", "--data-dir", str(tmp_path / "nope")])
    assert r.rc == 1
    assert r.stderr.startswith(b"Use `etcdutl defrag` instead.")
    assert r.stderr.endswith(
        b"Error: open " + str(tmp_path / "nope" / "member" / "snap" / "db").encode() + b": no such file or directory\n"
    )


def test_rolling_rejects_data_dir(tmp_path):
    r = difftest.run([*difftest.ETCDCTL_PY, "defrag", "--rolling", "--data-dir", str(tmp_path)])
    assert (r.rc, r.stderr) == (
        128,
        b"Error: --rolling defragments a running cluster; it cannot be combined with --data-dir\n",
    )


def test_rolling_single_member(pair):
    """A one-member cluster: healthy, its only member is the leader and is defragmented last (and alone)."""
    r = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "defrag", "--rolling"])
    assert r.rc == 0, r
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "Cluster healthy: 1 members, leader twin"
    assert lines[1].startswith(f"Finished defragmenting etcd member[{pair.b.client_url}] (leader twin, db size ")
    assert lines[2] == "Cluster healthy: all 1 members defragmented"


def test_rolling_unreachable(pair):
    r = difftest.run(
        [*difftest.ETCDCTL_PY, "--endpoints", "127.0.0.1:1", "--command-timeout", "1s", "defrag", "--rolling"]
    )
    assert r.rc == 1 and r.stdout == b""
    assert r.stderr.endswith(
        b"Error: failed to fetch endpoints from etcd cluster member list: context deadline exceeded\n"
    )
