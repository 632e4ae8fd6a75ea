"""etcd-py's /v2/members changes the member list the v3 Cluster service answers from, compared with real etcd 3.5.1.

Real etcd (`--enable-v2`, one member) and etcd-py run as twins (same cluster/member IDs and advertised peer URL).
Real etcd loses its quorum once a second voting member is added, so after a v2 `member add` only what it still
answers is compared (the add's output, /v2/members, a serializable v3 MemberList); update and remove are compared
on a v3-added learner there (a learner costs no quorum; etcd 3.5.1 drops its learner flag on update, so it then
looks exactly like etcd-py's v2-added member). New member IDs mix in the Unix second, so they are masked.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from tests import difftest, etcdproc


@pytest.fixture
def twins(tmp_path):
    """(real etcd 3.5.1, etcd-py), both `--enable-v2`, fresh per test (membership changes)."""
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"),
        etcdproc.etcd_py_wrapper(str(tmp_path)),
        str(tmp_path),
        extra=["--enable-v2"],
        token="members-shared",
    )
    yield real, ours
    real.stop()
    ours.stop()


def http(srv: etcdproc.EtcdServer, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        srv.client_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def etcdctl(srv: etcdproc.EtcdServer, *args: str, api: str = "3", timeout: float = 20) -> difftest.Result:
    """Real etcdctl 3.5.1 (v2 wants a URL endpoint, v3 host:port)."""
    ep = srv.client_url if api == "2" else srv.endpoint
    return difftest.run(
        [etcdproc.distro_bin("etcdctl"), "--endpoints", ep, *args], env={"ETCDCTL_API": api}, timeout=timeout
    )


def serializable_members(srv: etcdproc.EtcdServer) -> list[tuple]:
    """v3 MemberList answered from the member's own view (real etcd without quorum still answers it)."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    with Client([srv.endpoint], command_timeout=5) as c:
        resp = c.unary(
            "Cluster", "MemberList", rpc_pb2.MemberListRequest(linearizable=False), rpc_pb2.MemberListResponse
        )
    return sorted((m.name, list(m.peerURLs), [mask(u, srv) for u in m.clientURLs], m.isLearner) for m in resp.members)


def mask(text: str, srv: etcdproc.EtcdServer, *ids: str) -> str:
    text = text.replace(str(srv.client_port), "CPORT")
    for i in ids:
        text = text.replace(i, "NEWID")
    return text


def member_id_of(srv: etcdproc.EtcdServer, peer_url: str) -> str:
    _, body = http(srv, "GET", "/v2/members")
    return next(m["id"] for m in json.loads(body)["members"] if peer_url in m["peerURLs"])


def canonical_add(stdout: bytes) -> str:
    """`member add` output without the new ID; its ETCD_INITIAL_CLUSTER follows member-ID order, so sorted."""
    text = re.sub(r"with ID [0-9a-f]+ ", "with ID X ", stdout.decode())
    return re.sub(
        r'ETCD_INITIAL_CLUSTER="([^"]*)"',
        lambda m: 'ETCD_INITIAL_CLUSTER="' + ",".join(sorted(m.group(1).split(","))) + '"',
        text,
    )


def test_v2_add_shows_in_v3_member_list(twins):
    real, ours = twins
    peer = f"http://127.0.0.1:{etcdproc.free_port()}"
    r = etcdctl(real, "member", "add", "newbie", peer, api="2")
    o = etcdctl(ours, "member", "add", "newbie", peer, api="2")
    assert r.rc == o.rc == 0, (r, o)
    rid, oid = member_id_of(real, peer), member_id_of(ours, peer)
    assert canonical_add(o.stdout) == canonical_add(r.stdout)
    assert f"newbie={peer}" in re.search(r'ETCD_INITIAL_CLUSTER="([^"]*)"', o.stdout.decode()).group(1).split(",")

    # The v3 view of the same member list: both members, the new one unstarted (no name, no client URLs).
    assert serializable_members(ours) == serializable_members(real)
    assert ("", [peer], [], False) in serializable_members(ours)
    # etcd-py still has its quorum (it runs no raft), so the default linearizable `member list` answers too.
    v3 = etcdctl(ours, "member", "list")
    assert v3.rc == 0 and f"{oid}, unstarted, , {peer}, , false\n".encode() in v3.stdout, v3
    # /v2/members lists by ID, and the new IDs differ: compare the members, IDs masked, in peer-URL order.
    sr, br = http(real, "GET", "/v2/members")
    so, bo = http(ours, "GET", "/v2/members")

    def members(body: bytes, srv: etcdproc.EtcdServer, new_id: str) -> list:
        return sorted(json.loads(mask(body.decode(), srv, new_id))["members"], key=lambda m: m["peerURLs"])

    assert (so, members(bo, ours, oid)) == (sr, members(br, real, rid))
    assert {"id": "NEWID", "name": "", "peerURLs": [peer], "clientURLs": []} in members(bo, ours, oid)


def test_v2_update_and_remove_show_in_v3_member_list(twins):
    """Real etcd: a v3 learner, updated and removed through /v2/members. etcd-py: a v2-added member, the same
    update and removal. After the update both list the same unstarted voter; after removal only the twin."""
    real, ours = twins
    peer, peer2 = (f"http://127.0.0.1:{etcdproc.free_port()}" for _ in range(2))
    assert etcdctl(real, "member", "add", "l", "--learner", f"--peer-urls={peer}").rc == 0
    assert etcdctl(ours, "member", "add", "l", peer, api="2").rc == 0
    rid, oid = member_id_of(real, peer), member_id_of(ours, peer)

    for srv, mid in ((real, rid), (ours, oid)):
        up = etcdctl(srv, "member", "update", mid, peer2, api="2")
        assert up.rc == 0 and up.stdout == f"Updated member with ID {mid} in cluster\n".encode(), up
    r, o = etcdctl(real, "member", "list"), etcdctl(ours, "member", "list")
    assert r.rc == o.rc == 0
    # Listed in ID order, and the new IDs differ: compare the lines as a set.
    assert sorted(mask(o.stdout.decode(), ours, oid).splitlines()) == sorted(
        mask(r.stdout.decode(), real, rid).splitlines()
    )
    assert f"{oid}, unstarted, , {peer2}, , false\n" in o.stdout.decode()

    for srv, mid in ((real, rid), (ours, oid)):
        rm = etcdctl(srv, "member", "remove", mid, api="2")
        assert rm.rc == 0 and rm.stdout == f"Removed member {mid} from cluster\n".encode(), rm
    r, o = etcdctl(real, "member", "list", "-w", "json"), etcdctl(ours, "member", "list", "-w", "json")
    assert [m["name"] for m in json.loads(o.stdout)["members"]] == ["twin"]
    assert mask(o.stdout.decode(), ours) == mask(r.stdout.decode(), real)

    # The removed ID is gone for good, on both: DELETE is 410, PUT etcd's opaque 500.
    for method, body in (("DELETE", None), ("PUT", {"peerURLs": [peer]})):
        sr, br = http(real, method, f"/v2/members/{rid}", body)
        so, bo = http(ours, method, f"/v2/members/{oid}", body)
        assert (so, bo.replace(oid.encode(), b"ID")) == (sr, br.replace(rid.encode(), b"ID")), (method, bo, br)
    assert sr == so == 500  # the last one, PUT


def test_refused_changes_match_real_etcd(twins):
    """Removing the only member (not enough started members) and reusing a peer URL: same answers, no change."""
    real, ours = twins
    _, own = http(ours, "GET", "/v2/members")
    me, own_peer = json.loads(own)["members"][0]["id"], json.loads(own)["members"][0]["peerURLs"][0]
    # One ConfChange only: real etcd drops a ConfChange proposed before raft has applied the one it just
    # rejected, and the request then times out (500); the DELETE is refused before anything is proposed.
    for method, path, body in (
        ("DELETE", f"/v2/members/{me}", None),
        ("POST", "/v2/members", {"peerURLs": [own_peer]}),
    ):
        assert http(ours, method, path, body) == http(real, method, path, body), (method, path)
    assert http(ours, "DELETE", f"/v2/members/{me}") == (500, b'{"message":"Internal Server Error"}')
    assert http(ours, "POST", "/v2/members", {"peerURLs": [own_peer]}) == (
        409,
        b'{"message":"membership: peerURL exists"}',
    )
    assert [m[0] for m in serializable_members(ours)] == ["twin"]
    assert etcdctl(ours, "member", "list").rc == 0


def test_v2_changes_survive_restart(twins):
    """The v2-made changes reach the data dir: a member added over /v2/members (a voter: the v2 API has no
    learners) makes etcd-py refuse to restart alone, naming it; --force-new-cluster removes it through the log, and
    its removal is permanent across a further restart, as a v2 removal made while running is."""
    _, ours = twins
    peer = f"http://127.0.0.1:{etcdproc.free_port()}"
    assert etcdctl(ours, "member", "add", "x", peer, api="2").rc == 0
    mid = member_id_of(ours, peer)
    assert f"{mid}, unstarted, , {peer}, , false\n".encode() in etcdctl(ours, "member", "list").stdout
    ours.stop()
    ours.start(wait=False)
    assert ours.proc.wait(30) == 1
    assert mid in ours.log() and "--force-new-cluster" in ours.log()
    ours.argv.append("--force-new-cluster")
    try:
        ours.start()
    finally:
        ours.argv.remove("--force-new-cluster")
    assert [m[0] for m in serializable_members(ours)] == ["twin"]
    ours.stop()
    ours.start()
    assert [m[0] for m in serializable_members(ours)] == ["twin"]
    assert http(ours, "DELETE", f"/v2/members/{mid}") == (
        410,
        f'{{"message":"Member permanently removed: {mid}"}}'.encode(),
    )
