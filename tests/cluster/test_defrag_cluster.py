"""defrag --cluster and --rolling against a real three-member cluster."""

from __future__ import annotations

import pytest

from tests import difftest, etcdproc


def ours(cluster, *args: str, endpoints: list[str] | None = None) -> difftest.Result:
    eps = ",".join(endpoints or cluster.endpoints)
    return difftest.run([*difftest.ETCDCTL_PY, "--endpoints", eps, *args], timeout=120)


def real(cluster, *args: str, endpoints: list[str] | None = None) -> difftest.Result:
    eps = ",".join(endpoints or cluster.endpoints)
    return difftest.run([etcdproc.distro_bin("etcdctl"), "--endpoints", eps, *args], timeout=120)


@pytest.fixture(scope="module")
def cluster(three_node_cluster):
    from etcdctl_py.client import Client

    with Client(three_node_cluster.endpoints) as c:
        for i in range(300):
            c.kv.put(f"/defrag/{i}".encode(), b"x" * 1000)
        c.kv.delete(b"/defrag/", b"/defrag0")
    return three_node_cluster


def test_defrag_cluster_same_as_etcdctl(cluster):
    """Both list every member's client URL in member-list order; ours from any one endpoint."""
    r = real(cluster, "defrag", "--cluster", endpoints=cluster.endpoints[:1])
    m = ours(cluster, "defrag", "--cluster", endpoints=cluster.endpoints[1:2])
    assert r.rc == m.rc == 0
    assert m.stdout == r.stdout
    assert sorted(m.stdout.decode().splitlines()) == sorted(
        f"Finished defragmenting etcd member[{u}]" for u in cluster.client_urls
    )
    assert m.stderr == r.stderr == b""


def test_defrag_all_endpoints(cluster):
    m = ours(cluster, "defrag")
    assert (
        m.rc == 0
        and m.stdout == "".join(f"Finished defragmenting etcd member[{e}]\n" for e in cluster.endpoints).encode()
    )


def _leader_url(cluster) -> str:
    from etcdctl_py.client import Client

    with Client(cluster.endpoints) as c:
        for url in cluster.client_urls:
            st = c.maintenance.status_of(url)
            if st.leader == st.header.member_id:
                return url
    raise AssertionError("no leader")


def test_rolling_followers_first_leader_last(cluster):
    leader = _leader_url(cluster)
    m = ours(cluster, "defrag", "--rolling", endpoints=cluster.endpoints[2:])
    assert m.rc == 0, m
    lines = m.stdout.decode().splitlines()
    assert lines[0].startswith("Cluster healthy: 3 members, leader etcd")
    done = [ln for ln in lines if ln.startswith("Finished defragmenting etcd member[")]
    assert len(done) == 3
    assert [("(follower" in ln) for ln in done] == [True, True, False]
    assert done[-1].startswith(f"Finished defragmenting etcd member[{leader}] (leader ")
    assert sorted(ln.split("[")[1].split("]")[0] for ln in done) == sorted(cluster.client_urls)
    assert lines[-1] == "Cluster healthy: all 3 members defragmented"
    assert m.stderr == b""


def test_rolling_refuses_unhealthy_cluster(cluster):
    """One member down: nothing is defragmented, the unhealthy member is named, exit 1."""
    cluster.stop(2)
    try:
        m = ours(cluster, "--command-timeout", "2s", "defrag", "--rolling", endpoints=cluster.endpoints[:1])
    finally:
        cluster.start(2)
    assert m.rc == 1
    assert b"Finished defragmenting" not in m.stdout
    assert f"unhealthy: etcd3 ({cluster.client_urls[2]}): ".encode() in m.stderr
    assert m.stderr.endswith(b"Error: cluster is not healthy; not defragmenting any member\n")
