"""The Python client layer (etcdctl_py.client) used as a library against etcd-py: one scenario
(KV, txn, compaction, watch, lease, cluster, maintenance, auth, lock, election) run against
real etcd 3.5.1 and etcd-py twins must give the same responses (lease IDs and sizes masked)."""

from __future__ import annotations

import re
import threading

import pytest

from etcdctl_py.client import Client, EtcdError, prefix_end
from etcdctl_py.proto.authpb import auth_pb2
from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from tests import etcdproc


@pytest.fixture(scope="module")
def ltwins(server_tmp, etcd_py_bin):
    real, ours = etcdproc.twins(etcdproc.distro_bin("etcd"), etcd_py_bin, server_tmp, token="lib-twins")
    yield real, ours
    real.stop()
    ours.stop()


def _err(fn):
    try:
        return fn()
    except EtcdError as e:
        return ("EtcdError", e.code_name if hasattr(e, "code_name") else None, str(e))


def _scenario(endpoint: str) -> tuple[list, list[int]]:
    out: list = []
    leases: list[int] = []
    with Client([endpoint]) as c:
        out.append(c.kv.put(b"/lib/a", b"1"))
        out.append(c.kv.put(b"/lib/b", b"2", prev_kv=True))
        out.append(c.kv.put(b"/lib/a", b"3", prev_kv=True))
        out.append(c.kv.range(b"/lib/", prefix_end(b"/lib/")))
        out.append(c.kv.get(b"/lib/a"))
        out.append(c.kv.get(b"/lib/none"))
        cmp = pb.Compare(key=b"/lib/a", target=pb.Compare.VALUE, result=pb.Compare.EQUAL, value=b"3")
        out.append(
            c.kv.txn(
                [cmp],
                [pb.RequestOp(request_put=pb.PutRequest(key=b"/lib/t", value=b"ok"))],
                [pb.RequestOp(request_range=pb.RangeRequest(key=b"/lib/a"))],
            )
        )
        out.append(c.kv.txn([cmp], [], [pb.RequestOp(request_range=pb.RangeRequest(key=b"/lib/a"))]))
        out.append(c.kv.delete(b"/lib/b", prev_kv=True))
        rev = c.kv.put(b"/lib/c", b"x").header.revision
        out.append(c.kv.compact(rev - 2, physical=True))
        out.append(_err(lambda: c.kv.range(b"/lib/a", revision=rev - 3)))
        out.append(_err(lambda: c.kv.compact(rev - 3)))
        out.append(_err(lambda: c.kv.put(b"", b"x")))

        # watch: history from a revision, then live events, then cancel by closing
        ws = c.watch.watch(b"/lib/", prefix_end(b"/lib/"), start_revision=rev - 1, prev_kv=True)
        got: list = []

        def reader() -> None:
            for resp in ws:
                got.append(resp)
                if sum(len(r.events) for r in got) >= 4:
                    return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        etcdproc.wait_until(lambda: any(r.events for r in got), 5, "the watch's history events")
        c.kv.put(b"/lib/c", b"y")
        c.kv.delete(b"/lib/t")
        t.join(5)
        ws.close()
        out.append(got)

        # lease
        g = c.lease.grant(100)
        leases.append(g.ID)
        out.append(g)
        out.append(c.kv.put(b"/lib/leased", b"v", lease=g.ID))
        ttl = c.lease.time_to_live(g.ID, keys=True)
        ttl.TTL = 0
        out.append(ttl)
        out.append(sorted(x.ID for x in c.lease.leases().leases))
        ka = c.lease.keep_alive_once(g.ID)
        out.append((ka.ID, ka.TTL))
        out.append(c.lease.revoke(g.ID))
        out.append(_err(lambda: c.lease.revoke(g.ID)))
        out.append(c.kv.get(b"/lib/leased"))
        out.append(_err(lambda: c.lease.grant(10, lease_id=4242)))
        out.append(_err(lambda: c.lease.grant(10, lease_id=4242)))

        # cluster / maintenance
        out.append(c.cluster.member_list())
        st = c.maintenance.status()
        st.dbSize = st.dbSizeInUse = 0
        out.append(st)
        out.append(c.maintenance.alarm_list())

        # lock and election on a session lease
        g2 = c.lease.grant(60)
        leases.append(g2.ID)
        lk = c.lock.lock(b"libl", g2.ID)
        out.append(lk)
        out.append(c.lock.unlock(lk.key))
        camp = c.election.campaign(b"libe", g2.ID, b"v1")
        out.append(camp)
        out.append(c.election.leader(b"libe"))
        out.append(c.election.proclaim(camp.leader, b"v2"))
        out.append(c.election.resign(camp.leader))
        out.append(_err(lambda: c.election.leader(b"libe")))

        # auth
        out.append(c.auth.user_add("root", "rootpw"))
        out.append(c.auth.user_add("u1", "pw1"))
        out.append(c.auth.role_add("r1"))
        out.append(c.auth.role_grant_permission("r1", b"/lib/", prefix_end(b"/lib/"), auth_pb2.Permission.READ))
        out.append(c.auth.user_grant_role("u1", "r1"))
        out.append(c.auth.user_grant_role("root", "root"))
        out.append(c.auth.role_get("r1"))
        out.append(c.auth.user_list())
        out.append(c.auth.auth_enable())
    with Client([endpoint], user="u1", password="pw1") as u:
        out.append(u.kv.get(b"/lib/a"))
        out.append(_err(lambda: u.kv.put(b"/lib/a", b"no")))
        out.append(_err(lambda: u.auth.user_list()))
    with Client([endpoint], user="root", password="rootpw") as r:
        out.append(r.auth.auth_status())
        out.append(r.auth.auth_disable())
    return out, leases


def _norm(results: list, leases: list[int]) -> str:
    text = repr(results)
    for i, lid in enumerate(leases):
        text = re.sub(rf"\b{lid}\b", f"LEASE{i}", text)
        text = re.sub(rf"/{lid:x}\b", f"/LEASEHEX{i}", text)
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def test_client_library_against_etcd_py(ltwins):
    real, ours = ltwins
    a = _norm(*_scenario(real.endpoint))
    b = _norm(*_scenario(ours.endpoint))
    assert b == a
    assert "required revision has been compacted" in a and "permission denied" in a
