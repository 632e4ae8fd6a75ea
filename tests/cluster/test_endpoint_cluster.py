"""`endpoint status|hashkv|health [--cluster]` on the shared three-member etcd 3.5.1 cluster: real etcdctl vs
etcdctl-py against the same members.

Nothing here writes, so status and hashkv must match byte for byte (member-list order for --cluster, the given
order otherwise). `health` checks the endpoints concurrently and prints in completion order, and `took` is a
measured duration: its outputs are compared as sets of entries with the durations masked.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests import difftest
from tests.cluster.fixtures_members import TOOLS

_DUR = re.compile(rb"([0-9]+(\.[0-9]+)?(ns|\xc2\xb5s|ms|s|m|h))+")


def durations(data: bytes) -> bytes:
    """Mask Go durations (`took`)."""
    return _DUR.sub(b"DUR", data)


FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def cluster(three_node_cluster):
    from etcdctl_py.client import Client

    with Client(three_node_cluster.endpoints) as c:
        for i in range(20):
            c.kv.put(f"/endpoint/{i}".encode(), b"v%d" % i)

        # the backends commit in batches (100 ms): wait until every member's DB size has stopped moving
        def sizes() -> list[int]:
            return [c.maintenance.status_of(u).dbSize for u in three_node_cluster.client_urls]

        last, deadline = sizes(), time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = sizes()
            if now == last:
                break
            last = now
    return three_node_cluster


def both(
    *args: str, endpoints: list[str], env: dict[str, str] | None = None
) -> tuple[difftest.Result, difftest.Result]:
    return TOOLS["real"](*args, endpoints=endpoints, env=env), TOOLS["ours"](*args, endpoints=endpoints, env=env)


def same(args, real: difftest.Result, mine: difftest.Result, norm=lambda b: b) -> None:  # noqa: ANN001
    assert norm(mine.stdout) == norm(real.stdout), f"stdout differs for {args}:\nreal: {real}\nours: {mine}"
    assert mine.rc == real.rc, f"exit code differs for {args}:\nreal: {real}\nours: {mine}"
    assert norm(difftest.mask_stderr(mine.stderr)) == norm(difftest.mask_stderr(real.stderr)), (
        f"stderr differs for {args}:\nreal: {real}\nours: {mine}"
    )


def settled(*args: str, endpoints: list[str], env: dict[str, str] | None = None, tries: int = 3) -> None:
    """Byte-for-byte on the shared cluster: another test's lease expiring or a batch commit landing between
    the two runs moves indexes and sizes, so a mismatch is retried a few times before it counts."""
    for i in range(tries):
        real, mine = both(*args, endpoints=endpoints, env=env)
        if (mine.stdout, mine.rc, difftest.mask_stderr(mine.stderr)) == (
            real.stdout,
            real.rc,
            difftest.mask_stderr(real.stderr),
        ) or i == tries - 1:
            same(args, real, mine)
            return
        time.sleep(0.3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_cluster(cluster, fmt):
    for eps in (cluster.endpoints[2:], cluster.endpoints):
        settled("endpoint", "status", "--cluster", "-w", fmt, endpoints=eps)
    # given order, not member-list order
    settled("endpoint", "status", "-w", fmt, endpoints=cluster.endpoints[::-1])


def test_status_cluster_lists_every_member(cluster):
    mine = TOOLS["ours"]("endpoint", "status", "--cluster", "-w", "json", endpoints=cluster.endpoints[:1])
    assert (mine.rc, mine.stderr) == (0, b"")
    doc = json.loads(mine.stdout)
    assert sorted(e["Endpoint"] for e in doc) == sorted(cluster.client_urls)
    ids = [e["Status"]["header"]["member_id"] for e in doc]
    assert ids == sorted(ids)  # member-list (ID) order
    assert len({e["Status"]["leader"] for e in doc}) == 1
    assert sum(e["Status"]["leader"] == e["Status"]["header"]["member_id"] for e in doc) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_hashkv_cluster(cluster, fmt):
    for extra in ([], ["--rev", "5"]):
        settled("endpoint", "hashkv", "--cluster", "-w", fmt, *extra, endpoints=cluster.endpoints[1:2])
    settled("endpoint", "hashkv", "-w", fmt, endpoints=cluster.endpoints)


def test_hashkv_same_on_every_member(cluster):
    _, mine = both("endpoint", "hashkv", "--cluster", "-w", "json", endpoints=cluster.endpoints[:1])
    doc = json.loads(mine.stdout)
    assert len(doc) == 3 and len({e["HashKV"]["hash"] for e in doc}) == 1


def health_entries(out: bytes) -> list[bytes]:
    """Health results in completion order -> sorted entries, durations masked (table widths follow them)."""
    out = durations(out)
    if out.startswith(b"["):
        return sorted(json.dumps(e, sort_keys=True).encode() for e in json.loads(out))
    if out.startswith(b"+-"):
        lines = out.split(b"\n")
        return [re.sub(rb"[- ]+", b" ", x) for x in lines[:3] + sorted(lines[3:-2]) + lines[-2:]]
    if out.startswith(b'"Endpoint"'):
        return sorted(out.split(b"\n\n"))
    return sorted(out.split(b"\n"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_health_cluster(cluster, fmt):
    args = ["endpoint", "health", "--cluster", "-w", fmt]
    real, mine = both(*args, endpoints=cluster.endpoints[:1])
    same(args, real, mine, norm=lambda b: b"\n".join(health_entries(b)))
    assert real.rc == (4 if fmt == "protobuf" else 0)  # no protobuf form of a health result
    if fmt == "simple":
        assert sorted(re.sub(rb" took = .*", b"", ln) for ln in mine.stdout.splitlines()) == sorted(
            b"%s is healthy: successfully committed proposal:" % u.encode() for u in cluster.client_urls
        )


def test_health_given_endpoints(cluster):
    for fmt in ("simple", "json", "table"):
        args = ["endpoint", "health", "-w", fmt]
        real, mine = both(*args, endpoints=cluster.endpoints)
        same(args, real, mine, norm=lambda b: b"\n".join(health_entries(b)))


def test_etcdctl_cluster_env(cluster):
    """ETCDCTL_CLUSTER=true is --cluster."""
    env = {"ETCDCTL_CLUSTER": "true"}
    for sub in ("status", "hashkv"):
        settled("endpoint", sub, "-w", "json", endpoints=cluster.endpoints[:1], env=env)
        _, mine = both("endpoint", sub, "-w", "json", endpoints=cluster.endpoints[:1], env=env)
        assert len(json.loads(mine.stdout)) == 3
    real, mine = both("endpoint", "health", endpoints=cluster.endpoints[:1], env=env)
    same(["endpoint", "health"], real, mine, norm=lambda b: b"\n".join(health_entries(b)))
    assert len(mine.stdout.splitlines()) == 3
    # a variable shadowing a flag given on the command line is etcdctl's fatal configuration error
    args = ["endpoint", "status", "--cluster=false"]
    real, mine = both(*args, endpoints=cluster.endpoints[:1], env=env)
    same(args, real, mine)
    assert mine.rc == 1 and b"conflicting environment variable" in mine.stderr and mine.stdout == b""
