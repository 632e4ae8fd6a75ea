"""v3election: gRPC Campaign/Proclaim/Leader/Observe/Resign and `etcdctl elect`, real etcd 3.5.1
vs etcd-py (private twins: election keys embed random lease IDs, so they must not reach the
shared twins whose hashes other modules compare)."""

from __future__ import annotations

import re
import signal
import threading
import time

import grpc
import pytest

from etcdctl_py.client.kv import prefix_end
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from etcdctl_py.proto.v3electionpb import v3election_pb2 as epb
from etcdctl_py.proto.v3electionpb import v3election_pb2_grpc as epbg
from tests import etcdproc
from tests.cli.verbdiff import Proc
from tests.server.servertools import mask


@pytest.fixture(scope="module")
def etwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="elect-twins")
    yield real, ours
    real.stop()
    ours.stop()


def _err(fn):
    try:
        return fn()
    except grpc.RpcError as e:
        return (e.code().name, e.details())


def _scenario(endpoint: str) -> tuple[list, dict]:
    """One fixed sequence of election calls; returns printable results and the lease IDs used."""
    out: list = []
    with grpc.insecure_channel(endpoint) as ch:
        el, lease = epbg.ElectionStub(ch), pbg.LeaseStub(ch)
        l1 = lease.LeaseGrant(pb.LeaseGrantRequest(TTL=60)).ID
        l2 = lease.LeaseGrant(pb.LeaseGrantRequest(TTL=60)).ID
        ids = {"L1": l1, "L2": l2}
        out.append(_err(lambda: el.Leader(epb.LeaderRequest(name=b"e1"))))
        c1 = el.Campaign(epb.CampaignRequest(name=b"e1", lease=l1, value=b"v1"))
        out.append(c1)
        out.append(el.Leader(epb.LeaderRequest(name=b"e1")))
        observed: list = []
        obs = el.Observe(epb.LeaderRequest(name=b"e1"))

        def watch() -> None:
            try:
                for r in obs:
                    observed.append(r)
            except grpc.RpcError:
                pass

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        second: list = []
        t2 = threading.Thread(
            target=lambda: second.append(el.Campaign(epb.CampaignRequest(name=b"e1", lease=l2, value=b"v2"))),
            daemon=True,
        )
        t2.start()
        etcdproc.wait_until(lambda: _count(ch, b"e1/") == 2, 10, "the second candidate's key")
        time.sleep(0.5)  # deliberate: time for a wrong server to answer the blocked campaign
        out.append(("second blocked", not second))
        out.append(el.Proclaim(epb.ProclaimRequest(leader=c1.leader, value=b"v1b")))
        bad = epb.LeaderKey(name=b"e1", key=c1.leader.key, rev=c1.leader.rev + 100, lease=l1)
        out.append(_err(lambda: el.Proclaim(epb.ProclaimRequest(leader=bad, value=b"x"))))
        out.append(_err(lambda: el.Proclaim(epb.ProclaimRequest(value=b"x"))))
        out.append(_err(lambda: el.Resign(epb.ResignRequest())))
        out.append(el.Resign(epb.ResignRequest(leader=bad)))
        out.append(el.Leader(epb.LeaderRequest(name=b"e1")))
        out.append(el.Resign(epb.ResignRequest(leader=c1.leader)))
        t2.join(10)
        out.append(second)
        out.append(el.Leader(epb.LeaderRequest(name=b"e1")))
        # same value again from the same lease: no new key, no proclaim
        out.append(el.Campaign(epb.CampaignRequest(name=b"e1", lease=l2, value=b"v2")))
        # a different value from the same lease: the recipe proclaims it
        out.append(el.Campaign(epb.CampaignRequest(name=b"e1", lease=l2, value=b"v3")))
        out.append(_err(lambda: el.Campaign(epb.CampaignRequest(name=b"e2", lease=12345, value=b"x"))))
        # the observer has v3 before the revoke (else its response may carry the revoke's revision in its header)
        etcdproc.wait_until(lambda: any(r.kv.value == b"v3" for r in observed), 10, "the observer to see v3")
        lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=l2))
        time.sleep(0.5)  # deliberate: time for a (wrong) event after the revoke to arrive
        obs.cancel()
        t.join(5)
        out.append(("observed", observed))
        out.append(_err(lambda: el.Leader(epb.LeaderRequest(name=b"e1"))))
    return out, ids


def _count(ch: grpc.Channel, prefix: bytes) -> int:
    """How many keys start with prefix (an election's candidates)."""
    return (
        pbg.KVStub(ch)
        .Range(pb.RangeRequest(key=prefix, range_end=prefix_end(prefix), count_only=True), timeout=5)
        .count
    )


def _norm(results: list, ids: dict) -> str:
    text = repr(results)
    for name, lid in ids.items():
        text = text.replace(str(lid), name).replace(repr((f"{lid:x}").encode())[2:-1], name)
    return text


def test_election_grpc_parity(etwins):
    real, ours = etwins
    a = _norm(*_scenario(real.endpoint))
    b = _norm(*_scenario(ours.endpoint))
    assert b == a
    assert "v1b" in a and "election: not leader" in a and "election: no leader" in a


def _elect(endpoint: str, *args: str) -> Proc:
    return Proc([etcdproc.distro_bin("etcdctl"), f"--endpoints={endpoint}", "elect", *args])


def _elect_run(endpoint: str) -> list[tuple[int | None, str, str]]:
    """An observer, p1 elected, p2 waiting; p1 resigns (SIGINT) so p2 takes over, then p2 resigns."""
    obs = _elect(endpoint, "-l", "ctlelect")
    first = _elect(endpoint, "ctlelect", "p1")
    second = None
    try:
        etcdproc.wait_until(lambda: b"p1\n" in first.out and b"p1\n" in obs.out, 10, "p1 elected and observed")
        second = _elect(endpoint, "ctlelect", "p2")
        with grpc.insecure_channel(endpoint) as ch:
            etcdproc.wait_until(lambda: _count(ch, b"ctlelect/") == 2, 10, "p2's candidate key")
        f = first.finish(signal.SIGINT)  # resign: p2 takes over
        etcdproc.wait_until(lambda: b"p2\n" in second.out and b"p2\n" in obs.out, 10, "p2 elected and observed")
        s = second.finish(signal.SIGINT)
        time.sleep(0.5)  # deliberate: time for a (wrong) observer line after p2 resigned
        o = obs.finish(signal.SIGINT)
    finally:
        for p in (obs, first, second):  # a failed wait must not leave a command running
            if p is not None and p.p.poll() is None:
                p.p.kill()
                p.p.wait()
    norm = lambda b: re.sub(rb"/[0-9a-f]{1,16}\n", b"/ID\n", b).decode()  # noqa: E731
    return [(r.rc, norm(r.stdout), mask(norm(r.stderr))) for r in (f, s, o)]


def test_etcdctl_elect_campaign_and_observe(etwins):
    outs = [_elect_run(srv.endpoint) for srv in etwins]
    assert outs[1] == outs[0]
    assert outs[0][2][1] == "ctlelect/ID\np1\nctlelect/ID\np2\n"


def test_lock_and_election_relay_client_errors(etwins):
    """etcd's lock/election servers relay their in-process client's errors as code Unknown."""
    from etcdctl_py.proto.v3lockpb import v3lock_pb2 as lpb
    from etcdctl_py.proto.v3lockpb import v3lock_pb2_grpc as lpbg

    got = []
    for srv in etwins:
        with grpc.insecure_channel(srv.endpoint) as ch:
            got.append(
                [
                    _err(lambda: lpbg.LockStub(ch).Lock(lpb.LockRequest(name=b"x", lease=123))),
                    _err(lambda: epbg.ElectionStub(ch).Campaign(epb.CampaignRequest(name=b"x", lease=123, value=b"v"))),
                ]
            )
    assert got[1] == got[0]
    assert got[0][0] == ("UNKNOWN", "etcdserver: requested lease not found")


def test_lock_without_lease_takes_a_60s_session_lease(etwins):
    """v3lock's Lock with no lease grants a session lease of 60 s (concurrency.NewSession) and holds the lock with
    it, as etcd does; the holder's key names that lease."""
    from etcdctl_py.proto.v3lockpb import v3lock_pb2 as lpb
    from etcdctl_py.proto.v3lockpb import v3lock_pb2_grpc as lpbg

    got = []
    for srv in etwins:
        with grpc.insecure_channel(srv.endpoint) as ch:
            key = lpbg.LockStub(ch).Lock(lpb.LockRequest(name=b"sessionless"), timeout=10).key
            kv = pbg.KVStub(ch).Range(pb.RangeRequest(key=key)).kvs[0]
            ttl = pbg.LeaseStub(ch).LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=kv.lease))
            lpbg.LockStub(ch).Unlock(lpb.UnlockRequest(key=key))
            pbg.LeaseStub(ch).LeaseRevoke(pb.LeaseRevokeRequest(ID=kv.lease))
            got.append((key == b"sessionless/%x" % kv.lease, kv.lease != 0, ttl.grantedTTL))
    assert got[1] == got[0] == (True, True, 60)
