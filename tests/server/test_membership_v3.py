"""etcd-py's v3 member add/remove/update/promote against real etcd 3.5.1, through real etcdctl 3.5.1.

Real etcd and etcd-py run as twins (same name, advertised peer URL, token: same cluster and member IDs) and get the
same command sequence. A member added at runtime gets an ID from sha1(peer URLs + Unix second), so the two new IDs
differ: they are masked, and outputs listed in ID order are compared in a canonical order. Only learners are added
to the shared pair (a voter costs a one-member real etcd its quorum); the voter case has its own pair.

Persistence is checked on the files: the WAL's ConfChange entries and the db's members / members_removed /
meta confState, compared with what real etcd wrote for the same sequence; etcd-py restarted (cleanly, and with a db
that lags its WAL, as after a crash) keeps the changes; real etcd 3.5.1 started on etcd-py's data dir lists the same
members, and etcd-py started on real etcd's changes sees them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import time
import urllib.request

import pytest

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.storage.bbolt.db import DB
from etcdctl_py.storage.wal import read_wal
from tests import difftest, etcdproc

TOKEN = "membership-v3"
NEWDEC = "-424242"


def ctl(srv: etcdproc.EtcdServer, *args: str, timeout: float = 20) -> difftest.Result:
    return difftest.run([etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, *args], timeout=timeout)


def peer_url() -> str:
    return f"http://127.0.0.1:{etcdproc.free_port()}"


def new_id(res: difftest.Result) -> str:
    """The hex ID in `Member <id> added to cluster <cid>`."""
    return re.search(rb"Member +([0-9a-f]+) added", res.stdout).group(1).decode()


def canon(res: difftest.Result, srv: etcdproc.EtcdServer, ids: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """rc, stdout, stderr with timestamps, pointers, the client port and the runtime-added IDs masked, and whatever
    is listed in member-ID order put in a fixed order."""
    out = difftest.mask_stderr(res.stdout, (srv.client_port,)).decode()
    err = difftest.mask_stderr(res.stderr, (srv.client_port,)).decode()
    for n, hexid in enumerate(ids):
        # decimal IDs become a negative number, still JSON and never a real ID
        out = out.replace(hexid, f"NEWID{n}").replace(str(int(hexid, 16)), f"{NEWDEC}{n}")
        err = err.replace(hexid, f"NEWID{n}").replace(str(int(hexid, 16)), f"{NEWDEC}{n}")
    out = re.sub(r"Member +NEWID", "Member NEWID", out)
    out = re.sub(
        r'ETCD_INITIAL_CLUSTER="([^"]*)"',
        lambda m: 'ETCD_INITIAL_CLUSTER="' + ",".join(sorted(m.group(1).split(","))) + '"',
        out,
    )
    if out.startswith("{"):
        d = json.loads(out)
        d.get("members", []).sort(key=lambda m: json.dumps(m, sort_keys=True))
        out = json.dumps(d, sort_keys=True)
    elif '"ID" : ' in out:  # fields: one block per member, each starting at its "ID" line
        head, *blocks = re.split(r'(?m)^(?="ID" : )', out)
        out = head + "".join(sorted(blocks))
    else:
        out = "\n".join(sorted(out.splitlines()))
    return res.rc, out, err


def both(pair, *args: str, ids: dict | None = None) -> tuple[tuple, tuple]:
    """Run one etcdctl command on both twins; `args` may name "{new}" (each twin's own added member) or "{self}"."""
    real, ours = pair.real, pair.ours
    outs = []
    for srv in (real, ours):
        fill = {"new": pair.ids.get(srv.endpoint, ""), "self": pair.self_id}
        res = ctl(srv, *(a.format(**fill) for a in args))
        outs.append(canon(res, srv, tuple(i for i in [pair.ids.get(srv.endpoint)] if i)))
    return outs[0], outs[1]


class Pair:
    def __init__(self, real: etcdproc.EtcdServer, ours: etcdproc.EtcdServer) -> None:
        self.real, self.ours = real, ours
        self.ids: dict[str, str] = {}
        status = json.loads(ctl(ours, "endpoint", "status", "-w", "json").stdout)[0]["Status"]["header"]
        self.self_id = "{:x}".format(status["member_id"])
        self.cluster_id = status["cluster_id"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Fresh twins for this module's sequence (membership changes must not leak into the session twins)."""
    base = str(tmp_path_factory.mktemp("membv3"))
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcdproc.etcd_py_wrapper(base), base, token=TOKEN)
    yield Pair(real, ours)
    real.stop()
    ours.stop()
    etcdproc.cleanup_dir(base)


def member_id_for(urls: list[str], unix_second: int) -> int:
    """etcd's computeMemberId for `member add` (empty cluster name): sha1(sorted peer URLs + seconds)[:8]."""
    return struct.unpack(">Q", hashlib.sha1(("".join(sorted(urls)) + str(unix_second)).encode()).digest()[:8])[0]


# ---- the command sequence, in order (module-scoped pair) -------------------------------------------------------


def test_add_learner_same_answer_and_id_rule(pair):
    peer = peer_url()
    pair.learner_peer = peer
    t0 = int(time.time())
    r = ctl(pair.real, "member", "add", "l1", "--learner", f"--peer-urls={peer}")
    o = ctl(pair.ours, "member", "add", "l1", "--learner", f"--peer-urls={peer}")
    t1 = int(time.time())
    assert r.rc == o.rc == 0, (r, o)
    pair.ids = {pair.real.endpoint: new_id(r), pair.ours.endpoint: new_id(o)}
    assert canon(o, pair.ours, (new_id(o),)) == canon(r, pair.real, (new_id(r),))
    assert b'ETCD_INITIAL_CLUSTER_STATE="existing"' in o.stdout
    # Both IDs follow etcd's rule for the second they were made in (no cluster token in it).
    for res in (r, o):
        assert int(new_id(res), 16) in {member_id_for([peer], t) for t in range(t0, t1 + 1)}


@pytest.mark.parametrize("fmt", [[], ["-w", "json"], ["-w", "json", "--hex"], ["-w", "table"], ["-w", "fields"]])
def test_member_list_formats(pair, fmt):
    r, o = both(pair, "member", "list", *fmt)
    assert o == r
    assert o[0] == 0 and ("NEWID0" in o[1] or f"{NEWDEC}0" in o[1])


def test_learner_in_list_as_unstarted_learner(pair):
    o = ctl(pair.ours, "member", "list")
    line = f"{pair.ids[pair.ours.endpoint]}, unstarted, , {pair.learner_peer}, , true"
    assert line in o.stdout.decode().splitlines()


def test_refused_changes(pair):
    """Errors with etcd's texts and gRPC codes (in the client's retry log line): the learner is not in sync
    (promote), only one learner, a taken peer URL, unknown IDs, promoting a voter, removing the only voter."""
    cases = [
        ("member", "promote", "{new}"),
        ("member", "add", "l2", "--learner", f"--peer-urls={peer_url()}"),
        ("member", "add", "l3", "--learner", f"--peer-urls={peer_url()},{pair.learner_peer}"),  # another ID
        ("member", "promote", "1234"),
        ("member", "promote", "{self}"),
        ("member", "update", "1234", f"--peer-urls={peer_url()}"),
        ("member", "remove", "{self}"),
    ]
    texts = []
    for args in cases:
        r, o = both(pair, *args)
        assert o == r, args
        assert o[0] != 0
        texts.append(o[2].splitlines()[-1])
    assert texts == [
        "Error: etcdserver: can only promote a learner member which is in sync with leader",
        "Error: etcdserver: too many learner members in cluster",
        "Error: etcdserver: Peer URLs already exists",
        "Error: etcdserver: member not found",
        "Error: etcdserver: can only promote a learner member",
        "Error: etcdserver: member not found",
        "Error: etcdserver: re-configuration failed due to not enough started members",
    ]
    r, o = both(pair, "member", "remove", "{self}")
    assert "code = Unknown desc = etcdserver: re-configuration failed" in o[2]  # etcd's code for this one


def test_bad_peer_urls_over_grpc(pair):
    """etcdctl checks URLs itself; a client that does not gets etcd's InvalidArgument (before any auth check)."""
    import grpc

    from etcdctl_py.proto.etcdserverpb import rpc_pb2, rpc_pb2_grpc

    answers = []
    for srv in (pair.real, pair.ours):
        with grpc.insecure_channel(srv.endpoint) as ch:
            stub = rpc_pb2_grpc.ClusterStub(ch)
            got = []
            for urls in (["ftp://127.0.0.1:1"], ["http://127.0.0.1:1/path"], ["http://127.0.0.1"], [""]):
                try:
                    stub.MemberAdd(rpc_pb2.MemberAddRequest(peerURLs=urls, isLearner=True), timeout=10)
                    got.append("accepted")
                except grpc.RpcError as e:
                    got.append((e.code(), e.details()))
            answers.append(got)
    assert answers[1] == answers[0]
    assert answers[1][0] == (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid")


def test_update_then_promote_still_refused(pair):
    """etcd 3.5.1 drops the learner flag on update (lists it as a voter), but raft still has a learner that is not in
    sync: promote keeps failing the same way."""
    pair.updated_peers = f"{peer_url()},{pair.learner_peer}"  # kept in the given (unsorted) order
    r, o = both(pair, "member", "update", "{new}", f"--peer-urls={pair.updated_peers}")
    assert o == r and o[0] == 0 and o[1] == "Member NEWID0 updated in cluster " + f"{pair.cluster_id:16x}"
    r, o = both(pair, "member", "list")
    assert o == r and f"NEWID0, unstarted, , {pair.updated_peers}, , false" in o[1]
    r, o = both(pair, "member", "promote", "{new}")
    assert o == r and o[2].endswith("can only promote a learner member which is in sync with leader\n")


def test_raft_index_counts_conf_changes_like_etcd(pair):
    """Each ConfChange that reached raft took one index, refused at apply or not (refused before proposing: none)."""
    r, o = both(pair, "endpoint", "status", "-w", "json")
    strip = lambda s: re.sub(r'"dbSize(InUse)?":\d+', "", s)  # noqa: E731 - db page layout differs
    assert strip(o[1]) == strip(r[1])
    assert json.loads(o[1])[0]["Status"]["raftIndex"] > 4


def test_restart_keeps_changes(pair):
    """Clean restart of etcd-py: same members (updated URLs, flags), same cluster ID, same raft index."""
    before = [
        canon(ctl(pair.ours, *a), pair.ours, (pair.ids[pair.ours.endpoint],))
        for a in (("member", "list", "-w", "json"), ("endpoint", "status", "-w", "json"))
    ]
    pair.ours.stop()
    pair.ours.start()
    after = [
        canon(ctl(pair.ours, *a), pair.ours, (pair.ids[pair.ours.endpoint],))
        for a in (("member", "list", "-w", "json"), ("endpoint", "status", "-w", "json"))
    ]
    assert after[0] == before[0]
    assert json.loads(after[1][1])[0]["Status"]["raftIndex"] == json.loads(before[1][1])[0]["Status"]["raftIndex"]
    assert json.loads(after[0][1])["header"]["cluster_id"] == pair.cluster_id


def test_remove_and_remove_again(pair):
    r, o = both(pair, "member", "remove", "{new}")
    assert o == r and o[0] == 0 and o[1] == "Member NEWID0 removed from cluster " + f"{pair.cluster_id:16x}"
    for args in (
        ("member", "remove", "{new}"),
        ("member", "update", "{new}", f"--peer-urls={peer_url()}"),
        ("member", "promote", "{new}"),
    ):
        r, o = both(pair, *args)
        assert o == r and o[2].endswith("Error: etcdserver: member not found\n"), args
    for fmt in ([], ["-w", "json"]):
        r, o = both(pair, "member", "list", *fmt)
        assert o == r and "NEWID" not in o[1] and NEWDEC not in o[1]
    r, o = both(pair, "endpoint", "status", "-w", "json")
    assert json.loads(o[1])[0]["Status"]["raftIndex"] == json.loads(r[1])[0]["Status"]["raftIndex"]


def _conf_changes(data_dir: str) -> list[tuple[int, int, int, bytes]]:
    out = []
    for e in read_wal(os.path.join(data_dir, "member", "wal"), require_snapshot=False, repair=True).entries:
        if e.Type == raft_pb2.EntryConfChange:
            cc = raft_pb2.ConfChange.FromString(e.Data)
            out.append((e.Index, cc.type, cc.node_id, cc.context))
    return out


def _buckets(data_dir: str, *names: bytes) -> dict:
    db = DB(os.path.join(data_dir, "member", "snap", "db"))
    try:
        with db.view() as tx:
            return {n: {k: v for k, v in b.items()} for n, b in tx.buckets() if n in names}
    finally:
        db.close()


def test_files_hold_what_real_etcd_writes(pair):
    """After the sequence, both stopped: the WAL's ConfChanges (index, type, node, context) and the db's member
    buckets and confState are the same, up to the new member's ID."""
    pair.real.stop()
    pair.ours.stop()
    if True:
        rid, oid = int(pair.ids[pair.real.endpoint], 16), int(pair.ids[pair.ours.endpoint], 16)

        rc, oc = _conf_changes(pair.real.data_dir), _conf_changes(pair.ours.data_dir)
        # a member ID hashes the wall-clock second of its request: an add refused at apply (so never listed) that
        # the two sides made on either side of a second boundary has two IDs; pair them by their place in the WAL
        other_ids = {o[2]: r[2] for o, r in zip(oc, rc, strict=False) if o[2] != r[2] and o[2] != oid}

        def masked(obj, mid: int) -> str:
            text = repr(obj)
            if mid == oid:  # our side
                for ours_id, real_id in other_ids.items():
                    text = text.replace(str(ours_id), str(real_id)).replace(f"{ours_id:x}", f"{real_id:x}")
            return text.replace(str(mid), "NEW").replace(f"{mid:x}", "NEWHEX")

        # the first, the bootstrap ConfChange, is the local member as added (name, no client URLs) on both
        assert masked(oc, oid) == masked(rc, rid)
        # refused before proposing (not in sync, bad URLs, not enough started members) left no entry; refused at
        # apply (too many learners, URL taken, unknown/removed IDs, promoting a voter) did
        add, learner, update, remove = (
            raft_pb2.ConfChangeAddNode,
            raft_pb2.ConfChangeAddLearnerNode,
            raft_pb2.ConfChangeUpdateNode,
            raft_pb2.ConfChangeRemoveNode,
        )
        assert [t for _, t, _, _ in oc] == [
            add,
            learner,
            learner,
            learner,
            add,
            add,
            update,
            update,
            remove,
            remove,
            update,
            add,
        ]
        names = (b"members", b"members_removed")
        rb, ob = _buckets(pair.real.data_dir, *names, b"meta"), _buckets(pair.ours.data_dir, *names, b"meta")
        assert masked({n: ob[n] for n in names}, oid) == masked({n: rb[n] for n in names}, rid)
        assert ob[b"meta"][b"confState"] == rb[b"meta"][b"confState"]
        assert ob[b"meta"][b"consistent_index"] == rb[b"meta"][b"consistent_index"]


# ---- restart, crash replay, real etcd on etcd-py's data dir -------------------------------------------------------


@pytest.fixture
def solo(tmp_path):
    """One etcd-py (with the v2 API) and a way to start real etcd 3.5.1 on its data dir with the same identity."""
    ours = etcdproc.make_server(
        etcdproc.etcd_py_wrapper(str(tmp_path)), str(tmp_path), name="solo", token=TOKEN, extra=["--enable-v2"]
    )
    ours.start()
    yield ours
    ours.stop()


def real_on(srv: etcdproc.EtcdServer, base: str, data_dir: str | None = None) -> etcdproc.EtcdServer:
    """Real etcd 3.5.1 on `srv`'s data dir (or `data_dir`) with `srv`'s name, peer URL and token, its own ports."""
    real = etcdproc.make_server(
        etcdproc.distro_bin("etcd"), base, name=srv.name, token=TOKEN, data_dir=data_dir or srv.data_dir
    )
    for flag in ("--initial-advertise-peer-urls", "--initial-cluster"):
        real.argv[real.argv.index(flag) + 1] = srv.argv[srv.argv.index(flag) + 1]
    return real


def members_json(srv: etcdproc.EtcdServer) -> tuple[int, list]:
    res = ctl(srv, "member", "list", "-w", "json")
    assert res.rc == 0, res
    d = json.loads(res.stdout)
    ms = [{k: v for k, v in m.items() if k != "clientURLs"} for m in d["members"]]
    return d["header"]["cluster_id"], ms


def test_real_etcd_starts_on_etcd_py_dir_with_learner(solo, tmp_path):
    """etcd-py adds a learner; real etcd 3.5.1 on the same data dir lists the same members under the same cluster
    ID and serves the keys; the learner's removal there is seen by etcd-py afterwards."""
    peer = peer_url()
    add = ctl(solo, "member", "add", "l1", "--learner", f"--peer-urls={peer}")
    assert add.rc == 0, add
    mid = new_id(add)
    assert ctl(solo, "put", "k", "v").rc == 0
    ours_view = members_json(solo)
    solo.stop()
    real = real_on(solo, str(tmp_path))
    real.start()
    try:
        assert members_json(real) == ours_view
        assert ctl(real, "get", "k", "--print-value-only").stdout == b"v\n"
        assert ctl(real, "member", "remove", mid).rc == 0
    finally:
        real.stop()
    solo.start()
    cid, ms = members_json(solo)
    assert cid == ours_view[0] and [m["name"] for m in ms] == ["solo"]
    gone = ctl(solo, "member", "remove", mid)
    assert gone.rc != 0 and gone.stderr.endswith(b"Error: etcdserver: member not found\n")


def test_updates_survive_restart_and_real_etcd(solo, tmp_path):
    """An update never rewrites the db's members key (as in etcd 3.5.1): etcd-py rebuilds members from the WAL."""
    peer, peer2 = peer_url(), peer_url()
    mid = new_id(ctl(solo, "member", "add", "l1", "--learner", f"--peer-urls={peer}"))
    assert ctl(solo, "member", "update", mid, f"--peer-urls={peer2}").rc == 0
    view = members_json(solo)
    assert {"ID": int(mid, 16), "peerURLs": [peer2]} in view[1]
    solo.stop()
    solo.start()
    assert members_json(solo) == view
    solo.stop()
    stored = _buckets(solo.data_dir, b"members")[b"members"][mid.encode()]
    assert json.loads(stored) == {"id": int(mid, 16), "peerURLs": [peer], "isLearner": True}  # as added
    real = real_on(solo, str(tmp_path))
    real.start()
    try:
        assert members_json(real) == view
    finally:
        real.stop()
    solo.start()


def test_db_behind_wal_replays_conf_changes(solo, tmp_path):
    """A db that lags its WAL (a crash before the batched db commit): the ConfChange entries after the db's
    consistent index are replayed into the members bucket and confState."""
    solo.stop()
    old_db = str(tmp_path / "db.before")
    shutil.copy(os.path.join(solo.data_dir, "member", "snap", "db"), old_db)
    solo.start()
    peer = peer_url()
    mid = new_id(ctl(solo, "member", "add", "l1", "--learner", f"--peer-urls={peer}"))
    view = members_json(solo)
    solo.stop()
    shutil.copy(old_db, os.path.join(solo.data_dir, "member", "snap", "db"))  # the WAL has the add, the db not
    assert mid.encode() not in _buckets(solo.data_dir, b"members")[b"members"]
    solo.start()
    assert members_json(solo) == view
    solo.stop()
    b = _buckets(solo.data_dir, b"members", b"meta")
    assert json.loads(b[b"members"][mid.encode()])["isLearner"] is True
    assert int(mid, 16) in json.loads(b[b"meta"][b"confState"])["learners"]
    solo.start()


def test_v3_learner_in_v2_members_and_v2_removal_logged(solo):
    """One membership for both APIs: a v3-added learner is in /v2/members; a v2 removal is a WAL RemoveNode entry,
    kept after a restart and refused again on v3."""
    peer = peer_url()
    mid = new_id(ctl(solo, "member", "add", "l1", "--learner", f"--peer-urls={peer}"))
    with urllib.request.urlopen(solo.client_url + "/v2/members", timeout=10) as r:
        v2 = json.loads(r.read())["members"]
    assert {"id": mid, "name": "", "peerURLs": [peer], "clientURLs": []} in v2
    req = urllib.request.Request(f"{solo.client_url}/v2/members/{mid}", method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    assert mid not in ctl(solo, "member", "list").stdout.decode()
    solo.stop()
    assert [(t, n) for _, t, n, _ in _conf_changes(solo.data_dir)][-1] == (raft_pb2.ConfChangeRemoveNode, int(mid, 16))
    solo.start()
    assert mid not in ctl(solo, "member", "list").stdout.decode()
    again = ctl(solo, "member", "remove", mid)
    assert again.rc != 0 and again.stderr.endswith(b"Error: etcdserver: member not found\n")


def test_snapshot_with_learner_real_etcd_starts(tmp_path):
    """--snapshot-count: the .snap (v2 store + ConfState) names the learner and the removed member; real etcd
    started on the data dir lists the same members."""
    ours = etcdproc.make_server(
        etcdproc.etcd_py_wrapper(str(tmp_path)),
        str(tmp_path),
        name="snappy",
        token=TOKEN,
        extra=["--snapshot-count", "5"],
    )
    ours.start()
    try:
        gone = new_id(ctl(ours, "member", "add", "l0", "--learner", f"--peer-urls={peer_url()}"))
        assert ctl(ours, "member", "remove", gone).rc == 0
        time.sleep(1.05)  # a new second: a new ID for the next learner even with the same URL rule
        kept = new_id(ctl(ours, "member", "add", "l1", "--learner", f"--peer-urls={peer_url()}"))
        for i in range(8):
            assert ctl(ours, "put", f"k{i}", "v").rc == 0
        view = members_json(ours)
    finally:
        ours.stop()
    assert [n for n in os.listdir(os.path.join(ours.data_dir, "member", "snap")) if n.endswith(".snap")]
    real = real_on(ours, str(tmp_path))
    real.start()
    try:
        assert members_json(real) == view
        assert any(m["ID"] == int(kept, 16) and m.get("isLearner") for m in view[1])
        res = ctl(real, "member", "remove", gone)
        assert res.rc != 0 and res.stderr.endswith(b"Error: etcdserver: member not found\n")
    finally:
        real.stop()


def test_voting_member_added_like_etcd_with_warning(tmp_path):
    """A voter added to a one-member cluster: the same answer as real etcd (which then has lost its quorum);
    etcd-py keeps serving and warns; restarted, it refuses to serve alone until --force-new-cluster."""
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"), etcdproc.etcd_py_wrapper(str(tmp_path)), str(tmp_path), token=TOKEN + "-voter"
    )
    try:
        ours.argv[ours.argv.index("--log-level") + 1] = "warn"
        ours.stop()
        ours.start()
        peer = peer_url()
        r = ctl(real, "member", "add", "v1", f"--peer-urls={peer}")
        o = ctl(ours, "member", "add", "v1", f"--peer-urls={peer}")
        assert r.rc == o.rc == 0
        assert canon(o, ours, (new_id(o),)) == canon(r, real, (new_id(r),))
        assert ctl(ours, "put", "still", "serving").rc == 0
        assert "added a voting member" in ours.log()
        ours.stop()
        # a restart is refused (alone it would serve without the new voter's quorum) ...
        ours.start(wait=False)
        assert ours.proc.wait(30) == 1
        assert "--force-new-cluster" in ours.log() and "Traceback" not in ours.log()
        # ... until --force-new-cluster makes it a one-member cluster again, as real etcd's flag does
        ours.argv.append("--force-new-cluster")
        ours.start()
        listed = ctl(ours, "member", "list").stdout.decode()
        assert new_id(o) not in listed and len(listed.splitlines()) == 1
        assert ctl(ours, "put", "alone", "again").rc == 0
    finally:
        real.stop()
        ours.stop()
