"""`member list|add|promote|update|remove` on a real three-member etcd 3.5.1 cluster: real etcdctl vs etcdctl-py.

Both tools talk to the same cluster through the same endpoint, so read-only output must match byte for byte.
A membership change is run as a whole life cycle by each tool in turn on the same cluster (add a member with
the same peer and client URLs, start it from the `ETCD_*` lines the tool printed, promote it, update it, remove
it), and the two transcripts are compared. The only thing that cannot match is the new member's ID (etcd draws
it from the clock), so ours is substituted by real's in hex and decimal; and because members come in ID order,
member lists and ETCD_INITIAL_CLUSTER are compared after sorting their entries.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests import difftest, etcdproc
from tests.cluster.fixtures_members import TOOLS, ProcCluster, etcd_env_lines, start_cluster, started_member

FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def cl(tmp_path_factory):
    """A fresh three-member cluster that may take membership changes (strict reconfig check satisfied)."""
    with etcdproc.scratch_dir(tmp_path_factory, "members") as scratch:
        cluster = start_cluster(str(scratch), settle=True)
        yield cluster
        cluster.stop_all()


def same(args: list[str], real: difftest.Result, mine: difftest.Result, norm=lambda b: b) -> None:  # noqa: ANN001
    assert norm(mine.stdout) == norm(real.stdout), f"stdout differs for {args}:\nreal: {real}\nours: {mine}"
    assert mine.rc == real.rc, f"exit code differs for {args}:\nreal: {real}\nours: {mine}"
    assert norm(difftest.mask_stderr(mine.stderr)) == norm(difftest.mask_stderr(real.stderr)), (
        f"stderr differs for {args}:\nreal: {real}\nours: {mine}"
    )


def both(cl: ProcCluster, *args: str, ep: int = 0) -> tuple[difftest.Result, difftest.Result]:
    eps = [cl.endpoints[ep]]
    return TOOLS["real"](*args, endpoints=eps), TOOLS["ours"](*args, endpoints=eps)


# ---------------------------------------------------------------- read-only: bytes must match


@pytest.mark.parametrize("fmt", FORMATS)
def test_member_list_three_members(cl, fmt):
    """Through each member for simple (what differs is who answers), through one for the others."""
    for ep in range(3) if fmt == "simple" else [1]:
        args = ["member", "list", "-w", fmt]
        same(args, *both(cl, *args, ep=ep))
        args.append("--hex")
        same(args, *both(cl, *args, ep=ep))
    real, _ = both(cl, "member", "list", "-w", "json")
    doc = json.loads(real.stdout)
    assert sorted(m["name"] for m in doc["members"]) == ["m1", "m2", "m3"]
    assert [m["ID"] for m in doc["members"]] == sorted(m["ID"] for m in doc["members"])  # ID order


def test_member_list_with_all_endpoints(cl):
    """Simple output has no header, so which member answers does not matter."""
    for fmt in ("simple", "table"):
        args = ["member", "list", "-w", fmt]
        same(args, TOOLS["real"](*args, endpoints=cl.endpoints), TOOLS["ours"](*args, endpoints=cl.endpoints))


# ---------------------------------------------------------------- life cycle of a fourth member


def _sort_entries(b: bytes) -> bytes:
    """Members come in (random) ID order: sort what lists them (in whichever format the output is)."""
    b = re.sub(rb'"(raftIndex|raftAppliedIndex|dbSize|dbSizeInUse)":[0-9]+', rb'"\1":0', b)
    b = re.sub(
        rb'ETCD_INITIAL_CLUSTER="((?:[^"\\]|\\.)*)"',
        lambda m: b'ETCD_INITIAL_CLUSTER="' + b",".join(sorted(m.group(1).split(b","))) + b'"',
        b,
    )
    if b.startswith(b'[{"Endpoint"'):
        return json.dumps(sorted(json.loads(b), key=lambda e: e["Endpoint"]), sort_keys=True).encode()
    if b.startswith(b'{"header"'):
        doc = json.loads(b)
        if "members" in doc:
            doc["members"].sort(key=lambda m: m.get("peerURLs", []))
        return json.dumps(doc, sort_keys=True).encode()
    if b.startswith(b"+-"):  # an ID shorter than 16 hex digits is padded: compare rows without padding
        lines = [re.sub(rb"[- ]+", b" ", x) for x in b.split(b"\n")]
        return b"\n".join(lines[:3] + sorted(lines[3:-2]) + lines[-2:])
    if b.startswith(b'"ClusterID" : '):  # header lines, then one block per member starting at its "ID"
        blocks = re.split(rb'(?m)^(?="ID" : )', b)
        return blocks[0] + b"".join(sorted(blocks[1:]))
    if re.match(rb"^[0-9a-f]+, (un)?started, ", b):
        return b"\n".join(sorted(b.split(b"\n")))
    return b


def id_subst(b: bytes, ours: int, real: int) -> bytes:
    """Our new member's ID -> real's: space-padded `Member %16x` first (an ID may have fewer than 16 hex
    digits), then bare hex and decimal."""
    b = b.replace(b"Member %16x " % ours, b"Member %16x " % real)
    for f in (b"%x", b"%d"):
        b = b.replace(f % ours, f % real)
    return b


def _retry(tool, args: list[str], eps: list[str], until, timeout: float = 15) -> tuple[difftest.Result, int]:  # noqa: ANN001
    """Repeat a command while the cluster is not ready for it (returns the result and how many failures)."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        r = tool(*args, endpoints=eps)
        if until(r) or time.monotonic() > deadline:
            return r, n
        n += 1
        time.sleep(0.1)


def life_cycle(
    cl: ProcCluster, tool_name: str, fmt: str, learner: bool, peer_port: int, client_port: int
) -> tuple[int, list[tuple[list[str], difftest.Result]]]:
    """Add, start, (promote,) update and remove a member with one tool; returns its ID and the transcript."""
    tool = TOOLS[tool_name]
    # through the leader: a follower forwards a promote of a removed member to the leader until the request's
    # deadline, and then whether the server's "request timed out" or the client's own deadline comes first is a race
    eps = [cl.endpoints[cl.leader()]]
    log: list[tuple[list[str], difftest.Result]] = []

    def step(*args: str) -> difftest.Result:
        r = tool(*args, endpoints=eps)
        log.append((list(args), r))
        return r

    peer = f"http://127.0.0.1:{peer_port}"
    add = ["member", "add", "m4", f"--peer-urls={peer}", *(["--learner"] if learner else [])]
    # the cluster refuses changes until its members have been connected for 5 s (same answer for both tools)
    r, _ = _retry(tool, add, eps, lambda r: b"unhealthy cluster" not in r.stderr)
    log.append((add, r))
    assert r.rc == 0, r
    cl.last_add = time.time()
    mid = int(re.match(rb"Member +([0-9a-f]+) added", r.stdout).group(1), 16)
    env = etcd_env_lines(r.stdout)
    assert env["ETCD_NAME"] == "m4" and env["ETCD_INITIAL_CLUSTER_STATE"] == "existing"
    assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == peer
    assert f"m4={peer}" in env["ETCD_INITIAL_CLUSTER"].split(",")
    step("member", "list", "-w", fmt)  # m4 unstarted
    if learner:
        step("member", "promote", f"{mid:x}")  # not started: not in sync with the leader
    srv = started_member(cl, env, client_port, peer_port, tool_name)
    try:
        # started once it has published its name and client URL
        r, _ = _retry(tool, ["member", "list"], eps, lambda r: b", started, m4, " in r.stdout)
        assert b", started, m4, " in r.stdout, r
        if learner:
            # the started learner answers Status itself: "isLearner":true (raft indexes and sizes masked)
            r, _ = _retry(
                tool,
                ["endpoint", "status", "--cluster", "-w", "json"],
                eps,
                lambda r: r.stdout.count(b'"isLearner":true') == 1,
            )
            log.append((["endpoint", "status", "--cluster", "-w", "json"], r))
            # promoting needs the learner to have caught up; how many tries that takes is timing, not output
            r, _ = _retry(
                tool,
                ["member", "promote", f"{mid:x}", "-w", fmt],
                eps,
                lambda r: b"in sync with leader" not in r.stderr,
            )
            log.append((["member", "promote", f"{mid:x}", "-w", fmt], r))
            step("member", "promote", f"{mid:x}")  # a voter now
        step("member", "list", "-w", fmt)
        step("member", "list", "-w", "json", "--hex")
        step("member", "update", f"{mid:x}", f"--peer-urls={peer}", "-w", fmt)
        step("member", "remove", f"{mid:x}", "-w", fmt)
        srv.proc.wait(10)  # a removed member shuts itself down
    finally:
        srv.stop()
    step("member", "remove", f"{mid:x}")
    step("member", "update", f"{mid:x}", f"--peer-urls={peer}")
    step("member", "promote", f"{mid:x}")
    step("member", "list", "-w", fmt)
    return mid, log


@pytest.mark.parametrize("fmt,learner", [("simple", True), ("json", True), ("fields", True), ("table", False)])
def test_member_life_cycle(cl, fmt, learner):
    peer_port, client_port = etcdproc.free_port(), etcdproc.free_port()
    real_id, real_log = life_cycle(cl, "real", fmt, learner, peer_port, client_port)
    # etcd derives a new member's ID from its peer URLs and the Unix second: adding the same URL again within
    # that second would reproduce the removed ID ("etcdserver: member not found")
    time.sleep(max(0.0, int(cl.last_add) + 1.05 - time.time()))
    our_id, our_log = life_cycle(cl, "ours", fmt, learner, peer_port, client_port)
    assert real_id != our_id

    def norm(b: bytes) -> bytes:
        return _sort_entries(id_subst(b, our_id, real_id))

    assert [[norm(x.encode()) for x in a] for a, _ in our_log] == [[x.encode() for x in a] for a, _ in real_log]
    for (args, real), (_, mine) in zip(real_log, our_log, strict=True):
        if args[:2] == ["member", "promote"] and fmt != "simple" and b"panic" in real.stderr:
            _check_promote_output(cl, fmt, real, mine)
            continue
        same(args, real, mine, norm)
    # and the cluster is back to its three members, byte for byte
    same(["member", "list", "-w", "json"], *both(cl, "member", "list", "-w", "json"))


def _check_promote_output(cl: ProcCluster, fmt: str, real: difftest.Result, mine: difftest.Result) -> None:
    """etcdctl 3.5.1 panics after a successful promote in non-simple formats (nil printer); we print what
    3.5.20+ prints: the MemberPromoteResponse as JSON, `fields not supported as output format` (exit 4)."""
    assert real.rc == 2 and b"panic: " in real.stderr
    if fmt == "json":
        assert mine.rc == 0 and mine.stderr == b"", mine
        doc = json.loads(mine.stdout)
        # the life cycle talks to the leader; so does this
        listed = json.loads(TOOLS["real"]("member", "list", "-w", "json", endpoints=[cl.endpoints[cl.leader()]]).stdout)
        assert doc["header"]["cluster_id"] == listed["header"]["cluster_id"]
        assert doc["header"]["member_id"] == listed["header"]["member_id"]
        assert {m["name"] for m in doc["members"]} == {"m1", "m2", "m3", "m4"}
        assert not any(m.get("isLearner") for m in doc["members"])
    else:
        assert (mine.rc, mine.stdout) == (4, b""), mine
        assert mine.stderr == f"Error: {fmt} not supported as output format\n".encode()


# ---------------------------------------------------------------- errors on a three-member cluster


def test_member_errors(cl):
    real, _ = both(cl, "member", "list", "-w", "json")
    members = json.loads(real.stdout)["members"]
    voter = "{:x}".format(members[0]["ID"])
    other_peer = members[1]["peerURLs"][0]
    unknown = "%x" % (max(m["ID"] for m in members) + 1)
    cases = [
        ["member", "promote", voter],  # etcdserver: can only promote a learner member
        ["member", "promote", unknown],
        ["member", "remove", unknown],
        ["member", "update", unknown, "--peer-urls=http://127.0.0.1:1"],
        ["member", "update", voter, f"--peer-urls={other_peer}"],  # Peer URLs already exists
        ["member", "add", "dup", f"--peer-urls={other_peer}"],
        ["member", "add", "dup", f"--peer-urls={other_peer}", "--learner", "-w", "json"],
        ["member", "remove", "xyz"],
        ["member", "promote", "-1"],
        ["member", "update", "1ffffffffffffffff"],
        ["member", "promote", voter, "extra"],
    ]
    for args in cases:
        real, mine = both(cl, *args)
        same(args, real, mine)
        assert real.rc != 0
    real, _ = both(cl, "member", "promote", voter)
    assert real.stderr.endswith(b"Error: etcdserver: can only promote a learner member\n")


def test_member_add_quoted_name_and_two_peer_urls(cl):
    """ETCD_* lines are Go %q strings: a name with a quote and non-ASCII letters, two peer URLs (the member
    is listed once per URL in ETCD_INITIAL_CLUSTER); a voter this time, never started, removed again."""
    from etcdctl_py.client import Client

    urls = f"http://127.0.0.1:{etcdproc.free_port()},http://127.0.0.1:{etcdproc.free_port()}"
    args = ["member", "add", 'new "m5" ü\t', f"--peer-urls={urls}"]
    eps = [cl.endpoints[cl.leader()]]
    out = {}
    for tool in ("real", "ours"):
        time.sleep(max(0.0, int(cl.last_add) + 1.05 - time.time()))  # a fresh ID (see test_member_life_cycle)
        r, _ = _retry(TOOLS[tool], args, eps, lambda r: b"unhealthy cluster" not in r.stderr)
        cl.last_add = time.time()
        assert r.rc == 0, r
        mid = int(re.match(rb"Member +([0-9a-f]+) added", r.stdout).group(1), 16)
        listed = TOOLS[tool]("member", "list", "-w", "table", endpoints=eps)
        with Client(eps) as c:
            c.cluster.member_remove(mid)
        out[tool] = (mid, r, listed)
    (rid, real, rlist), (oid, mine, olist) = out["real"], out["ours"]

    def norm(b: bytes) -> bytes:
        return _sort_entries(id_subst(b, oid, rid))

    same(args, real, mine, norm)
    same(["member", "list", "-w", "table"], rlist, olist, norm)
    env = etcd_env_lines(mine.stdout)
    assert env["ETCD_NAME"] == 'new "m5" ü\t' and env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == urls
    assert b'ETCD_NAME="new \\"m5\\" \xc3\xbc\\t"\n' in real.stdout
    assert sorted(env["ETCD_INITIAL_CLUSTER"].split(","))[-2:] == sorted(f'new "m5" ü\t={u}' for u in urls.split(","))
    assert b"| unstarted |" in olist.stdout
