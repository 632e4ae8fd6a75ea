"""Failover, make-mirror into a three-member cluster, and snapshot save against cluster members (real etcd 3.5.1)."""

from __future__ import annotations

import json

import pytest

from tests import difftest, etcdproc


def ours(endpoints: list[str], *args: str, **kw) -> difftest.Result:
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", ",".join(endpoints), *args], timeout=120, **kw)


def real(endpoints: list[str], *args: str, **kw) -> difftest.Result:
    return difftest.run([etcdproc.distro_bin("etcdctl"), "--endpoints", ",".join(endpoints), *args], timeout=120, **kw)


def test_failover_when_the_endpoint_in_use_dies(three_node_cluster):
    """The first endpoint is down: requests go to the next one, like etcdctl; defrag reports the dead member."""
    c = three_node_cluster
    assert ours(c.endpoints, "put", "/fo/k", "before").rc == 0
    c.stop(0)
    try:
        for tool in (real, ours):
            w = tool(c.endpoints, "put", "/fo/k", f"after-{tool.__name__}")
            assert (w.rc, w.stdout) == (0, b"OK\n"), w
        r = real(c.endpoints, "get", "/fo/k", "--print-value-only")
        m = ours(c.endpoints, "get", "/fo/k", "--print-value-only")
        assert m.stdout == r.stdout == b"after-ours\n" and m.rc == r.rc == 0
        r = real(c.endpoints, "--command-timeout", "2s", "defrag")
        m = ours(c.endpoints, "--command-timeout", "2s", "defrag")
        assert m.rc == r.rc == 1
        assert (
            m.stdout
            == r.stdout
            == "".join(f"Finished defragmenting etcd member[{e}]\n" for e in c.endpoints[1:]).encode()
        )
        assert difftest.mask_stderr(m.stderr) == difftest.mask_stderr(r.stderr)
        assert f"Failed to defragment etcd member[{c.endpoints[0]}] (context deadline exceeded)".encode() in m.stderr
    finally:
        c.start(0)
    # the restarted member caught up
    s = ours(c.endpoints[:1], "get", "/fo/k", "--print-value-only", "--consistency", "s")
    assert s.stdout == b"after-ours\n"


def test_make_mirror_one_node_into_cluster(three_node_cluster, source_etcd):
    """The seed's scenario: mirror a single-member source into the three-member cluster, then follow updates."""
    from etcdctl_py.client import Client

    c = three_node_cluster
    with Client([source_etcd.endpoint]) as src:
        for i in range(200):
            src.kv.put(f"/app/{i:03d}".encode(), f"value-{i}".encode())
        src.kv.put(b"/other/x", b"not mirrored")
    m = ours(
        [source_etcd.endpoint],
        "make-mirror",
        c.endpoints[1],
        "--prefix",
        "/app/",
        "--dest-prefix",
        "/mirror/",
        "--until-synced",
    )
    assert m.rc == 0, m
    assert m.stdout.endswith(b": 200 operations mirrored\n")
    for ep in c.endpoints:  # every member has the copy (serializable read of its own state)
        r = ours([ep], "get", "/mirror/", "--prefix", "--count-only", "-w", "fields", "--consistency", "s")
        assert b'"Count" : 200\n' in r.stdout, (ep, r)
    got = ours([c.endpoints[2]], "get", "/mirror/042", "--print-value-only")
    assert got.stdout == b"value-42\n"
    assert b'"Count" : 0' in ours(c.endpoints, "get", "/other/", "--prefix", "--count-only", "-w", "fields").stdout
    # real etcdctl's copy of the same source (first Put per key, then the watch) lands on the same data
    import signal
    import subprocess
    import time

    p = subprocess.Popen(
        [
            etcdproc.distro_bin("etcdctl"),
            "--endpoints",
            source_etcd.endpoint,
            "make-mirror",
            c.endpoints[0],
            "--prefix",
            "/app/",
            "--dest-prefix",
            "/real/",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = ours(c.endpoints, "get", "/real/", "--prefix", "--count-only", "-w", "fields")
            if b'"Count" : 200\n' in r.stdout:
                break
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
    a = json.loads(ours(c.endpoints, "get", "/real/", "--prefix", "-w", "json").stdout)["kvs"]
    b = json.loads(ours(c.endpoints, "get", "/mirror/", "--prefix", "-w", "json").stdout)["kvs"]
    assert [kv["value"] for kv in a] == [kv["value"] for kv in b] and len(a) == 200


@pytest.mark.parametrize("member", [0, 1, 2])
def test_snapshot_save_from_each_member(three_node_cluster, tmp_path, member):
    """Each member's snapshot: same content as real etcdctl's of that member (same hash, revision, keys)."""
    c = three_node_cluster
    ep = [c.endpoints[member]]
    r = real(ep, "snapshot", "save", str(tmp_path / "real.db"))
    m = ours(ep, "snapshot", "save", str(tmp_path / "ours.db"))
    assert m.rc == r.rc == 0, (r, m)
    assert m.stdout == f"Snapshot saved at {tmp_path / 'ours.db'}\n".encode()
    st = [
        json.loads(
            difftest.run([etcdproc.distro_bin("etcdutl"), "snapshot", "status", str(tmp_path / f), "-w", "json"]).stdout
        )
        for f in ("real.db", "ours.db")
    ]
    assert (st[0]["hash"], st[0]["revision"], st[0]["totalKey"]) == (
        st[1]["hash"],
        st[1]["revision"],
        st[1]["totalKey"],
    )


def test_snapshot_save_refuses_the_whole_cluster(three_node_cluster, tmp_path):
    c = three_node_cluster
    r = real(c.endpoints, "snapshot", "save", str(tmp_path / "x.db"))
    m = ours(c.endpoints, "snapshot", "save", str(tmp_path / "x.db"))
    assert (m.rc, m.stdout, m.stderr) == (r.rc, r.stdout, r.stderr)
    assert m.rc == 5 and m.stderr.startswith(b"Error: snapshot must be requested to one selected node, not multiple [")
