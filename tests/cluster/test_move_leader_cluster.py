"""`move-leader` on a real three-member etcd 3.5.1 cluster: real etcdctl vs etcdctl-py.

Each tool moves leadership from the same leader to the same follower (and the test moves it back in between),
so the outputs name the same IDs and must match byte for byte (etcd answers MoveLeader without a response
header, so no raft term shows up in the json/protobuf/fields outputs).
"""

from __future__ import annotations

import time

import pytest

from tests import difftest, etcdproc
from tests.cluster.fixtures_members import TOOLS, ProcCluster, start_cluster

FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def cl(tmp_path_factory):
    with etcdproc.scratch_dir(tmp_path_factory, "moveleader") as scratch:
        cluster = start_cluster(str(scratch))
        yield cluster
        cluster.stop_all()


def transfer(cl: ProcCluster, to: int) -> None:
    """Put leadership on member `to` with the client library (restores the starting point between tools)."""
    from etcdctl_py.client import Client

    lead = cl.leader()
    if lead != to:
        with Client([cl.endpoints[lead]]) as c:
            c.maintenance.move_leader(cl.member_id(to))
    wait_leader(cl, to)


def wait_leader(cl: ProcCluster, i: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while cl.leader() != i:
        assert time.monotonic() < deadline, f"member {i} did not become leader"
        time.sleep(0.02)


def term(cl: ProcCluster) -> int:
    return cl.status(cl.leader()).header.raft_term


@pytest.mark.parametrize("fmt", FORMATS)
def test_move_leader_to_follower(cl, fmt):
    lead = cl.leader()
    follower = (lead + 1) % 3
    target = f"{cl.member_id(follower):x}"
    args = ["move-leader", target, "-w", fmt]
    t0 = term(cl)
    real = TOOLS["real"](*args, endpoints=cl.endpoints)
    wait_leader(cl, follower)  # the transfer happens whatever the format (table fails after it)
    transfer(cl, lead)
    assert term(cl) == t0 + 2
    mine = TOOLS["ours"](*args, endpoints=cl.endpoints)
    wait_leader(cl, follower)
    transfer(cl, lead)
    assert (mine.stdout, mine.rc, mine.stderr) == (real.stdout, real.rc, real.stderr), f"real: {real}\nours: {mine}"
    expected = {"json": b"{}\n", "protobuf": b""}
    if fmt in expected:
        assert (real.stdout, real.rc) == (expected[fmt], 0)
    if fmt in ("fields", "table"):  # refused after the transfer was made
        assert (real.rc, real.stderr) == (4, f"Error: {fmt} not supported as output format\n".encode())
    if fmt == "simple":
        assert real.stdout == b"Leadership transferred from %x to %s\n" % (cl.member_id(lead), target.encode())


@pytest.mark.parametrize("order", ["leader-first", "leader-last"])
def test_move_leader_endpoint_order(cl, order):
    """etcdctl asks each endpoint in turn for its status and sends the request to the first leader found."""
    lead = cl.leader()
    others = [i for i in range(3) if i != lead]
    idx = [lead, *others] if order == "leader-first" else [*others, lead]
    eps = [cl.endpoints[i] for i in idx]
    target = f"{cl.member_id(others[0]):x}"
    for tool in ("real", "ours"):
        r = TOOLS[tool]("move-leader", target, endpoints=eps)
        assert (r.rc, r.stderr) == (0, b""), r
        assert r.stdout == b"Leadership transferred from %x to %s\n" % (cl.member_id(lead), target.encode())
        wait_leader(cl, others[0])
        transfer(cl, lead)


def test_move_leader_to_the_leader_itself(cl):
    lead = cl.leader()
    for fmt in ("simple", "json"):
        args = ["move-leader", f"{cl.member_id(lead):x}", "-w", fmt]
        real, mine = TOOLS["real"](*args, endpoints=cl.endpoints), TOOLS["ours"](*args, endpoints=cl.endpoints)
        assert (mine.stdout, mine.rc, mine.stderr) == (real.stdout, real.rc, real.stderr)
        assert real.rc == 0
    assert cl.leader() == lead


def _same(args: list[str], real: difftest.Result, mine: difftest.Result) -> None:
    assert mine.stdout == real.stdout, f"{args}:\nreal: {real}\nours: {mine}"
    assert mine.rc == real.rc, f"{args}:\nreal: {real}\nours: {mine}"
    assert difftest.mask_stderr(mine.stderr) == difftest.mask_stderr(real.stderr), (
        f"{args}:\nreal: {real}\nours: {mine}"
    )


def test_move_leader_errors(cl):
    lead = cl.leader()
    followers = [cl.endpoints[i] for i in range(3) if i != lead]
    ids = [cl.member_id(i) for i in range(3)]
    target = f"{ids[(lead + 1) % 3]:x}"
    unknown = "%x" % (max(ids) + 1)
    cases = [
        (["move-leader", target], followers),  # no leader endpoint given at [a b]
        (["move-leader", target, "-w", "json"], followers[:1]),
        (["move-leader", unknown], cl.endpoints),  # etcdserver: bad leader transferee
        (["move-leader", "xyz"], cl.endpoints),
        (["move-leader", "-5"], cl.endpoints),
        (["move-leader", "1ffffffffffffffff"], cl.endpoints),
        (["move-leader"], cl.endpoints),
        (["move-leader", target, target], cl.endpoints),
    ]
    for args, eps in cases:
        real, mine = TOOLS["real"](*args, endpoints=eps), TOOLS["ours"](*args, endpoints=eps)
        _same(args, real, mine)
        assert real.rc != 0
    real = TOOLS["real"]("move-leader", target, endpoints=followers)
    assert real.stderr == b"Error: no leader endpoint given at [%s]\n" % " ".join(followers).encode()
    real = TOOLS["real"]("move-leader", unknown, endpoints=cl.endpoints)
    assert real.stderr.endswith(b"Error: etcdserver: bad leader transferee\n")
    assert cl.leader() == lead


def test_move_leader_dead_endpoint_first(cl):
    """The status of an endpoint that does not answer ends the command (etcdctl does not skip it)."""
    lead = cl.leader()
    dead = f"127.0.0.1:{etcdproc.free_port()}"
    args = ["--dial-timeout=1s", "--command-timeout=2s", "move-leader", f"{cl.member_id((lead + 1) % 3):x}"]
    eps = [dead, cl.endpoints[lead]]
    real, mine = TOOLS["real"](*args, endpoints=eps), TOOLS["ours"](*args, endpoints=eps)
    _same(args, real, mine)
    assert real.rc != 0 and cl.leader() == lead


def test_move_leader_from_env_endpoints(cl):
    """etcdctl 3.5.0-3.5.4 dies on its own ETCDCTL_ENDPOINTS ("conflicting environment variable"); we read the
    configuration once, as 3.5.5+ does, and move the leader."""
    lead = cl.leader()
    follower = (lead + 2) % 3
    env = {"ETCDCTL_ENDPOINTS": ",".join(cl.endpoints)}
    real = difftest.run([etcdproc.distro_bin("etcdctl"), "move-leader", f"{cl.member_id(follower):x}"], env=env)
    assert real.rc != 0 and b"conflicting environment variable" in real.stderr
    assert cl.leader() == lead
    mine = difftest.run([*difftest.ETCDCTL_PY, "move-leader", f"{cl.member_id(follower):x}"], env=env)
    assert (mine.rc, mine.stderr) == (0, b""), mine
    assert mine.stdout == b"Leadership transferred from %x to %x\n" % (cl.member_id(lead), cl.member_id(follower))
    wait_leader(cl, follower)
    transfer(cl, lead)


def test_move_leader_library_errors(cl):
    """What the CLI cannot reach deterministically: a follower refuses (`etcdserver: not leader`)."""
    from etcdctl_py.client import Client
    from etcdctl_py.client.errors import EtcdError

    lead = cl.leader()
    follower = (lead + 1) % 3
    with Client([cl.endpoints[follower]]) as c:
        with pytest.raises(EtcdError, match="^etcdserver: not leader$"):
            c.maintenance.move_leader(cl.member_id(lead))
    with Client([cl.endpoints[lead]]) as c:
        with pytest.raises(EtcdError, match="^etcdserver: bad leader transferee$"):
            c.maintenance.move_leader(12345)
    assert cl.leader() == lead
