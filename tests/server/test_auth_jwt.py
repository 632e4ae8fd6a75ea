"""`--auth-token jwt,...`: real etcd 3.5.1 and etcd-py started with the same keys behave alike.

Keys come from `openssl` (RSA 2048, EC P-256) and random bytes (HS256). Each signing method gets
one pair of identical-ID twins (module-scoped, started on first use); real etcdctl must print the
same bytes against both, tokens must have the same header and claim layout, each server must
accept the other's tokens (same key, same alg), expired tokens are refused alike and clients
re-authenticate transparently, and bad options fail at startup with etcd's exit code and error.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc
from tests.server.servertools import Ctl, mask

TTL = "2s"
ROOT = "--user=root:rootpw"
ALICE = "--user=alice:alicepw"
INVALID = ("UNAUTHENTICATED", "etcdserver: invalid auth token")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Key files for every method plus a few malformed ones for the startup-failure cases."""
    with etcdproc.scratch_dir(tmp_path_factory, "jwtkeys") as d:
        p = {n: str(d / n) for n in ("rsa.key", "rsa.pub", "rsa1.key", "ec.key", "ec.pub", "hs.key", "garbage.pem")}
        _openssl("genrsa", "-out", p["rsa.key"], "2048")
        _openssl("rsa", "-in", p["rsa.key"], "-pubout", "-out", p["rsa.pub"])
        _openssl("rsa", "-in", p["rsa.key"], "-traditional", "-out", p["rsa1.key"])
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p["ec.key"])
        _openssl("ec", "-in", p["ec.key"], "-pubout", "-out", p["ec.pub"])
        Path(p["hs.key"]).write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
        Path(p["garbage.pem"]).write_text("-----BEGIN PRIVATE KEY-----\nAAAABBBB\n-----END PRIVATE KEY-----\n")
        yield p


def token_opt(keys: dict[str, str], method: str, pub_only: bool = False) -> str:
    fam = method[:2]
    if fam == "HS":
        return f"jwt,sign-method={method},priv-key={keys['hs.key']},ttl={TTL}"
    stem = "ec" if fam == "ES" else "rsa"
    if pub_only:
        return f"jwt,sign-method={method},pub-key={keys[stem + '.pub']},ttl={TTL}"
    return f"jwt,sign-method={method},pub-key={keys[stem + '.pub']},priv-key={keys[stem + '.key']},ttl={TTL}"


def _setup(ctl: Ctl, full: bool = True) -> None:
    steps = [["user", "add", "root:rootpw"]]
    if full:
        steps += [
            ["user", "add", "alice:alicepw"],
            ["role", "add", "app"],
            ["role", "grant-permission", "app", "readwrite", "app/", "--prefix"],
            ["user", "grant-role", "alice", "app"],
        ]
    steps.append(["auth", "enable"])
    for args in steps:
        rc, _, err = ctl(*args)
        assert rc == 0, (args, err)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, keys, etcd_py_bin):
    """pairs(method, pub_only=False) -> (real, ours): twins started on first use, auth enabled."""
    with etcdproc.scratch_dir(tmp_path_factory, "jwtpairs") as scratch:
        base = str(scratch)
        started: dict[tuple[str, bool], tuple[etcdproc.EtcdServer, etcdproc.EtcdServer]] = {}

        def get(method: str, pub_only: bool = False):
            k = (method, pub_only)
            if k not in started:
                extra = ["--auth-token", token_opt(keys, method, pub_only), "--bcrypt-cost", "4"]
                real, ours = etcdproc.twins(
                    etcdproc.distro_bin("etcd"), etcd_py_bin, base, extra=extra, token=f"jwt-{method}-{int(pub_only)}"
                )
                started[k] = (real, ours)
                for s in (real, ours):
                    _setup(Ctl(s.endpoint), full=not pub_only)
            return started[k]

        yield get
        for real, ours in started.values():
            for srv in (real, ours):
                srv.stop()
                etcdproc.cleanup_dir(srv.data_dir)  # each data dir holds a 64 MB preallocated WAL


def both(pair, *args: str):
    """Run real etcdctl against both servers; the answers must be byte-identical."""
    real, ours = pair
    a, b = Ctl(real.endpoint)(*args), Ctl(ours.endpoint)(*args)
    ra, rb = (a[0], mask(a[1]), mask(a[2])), (b[0], mask(b[1]), mask(b[2]))
    assert rb == ra, f"etcdctl {' '.join(args)}\nreal: {ra}\nours: {rb}"
    return ra


def _call(endpoint: str, fn, token: str | None = None):
    with grpc.insecure_channel(endpoint) as ch:
        try:
            return "OK", fn(ch, [("token", token)] if token is not None else None)
        except grpc.RpcError as e:
            return e.code().name, e.details()


def _authenticate(endpoint: str, name: str = "alice", password: str = "alicepw") -> str:
    st, tok = _call(
        endpoint,
        lambda ch, md: pbg.AuthStub(ch).Authenticate(pb.AuthenticateRequest(name=name, password=password)).token,
    )
    assert st == "OK", tok
    return tok


def _get(key: bytes):
    return lambda ch, md: [(kv.key, kv.value) for kv in pbg.KVStub(ch).Range(pb.RangeRequest(key=key), metadata=md).kvs]


def _put(key: bytes):
    """A `_call` body that writes `key`=1 and returns the revision (the write is what auth must allow)."""
    return lambda ch, md: pbg.KVStub(ch).Put(pb.PutRequest(key=key, value=b"1"), metadata=md).header.revision


def _last_error(stderr: str) -> list[str]:
    """The final `Error:` line, if any: etcdctl's closing diagnosis is what both tools must agree on."""
    return [ln for ln in stderr.splitlines() if ln.startswith("Error:")][-1:]


def _unb64(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


METHODS = ["HS256", "ES256", "RS256"]


@pytest.mark.parametrize("method", METHODS)
def test_etcdctl_same_answers(pairs, method):
    pair = pairs(method)
    assert both(pair, "put", "app/k", "v1", ALICE)[:2] == (0, "OK\n")
    assert both(pair, "get", "app/k", ALICE)[:2] == (0, "app/k\nv1\n")
    rc, _, err = both(pair, "get", "app/k", "--user=alice:wrong")
    assert rc == 2 and "authentication failed, invalid user ID or password" in err
    rc, _, err = both(pair, "put", "other", "x", ALICE)
    assert rc == 1 and "Error: etcdserver: permission denied" in err
    rc, _, err = both(pair, "get", "app/k")
    assert rc == 1 and "user name is empty" in err
    assert both(pair, "user", "list", ROOT)[1] == "alice\nroot\n"
    assert "Authentication Status: true" in both(pair, "auth", "status", ROOT)[1]
    assert both(pair, "role", "get", "app", ALICE)[0] == 0  # a user may read its own role
    assert both(pair, "get", "app/k", "-w", "json", ALICE)[0] == 0


@pytest.mark.parametrize("method", [*METHODS, "PS256"])
def test_tokens_same_layout_and_accepted_across(pairs, method):
    real, ours = pairs(method)
    before = time.time()
    tr, to = _authenticate(real.endpoint), _authenticate(ours.endpoint)
    after = time.time()
    segs = [t.split(".") for t in (tr, to)]
    assert [len(s) for s in segs] == [3, 3]
    # the header segment is byte-identical: {"alg":"<method>","typ":"JWT"}
    assert segs[1][0] == segs[0][0]
    assert json.loads(_unb64(segs[0][0])) == {"alg": method, "typ": "JWT"}
    cr, co = (json.loads(_unb64(s[1])) for s in segs)
    assert set(co) == set(cr) == {"exp", "revision", "username"}
    assert co["username"] == cr["username"] == "alice"
    assert co["revision"] == cr["revision"] > 1
    for c in (cr, co):  # exp = issue time + ttl, in whole Unix seconds
        assert math.floor(before) + 2 <= c["exp"] <= math.floor(after) + 2
    # same claim text layout (sorted keys, no spaces) apart from the expiry second
    assert _unb64(segs[1][1]).replace(str(co["exp"]).encode(), b"E") == _unb64(segs[0][1]).replace(
        str(cr["exp"]).encode(), b"E"
    )
    put = _put(b"app/x")
    assert _call(ours.endpoint, put, to)[0] == _call(real.endpoint, put, tr)[0] == "OK"
    # same key, same alg: each server accepts the token the other one signed
    assert _call(real.endpoint, _get(b"app/x"), to) == ("OK", [(b"app/x", b"1")])
    assert _call(ours.endpoint, _get(b"app/x"), tr) == ("OK", [(b"app/x", b"1")])
    # a tampered signature, a wrong alg and garbage are refused alike
    bad_sig = ".".join(segs[0][:2] + [segs[0][2][:-4] + ("AAAA" if segs[0][2][-4:] != "AAAA" else "BBBB")])
    hs = "HS384" if method != "HS384" else "HS256"
    other_alg = base64.urlsafe_b64encode(json.dumps({"alg": hs, "typ": "JWT"}).encode()).rstrip(b"=").decode()
    wrong_alg = ".".join([other_alg] + segs[0][1:])
    for tok in (bad_sig, wrong_alg, "x.y.z", "garbage", tr + "x"):
        assert _call(real.endpoint, _get(b"app/x"), tok) == _call(ours.endpoint, _get(b"app/x"), tok) == INVALID


@pytest.mark.parametrize("method", METHODS)
def test_expired_tokens_and_transparent_reauth(pairs, method):
    """ttl=2s: a held token dies; etcdctl's lock (held 3.2 s) still unlocks through a new token."""
    real, ours = pairs(method)
    held = {ep: _authenticate(ep) for ep in (real.endpoint, ours.endpoint)}
    for ep, tok in held.items():
        assert _call(ep, _get(b"app/k"), tok)[0] == "OK"
    lock = ["lock", "app/lk", "--", "sh", "-c", "sleep 3.2; echo held"]
    procs = [
        subprocess.Popen(
            [etcdproc.distro_bin("etcdctl"), f"--endpoints={s.endpoint}", ALICE, *lock],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in (real, ours)
    ]
    outs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0] for o in outs] == ["held\n"] * 2
    # etcdctl logged the refused (expired) token before re-authenticating, on both servers
    for o in outs:
        assert "code = Unauthenticated desc = etcdserver: invalid auth token" in o[1]
    for ep, tok in held.items():
        assert _call(ep, _get(b"app/k"), tok) == INVALID
    assert both((real, ours), "get", "--prefix", "app/lk", ALICE)[:2] == (0, "")


def test_verify_only_public_key(pairs):
    """Only pub-key: nobody can sign in, but tokens signed elsewhere with the private key verify."""
    vo = pairs("ES256", pub_only=True)
    rc, _, err = both(vo, "get", "k", ROOT)
    assert rc == 2
    assert "Error: rpc error: code = Unknown desc = auth: token signing attempted with verify-only key" in err
    signer_real, signer_ours = pairs("ES256")
    t_real, t_ours = (_authenticate(s.endpoint, "root", "rootpw") for s in (signer_real, signer_ours))
    put = _put(b"vo")
    assert _call(vo[0].endpoint, put, t_ours)[0] == _call(vo[1].endpoint, put, t_real)[0] == "OK"
    # a read re-checks that the token's revision equals the store's (etcd's doSerialize uses !=),
    # and the signers' auth revision is ahead of the verify-only servers'
    assert (
        _call(vo[0].endpoint, _get(b"vo"), t_ours)
        == _call(vo[1].endpoint, _get(b"vo"), t_real)
        == ("UNKNOWN", "auth: revision in header is old")
    )
    assert _call(vo[0].endpoint, _get(b"vo"), "x.y.z") == _call(vo[1].endpoint, _get(b"vo"), "x.y.z") == INVALID


def test_tokens_survive_restart(tmp_path, keys, etcd_py_bin):
    """Unlike simple tokens a JWT lives in no server's memory: it stays valid across restarts."""
    opt = token_opt(keys, "HS256").replace(f"ttl={TTL}", "ttl=1m")
    real, ours = etcdproc.twins(
        etcdproc.distro_bin("etcd"),
        etcd_py_bin,
        str(tmp_path),
        token="jwt-restart",
        extra=["--auth-token", opt, "--bcrypt-cost", "4"],
    )
    try:
        for s in (real, ours):
            _setup(Ctl(s.endpoint))
        toks = {s.endpoint: _authenticate(s.endpoint) for s in (real, ours)}
        put = _put(b"app/r")
        assert [_call(s.endpoint, put, toks[s.endpoint])[0] for s in (real, ours)] == ["OK", "OK"]
        for s in (real, ours):
            s.stop()
            s.start()
        got = [_call(s.endpoint, _get(b"app/r"), toks[s.endpoint]) for s in (real, ours)]
        assert got == [("OK", [(b"app/r", b"1")])] * 2
        # the twins share key and auth revision, so each accepts the other's pre-restart token
        assert _call(ours.endpoint, _get(b"app/r"), toks[real.endpoint]) == got[0]
        assert _call(real.endpoint, _get(b"app/r"), toks[ours.endpoint]) == got[0]
    finally:
        for srv in (real, ours):
            srv.stop()
            etcdproc.cleanup_dir(srv.data_dir)


def _fatal(srv: etcdproc.EtcdServer, timeout: float = 20) -> tuple[int | None, str, str]:
    """Start a server that should refuse its flags: (exit code, fatal msg, fatal error)."""
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        srv.stop()
        return None, "", "still running"
    for line in srv.log().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") == "fatal":
            return rc, rec.get("msg", ""), rec.get("error", "")
    return rc, "", srv.log()[-300:]


def test_bad_options_fail_like_etcd(tmp_path, keys, etcd_py_bin):
    k = keys
    cases = [
        "jwt",
        "jwt,",
        "jwt,sign-method",
        "jwt,a=b=c",
        "jwt,ttl=1s,ttl=2s",
        "foo",
        "jwt,sign-method=XX256,priv-key=" + k["hs.key"],
        "jwt,sign-method=RS256",
        "jwt,sign-method=HS256,pub-key=" + k["rsa.pub"],
        "jwt,sign-method=RS256,priv-key=/nonexistent/key",
        "jwt,sign-method=HS256,priv-key=" + k["hs.key"] + ",ttl=5",
        "jwt,sign-method=none,priv-key=" + k["hs.key"],
        "jwt,sign-method=RS256,priv-key=" + k["hs.key"],
        "jwt,sign-method=RS256,priv-key=" + k["ec.key"],
        "jwt,sign-method=RS256,priv-key=" + k["garbage.pem"],
        "jwt,sign-method=PS256,pub-key=" + k["ec.pub"],
        "jwt,sign-method=ES256,priv-key=" + k["rsa.key"],
        "jwt,sign-method=ES256,priv-key=" + k["rsa1.key"],
        "jwt,sign-method=ES256,pub-key=" + k["rsa.pub"],
        "jwt,sign-method=RS256,pub-key=" + k["rsa.key"],
        "jwt,sign-method=RS256,priv-key=" + k["rsa.pub"],
    ]

    def run(case: tuple[int, str, str]):
        i, binary, opt = case
        srv = etcdproc.make_server(binary, str(tmp_path), name=f"bad{i}", extra=["--auth-token", opt])
        try:
            return _fatal(srv)
        finally:
            etcdproc.cleanup_dir(srv.data_dir)  # etcd creates its WAL before it reads the token option

    jobs = [(i, b, opt) for i, opt in enumerate(cases) for b in (etcdproc.distro_bin("etcd"), etcd_py_bin)]
    with ThreadPoolExecutor(6) as ex:
        res = list(ex.map(run, jobs))
    for i, opt in enumerate(cases):
        real, ours = res[2 * i], res[2 * i + 1]
        assert real[0] == 1 and real[1] == "discovery failed", (opt, real)
        assert ours == real, f"--auth-token {opt}\nreal: {real}\nours: {ours}"
    errs = {r[2] for r in res}
    assert {
        "auth: invalid auth options",
        "auth: missing key data",
        "Key is not a valid ECDSA public key",
        "Invalid Key: Key must be a PEM encoded PKCS1 or PKCS8 key",
    } <= errs


def test_etcdctl_py_against_jwt_server(pairs):
    """Our own client on etcd-py (jwt) prints what real etcdctl prints there."""
    real, ours = pairs("HS256")
    py = etcdproc.etcdctl_py_argv()

    def ctl_py(*args: str):
        p = subprocess.run(
            [*py, f"--endpoints={ours.endpoint}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=etcdproc.ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")},
        )
        return p.returncode, p.stdout, p.stderr

    go = Ctl(ours.endpoint)
    for args in (
        ["put", "app/py", "v", ALICE],
        ["get", "app/py", ALICE],
        ["get", "app/py", "-w", "json", ALICE],
        ["put", "nope", "x", ALICE],
        ["get", "app/py", "--user=alice:bad"],
        ["user", "list", ROOT],
    ):
        a, b = go(*args), ctl_py(*args)
        assert (b[0], mask(b[1])) == (a[0], mask(a[1])), (args, a, b)
        assert _last_error(b[2]) == _last_error(a[2]), (args, a[2], b[2])
    assert ctl_py("get", "app/py", ALICE)[1] == "app/py\nv\n"


def test_etcdctl_py_lock_outlives_its_token(pairs):
    """etcdctl-py `lock` held past the token's ttl: the unlock (v3lock relays the expired token as code Unknown)
    signs in again, as clientv3 does, on real etcd and on etcd-py alike; the lock key is gone afterwards."""
    real, ours = pairs("HS256")
    lock = ["lock", "app/lk2", "--", "sh", "-c", "sleep 3.2; echo held"]
    procs = [
        subprocess.Popen(
            [*etcdproc.etcdctl_py_argv(), f"--endpoints={s.endpoint}", ALICE, *lock],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in (real, ours)
    ]
    outs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0] for o in outs] == ["held\n"] * 2
    assert both((real, ours), "get", "--prefix", "app/lk2", ALICE)[:2] == (0, "")
