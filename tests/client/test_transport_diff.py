"""Every unary RPC through both transports (our standard-library HTTP/2 and grpcio), against real etcd 3.5.1 and
etcd-py: identical responses and identical errors; TLS (and its handshake failures) and the auth token flow
(sign-in, refresh of an expired token) too; a representative set of CLI verbs gives the same output either way.

Each flow runs once per transport on the same member, the second run on keys and names of its own: responses are
compared with what must differ masked (revisions, hashes, lease IDs, sizes) and the transport's tag replaced."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etcdctl_py.client import Client, DeadlineExceeded, EtcdError, TLSConfig
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.proto.v3electionpb import v3election_pb2 as epb
from etcdctl_py.proto.v3lockpb import v3lock_pb2 as lpb
from tests import difftest, etcdproc, tlscerts

TRANSPORTS = ("h2", "grpcio")
TRANSPORT = "ETCDCTL_PY_TRANSPORT"
TAGS = {"h2": "h2h2h2", "grpcio": "grpcio"}  # key and name prefixes of one length: message sizes match
ETCDCTL = etcdproc.distro_bin("etcdctl")


@contextlib.contextmanager
def transport(name: str) -> Iterator[None]:
    """ETCDCTL_PY_TRANSPORT for the clients built inside (it is read when a client is built)."""
    old = os.environ.get("ETCDCTL_PY_TRANSPORT")
    os.environ["ETCDCTL_PY_TRANSPORT"] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ["ETCDCTL_PY_TRANSPORT"]
        else:
            os.environ["ETCDCTL_PY_TRANSPORT"] = old


def client(name: str, endpoint: str, **kw) -> Client:
    with transport(name):
        c = Client([endpoint], **kw)
    assert c.transport_name == name
    return c


@pytest.fixture(scope="module", params=["etcd", "etcd-py"])
def member(request, tmp_path_factory, etcd_bin):
    with etcdproc.scratch_dir(tmp_path_factory, "transport") as scratch:
        binary = etcd_bin if request.param == "etcd" else etcdproc.etcd_py_wrapper(str(scratch))
        srv = etcdproc.make_server(binary, str(scratch), name="tr")
        srv.start()
        yield srv
        srv.stop()


# ---------------------------------------------------------------- flows: (client, tag) -> results

Result = object
MASKED = re.compile(
    r"\b(\w*revision|raft_term|raft_index|raft_applied_index|raftIndex|raftAppliedIndex|hash|ID|lease|db_size\w*|dbSize\w*"
    r"|TTL|grantedTTL|authRevision|rev)"
    r": (\d+|-\d+)"
)


def _call(results: list[Result], c: Client, service: str, method: str, req, resp_type) -> Any:
    try:
        resp = c.unary(service, method, req, resp_type, timeout=10)
    except EtcdError as e:
        results.append(("error", e.code, e.message))
        return None
    results.append(resp)
    return resp


def flow_kv(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    k = f"{tag}/kv/".encode()
    _call(r, c, "KV", "Put", rpc_pb2.PutRequest(key=k + b"a", value=b"1"), rpc_pb2.PutResponse)
    _call(r, c, "KV", "Put", rpc_pb2.PutRequest(key=k + b"a", value=b"2", prev_kv=True), rpc_pb2.PutResponse)
    _call(r, c, "KV", "Put", rpc_pb2.PutRequest(key=k + b"b", value=b"3"), rpc_pb2.PutResponse)
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, range_end=k[:-1] + b"0"), rpc_pb2.RangeResponse)
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, range_end=k[:-1] + b"0", limit=1), rpc_pb2.RangeResponse)
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, range_end=b"\x00", count_only=True), rpc_pb2.RangeResponse)
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=b""), rpc_pb2.RangeResponse)  # key is not provided
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, revision=10**9), rpc_pb2.RangeResponse)
    cmp = rpc_pb2.Compare(key=k + b"a", target=rpc_pb2.Compare.VALUE, result=rpc_pb2.Compare.EQUAL, value=b"2")
    put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k + b"t", value=b"x"))
    get = rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=k + b"a"))
    _call(r, c, "KV", "Txn", rpc_pb2.TxnRequest(compare=[cmp], success=[put], failure=[get]), rpc_pb2.TxnResponse)
    _call(r, c, "KV", "Txn", rpc_pb2.TxnRequest(compare=[cmp], success=[get], failure=[put]), rpc_pb2.TxnResponse)
    _call(r, c, "KV", "Txn", rpc_pb2.TxnRequest(success=[put, put]), rpc_pb2.TxnResponse)  # duplicate key
    _call(
        r,
        c,
        "KV",
        "DeleteRange",
        rpc_pb2.DeleteRangeRequest(key=k, range_end=k[:-1] + b"0", prev_kv=True),
        rpc_pb2.DeleteRangeResponse,
    )
    rev = c.kv.range(b"x").header.revision
    _call(r, c, "KV", "Compact", rpc_pb2.CompactionRequest(revision=rev, physical=True), rpc_pb2.CompactionResponse)
    _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, revision=rev - 1), rpc_pb2.RangeResponse)  # compacted
    _call(r, c, "KV", "Compact", rpc_pb2.CompactionRequest(revision=rev), rpc_pb2.CompactionResponse)
    return r


def flow_large(c: Client, tag: str) -> list[Result]:
    """Large requests and a large response (flow control both ways), and a request over the server's limit."""
    r: list[Result] = []
    k = f"{tag}/big/".encode()
    for i in range(4):
        value = bytes([i]) * (1 << 20)
        _call(r, c, "KV", "Put", rpc_pb2.PutRequest(key=k + b"%d" % i, value=value), rpc_pb2.PutResponse)
    resp = _call(r, c, "KV", "Range", rpc_pb2.RangeRequest(key=k, range_end=k[:-1] + b"0"), rpc_pb2.RangeResponse)
    assert resp is not None and len(resp.kvs) == 4 and resp.kvs[3].value == b"\x03" * (1 << 20)
    r[-1] = [(kv.key, len(kv.value), kv.value[:1]) for kv in resp.kvs]  # a short form to compare
    for size in (1700 << 10, 2 << 20):  # over etcd's request limit; over grpc's message limit
        _call(r, c, "KV", "Put", rpc_pb2.PutRequest(key=k + b"x", value=b"x" * size), rpc_pb2.PutResponse)
    _call(
        r,
        c,
        "KV",
        "DeleteRange",
        rpc_pb2.DeleteRangeRequest(key=k, range_end=k[:-1] + b"0"),
        rpc_pb2.DeleteRangeResponse,
    )
    return r


def flow_lease(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    g = _call(r, c, "Lease", "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=600), rpc_pb2.LeaseGrantResponse)
    assert g is not None
    c.kv.put(f"{tag}/leased".encode(), b"v", lease=g.ID)
    ttl = rpc_pb2.LeaseTimeToLiveRequest(ID=g.ID, keys=True)
    _call(r, c, "Lease", "LeaseTimeToLive", ttl, rpc_pb2.LeaseTimeToLiveResponse)
    _call(r, c, "Lease", "LeaseLeases", rpc_pb2.LeaseLeasesRequest(), rpc_pb2.LeaseLeasesResponse)
    _call(r, c, "Lease", "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=g.ID), rpc_pb2.LeaseRevokeResponse)
    _call(r, c, "Lease", "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=g.ID), rpc_pb2.LeaseRevokeResponse)
    _call(r, c, "Lease", "LeaseTimeToLive", ttl, rpc_pb2.LeaseTimeToLiveResponse)
    return r


def flow_cluster(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    members = _call(r, c, "Cluster", "MemberList", rpc_pb2.MemberListRequest(), rpc_pb2.MemberListResponse)
    assert members is not None
    taken = list(members.members[0].peerURLs)
    upd = rpc_pb2.MemberUpdateRequest(ID=1, peerURLs=["http://127.0.0.1:1"])
    for method, req, resp in (
        ("MemberAdd", rpc_pb2.MemberAddRequest(peerURLs=taken), rpc_pb2.MemberAddResponse),
        ("MemberRemove", rpc_pb2.MemberRemoveRequest(ID=1), rpc_pb2.MemberRemoveResponse),
        ("MemberUpdate", upd, rpc_pb2.MemberUpdateResponse),
        ("MemberPromote", rpc_pb2.MemberPromoteRequest(ID=1), rpc_pb2.MemberPromoteResponse),
    ):
        # etcd answers a ConfChange before raft counts it applied, and raft drops another one proposed meanwhile
        # (its caller gets "request timed out" after 7 s): the fast transport hits that window. A linearizable
        # read is answered only after raft has moved on.
        c.kv.range(b"x")
        _call(r, c, "Cluster", method, req, resp)
    return r


def flow_maintenance(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    _call(r, c, "Maintenance", "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse)
    _call(r, c, "Maintenance", "Alarm", rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET), rpc_pb2.AlarmResponse)
    _call(r, c, "Maintenance", "HashKV", rpc_pb2.HashKVRequest(revision=0), rpc_pb2.HashKVResponse)
    _call(r, c, "Maintenance", "Defragment", rpc_pb2.DefragmentRequest(), rpc_pb2.DefragmentResponse)
    _call(r, c, "Maintenance", "MoveLeader", rpc_pb2.MoveLeaderRequest(targetID=1), rpc_pb2.MoveLeaderResponse)
    return r


def flow_auth(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    u, role = f"user-{tag}", f"role-{tag}"

    def auth(method: str, req, resp_type) -> None:
        _call(r, c, "Auth", method, req, resp_type)

    auth("UserAdd", rpc_pb2.AuthUserAddRequest(name=u, password="pw"), rpc_pb2.AuthUserAddResponse)
    auth("UserAdd", rpc_pb2.AuthUserAddRequest(name=u, password="pw"), rpc_pb2.AuthUserAddResponse)  # exists
    auth("RoleAdd", rpc_pb2.AuthRoleAddRequest(name=role), rpc_pb2.AuthRoleAddResponse)
    from etcdctl_py.proto.authpb import auth_pb2

    perm = auth_pb2.Permission(permType=auth_pb2.Permission.READWRITE, key=f"{tag}/".encode(), range_end=b"\x00")
    auth(
        "RoleGrantPermission",
        rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=perm),
        rpc_pb2.AuthRoleGrantPermissionResponse,
    )
    auth("RoleGet", rpc_pb2.AuthRoleGetRequest(role=role), rpc_pb2.AuthRoleGetResponse)
    auth("UserGrantRole", rpc_pb2.AuthUserGrantRoleRequest(user=u, role=role), rpc_pb2.AuthUserGrantRoleResponse)
    auth("UserGet", rpc_pb2.AuthUserGetRequest(name=u), rpc_pb2.AuthUserGetResponse)
    auth("UserList", rpc_pb2.AuthUserListRequest(), rpc_pb2.AuthUserListResponse)
    auth("RoleList", rpc_pb2.AuthRoleListRequest(), rpc_pb2.AuthRoleListResponse)
    auth(
        "UserChangePassword",
        rpc_pb2.AuthUserChangePasswordRequest(name=u, password="pw2"),
        rpc_pb2.AuthUserChangePasswordResponse,
    )
    auth("UserRevokeRole", rpc_pb2.AuthUserRevokeRoleRequest(name=u, role=role), rpc_pb2.AuthUserRevokeRoleResponse)
    auth(
        "RoleRevokePermission",
        rpc_pb2.AuthRoleRevokePermissionRequest(role=role, key=f"{tag}/".encode(), range_end=b"\x00"),
        rpc_pb2.AuthRoleRevokePermissionResponse,
    )
    auth("RoleDelete", rpc_pb2.AuthRoleDeleteRequest(role=role), rpc_pb2.AuthRoleDeleteResponse)
    auth("UserDelete", rpc_pb2.AuthUserDeleteRequest(name=u), rpc_pb2.AuthUserDeleteResponse)
    auth("UserGet", rpc_pb2.AuthUserGetRequest(name=u), rpc_pb2.AuthUserGetResponse)  # not found
    auth("AuthStatus", rpc_pb2.AuthStatusRequest(), rpc_pb2.AuthStatusResponse)
    auth("Authenticate", rpc_pb2.AuthenticateRequest(name=u, password="pw"), rpc_pb2.AuthenticateResponse)
    auth("AuthDisable", rpc_pb2.AuthDisableRequest(), rpc_pb2.AuthDisableResponse)
    auth("AuthEnable", rpc_pb2.AuthEnableRequest(), rpc_pb2.AuthEnableResponse)  # no root user
    return r


def flow_lock_election(c: Client, tag: str) -> list[Result]:
    r: list[Result] = []
    lease = c.lease.grant(600).ID
    name = f"{tag}/lock".encode()
    locked = _call(r, c, "Lock", "Lock", lpb.LockRequest(name=name, lease=lease), lpb.LockResponse)
    assert locked is not None
    _call(r, c, "Lock", "Unlock", lpb.UnlockRequest(key=locked.key), lpb.UnlockResponse)
    ename = f"{tag}/elect".encode()
    won = _call(
        r, c, "Election", "Campaign", epb.CampaignRequest(name=ename, lease=lease, value=b"a"), epb.CampaignResponse
    )
    assert won is not None
    _call(r, c, "Election", "Proclaim", epb.ProclaimRequest(leader=won.leader, value=b"b"), epb.ProclaimResponse)
    _call(r, c, "Election", "Leader", epb.LeaderRequest(name=ename), epb.LeaderResponse)
    _call(r, c, "Election", "Resign", epb.ResignRequest(leader=won.leader), epb.ResignResponse)
    _call(r, c, "Election", "Leader", epb.LeaderRequest(name=ename), epb.LeaderResponse)  # no leader
    c.lease.revoke(lease)
    return r, lease  # type: ignore[return-value]


FLOWS: dict[str, Callable[[Client, str], list[Result]]] = {
    "kv": flow_kv,
    "lease": flow_lease,
    "cluster": flow_cluster,
    "maintenance": flow_maintenance,
    "auth": flow_auth,
    "lock-election": flow_lock_election,
    "large": flow_large,  # last: its megabytes slow the member's next writes down
}


def normalized(results: list[Result], tag: str, lease: int | None = None) -> list[str]:
    out = []
    for x in results:
        text = str(x)
        if lease is not None:
            text = text.replace(f"{lease:x}", "LEASE")
        out.append(MASKED.sub(r"\1: N", text.replace(tag, "TAG")))
    return out


@pytest.mark.parametrize("flow", list(FLOWS))
def test_unary_rpcs_identical_through_both_transports(member, flow):
    runs = []
    for name in TRANSPORTS:
        with client(name, member.endpoint) as c:
            got = FLOWS[flow](c, TAGS[name])
        lease = None
        if isinstance(got, tuple):
            got, lease = got
        runs.append(normalized(got, TAGS[name], lease))
    assert runs[0] == runs[1]
    errors = [line for line in runs[0] if line.startswith("('error'")]
    expected_errors = {
        "kv": ["etcdserver: key is not provided", "future revision", "duplicate key", "has been compacted"],
        "large": ["etcdserver: request is too large", "grpc: received message larger than max"],
        "lease": ["etcdserver: requested lease not found"],
        "cluster": ["Peer URLs already exists", "member not found"],
        "maintenance": ["etcdserver: bad leader transferee"],
        "auth": ["user name already exists", "user name not found", "authentication is not enabled"],
        "lock-election": ["election: no leader"],
    }[flow]
    for text in expected_errors:
        assert any(text in e for e in errors), (text, errors)


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_member(request, tmp_path_factory, etcd_bin):
    with etcdproc.scratch_dir(tmp_path_factory, "transport-tls") as scratch:
        certs = tlscerts.make_certs(str(scratch))
        other = scratch / "other"
        other.mkdir()
        certs["other_ca"] = tlscerts.make_certs(str(other))["ca"]
        srv = etcdproc.make_https_server(etcd_bin, str(scratch), certs, name="trtls")
        https = srv.client_url
        srv.start(wait=False)
        good = TLSConfig(ca_file=certs["ca"], cert_file=certs["client_cert"], key_file=certs["client_key"])
        etcdproc.wait_until(lambda: _answers(https, good), 20, "the TLS member")
        yield https, certs
        srv.stop()


def _answers(endpoint: str, tls: TLSConfig) -> bool:
    try:
        with client("h2", endpoint, tls=tls, command_timeout=1) as c:
            c.maintenance.status()
        return True
    except EtcdError:
        return False


@pytest.mark.parametrize("name", TRANSPORTS)
def test_tls_calls_and_handshake_failures(tls_member, name):
    endpoint, certs = tls_member
    good = TLSConfig(ca_file=certs["ca"], cert_file=certs["client_cert"], key_file=certs["client_key"])
    with client(name, endpoint, tls=good) as c:
        c.kv.put(f"tls/{name}".encode(), b"v")
        assert c.kv.get(f"tls/{name}".encode()) == b"v"
        assert [m.name for m in c.cluster.member_list().members] == ["trtls"]
    # the server's certificate from a CA we do not trust; no client certificate: both end at the deadline
    for tls, reason in (
        (TLSConfig(ca_file=certs["other_ca"], cert_file=certs["client_cert"], key_file=certs["client_key"]), "x509"),
        (TLSConfig(ca_file=certs["ca"]), "tls: "),
    ):
        with client(name, endpoint, tls=tls, command_timeout=0.5) as c, pytest.raises(DeadlineExceeded) as e:
            c.kv.get(b"x")
        assert str(e.value) == "context deadline exceeded"
        if name == "h2":  # grpcio's texts are grpc-core's; ours are Go's
            assert "transport: authentication handshake failed: " in e.value.go_desc
            assert reason in e.value.go_desc
            if reason == "x509":
                assert "x509: certificate signed by unknown authority" in e.value.go_desc


def test_tls_skip_verify_over_h2(tls_member):
    """--insecure-skip-tls-verify: our HTTP/2 really skips verification (grpcio can only trust what it is shown)."""
    endpoint, certs = tls_member
    tls = TLSConfig(ca_file=certs["other_ca"], cert_file=certs["client_cert"], key_file=certs["client_key"])
    tls.insecure_skip_verify = True
    with client("h2", endpoint, tls=tls) as c:
        assert c.maintenance.status().version


# ---------------------------------------------------------------- auth token flow


@pytest.fixture(scope="module")
def auth_member(tmp_path_factory, etcd_bin):
    """A member with auth on (simple tokens)."""
    with etcdproc.scratch_dir(tmp_path_factory, "transport-auth") as scratch:
        srv = etcdproc.make_server(etcd_bin, str(scratch), name="trauth")
        srv.start()
        with Client([srv.endpoint]) as c:
            c.auth.user_add("root", "rootpw")
            c.auth.user_grant_role("root", "root")
            c.auth.auth_enable()
        yield srv
        srv.stop()


@pytest.mark.parametrize("name", TRANSPORTS)
def test_token_sign_in_and_refresh(auth_member, name):
    """A token the server no longer knows (auth turned off and on again drops every simple token) is replaced by
    signing in again, once, and the call is sent again: the caller sees only its answer."""
    with client(name, auth_member.endpoint, user="root", password="rootpw") as c:
        first = c._token
        assert first
        c.kv.put(f"auth/{name}".encode(), b"v")
        with client(name, auth_member.endpoint, user="root", password="rootpw") as admin:
            admin.auth.auth_disable()
        with client(name, auth_member.endpoint) as admin:
            admin.auth.auth_enable()
        with client(name, auth_member.endpoint) as probe, pytest.raises(EtcdError) as e:
            probe._token = first
            probe.kv.get(b"x")
        assert e.value.message == "etcdserver: invalid auth token"
        assert c.kv.get(f"auth/{name}".encode()) == b"v"
        assert c._token and c._token != first
    with pytest.raises(EtcdError) as e, client(name, auth_member.endpoint, user="root", password="bad"):
        pass
    assert e.value.message == "etcdserver: authentication failed, invalid user ID or password"
    with client(name, auth_member.endpoint) as anon, pytest.raises(EtcdError) as e:
        anon.kv.get(b"x")
    assert e.value.message == "etcdserver: user name is empty"


# ---------------------------------------------------------------- CLI verbs, both transports


VERBS = [
    ["put", "cli/k", "v"],
    ["get", "cli/k"],
    ["get", "cli/", "--prefix", "-w", "json"],
    ["del", "cli/missing"],
    ["member", "list"],
    ["endpoint", "health"],
    ["alarm", "list"],
    ["auth", "status"],
    ["user", "get", "nobody"],
    ["lease", "timetolive", "1234"],
    ["lease", "revoke", "1234"],
    ["compaction", "999999"],
    ["move-leader", "1"],
]


def _ctl(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    p = subprocess.run(argv, capture_output=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    err = re.sub(r'"ts":[^,]+,|0xc[0-9a-f]+', "", p.stderr.decode())
    took = re.compile(r"took = \S+")
    return p.returncode, took.sub("took = T", p.stdout.decode()), took.sub("took = T", err)


@pytest.mark.parametrize("verb", VERBS, ids=[" ".join(v) for v in VERBS])
def test_cli_verbs_same_under_both_transports_and_etcdctl(twin_pair, verb):
    base = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
    for name in TRANSPORTS:  # etcdctl runs once per transport, so a put is made as often on both twins
        real = _ctl([ETCDCTL, "--endpoints", twin_pair.a.endpoint, *verb], base)
        ours = _ctl([*difftest.ETCDCTL_PY, "--endpoints", twin_pair.b.endpoint, *verb], {**base, TRANSPORT: name})
        a_port, b_port = str(twin_pair.a.client_port), str(twin_pair.b.client_port)
        assert ours == (real[0], real[1].replace(a_port, b_port), real[2].replace(a_port, b_port)), name


@pytest.mark.parametrize("name", TRANSPORTS)
def test_cli_dead_endpoint_same_under_both_transports(name):
    port = etcdproc.free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
    args = ["--endpoints", f"127.0.0.1:{port}", "--command-timeout", "300ms", "get", "k"]
    ours = _ctl([*difftest.ETCDCTL_PY, *args], {**base, TRANSPORT: name})
    real = _ctl([ETCDCTL, *args], base)
    assert ours == real
    assert f"dial tcp 127.0.0.1:{port}: connect: connection refused" in ours[2]


# ---------------------------------------------------------------- no grpc import for unary verbs

UNARY_VERBS = [
    ["version"],
    ["put", "nogrpc/k", "v"],
    ["get", "nogrpc/k"],
    ["del", "nogrpc/k"],
    ["txn"],
    ["compaction", "1"],
    ["lease", "grant", "60"],
    ["lease", "list"],
    ["lease", "timetolive", "1"],
    ["lease", "revoke", "1"],
    ["member", "list"],
    ["member", "remove", "1"],
    ["member", "update", "1", "--peer-urls=http://127.0.0.1:1"],
    ["member", "promote", "1"],
    ["endpoint", "status"],
    ["endpoint", "health"],
    ["endpoint", "hashkv"],
    ["alarm", "list"],
    ["alarm", "disarm"],
    ["defrag"],
    ["move-leader", "1"],
    ["auth", "status"],
    ["user", "add", "nogrpc:pw"],
    ["user", "get", "nogrpc"],
    ["user", "list"],
    ["user", "delete", "nogrpc"],
    ["role", "add", "nogrpc"],
    ["role", "get", "nogrpc"],
    ["role", "list"],
    ["role", "delete", "nogrpc"],
    ["snapshot", "save", "{dir}/s.db"],
]


@pytest.mark.parametrize("verb", UNARY_VERBS, ids=[" ".join(v) for v in UNARY_VERBS])
def test_unary_verbs_do_not_import_grpc(twin_pair, tmp_path, verb):
    """Every unary verb (and snapshot save) runs without importing grpc; with grpcio forced, grpc is imported."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
    argv = [sys.executable, "-X", "importtime", "-m", "etcdctl_py", "--endpoints", twin_pair.b.endpoint]
    argv += [a.replace("{dir}", str(tmp_path)) for a in verb]
    stdin = b"\nput nogrpc/t v\n\n" if verb == ["txn"] else b""
    p = subprocess.run(argv, input=stdin, capture_output=True, env=base, timeout=60)
    modules = _imported(p.stderr)
    assert "etcdctl_py.cli.main" in modules, p.stderr.decode()[-2000:]
    assert not [m for m in modules if m == "grpc" or m.startswith(("grpc.", "grpc_"))], verb
    if verb == ["get", "nogrpc/k"]:
        p = subprocess.run(argv, capture_output=True, env={**base, TRANSPORT: "grpcio"}, timeout=60)
        assert "grpc" in _imported(p.stderr)


def _imported(importtime: bytes) -> list[str]:
    """The modules a `-X importtime` log names."""
    lines = importtime.decode().splitlines()
    return [ln.rsplit("|", 1)[1].strip() for ln in lines if ln.startswith("import time:")]
