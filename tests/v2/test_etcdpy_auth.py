"""v2 auth on etcd-py --enable-v2 vs real etcd 3.5.1 --enable-v2 (twins): raw /v2/auth and
/v2/keys exchanges with and without basic auth compared status by status and byte by byte
(X-Etcd-Index included, so the "/2" bookkeeping writes must match), then real etcdctl's
user/role/auth verbs and a guest-role lock-down."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

import pytest

J = "application/json"
F = "application/x-www-form-urlencoded"


def _basic(user: str, pw: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


ROOT = _basic("root", "rootpw")
ALICE = _basic("alice", "apw")
BAD = _basic("root", "nope")

# (method, path, body, content type, authorization)
STEPS: list[tuple[str, str, bytes | None, str | None, str | None]] = [
    ("GET", "/v2/auth/enable", None, None, None),
    ("GET", "/v2/auth/users", None, None, None),
    ("GET", "/v2/auth/roles", None, None, None),
    ("GET", "/v2/auth/roles/root", None, None, None),
    ("GET", "/v2/auth/roles/guest", None, None, None),
    ("GET", "/v2/auth/users/root", None, None, None),
    ("PUT", "/v2/auth/enable", b"", None, None),
    ("PUT", "/v2/keys/k1", b"value=a", F, None),
    ("PUT", "/v2/auth/users/root", b'{"user":"root"}', J, None),
    ("PUT", "/v2/auth/users/root", b'{"user":"root","password":"rootpw"}', J, None),
    ("PUT", "/v2/keys/k2", b"value=b", F, None),
    ("GET", "/v2/auth/users/root", None, None, None),
    ("PUT", "/v2/auth/users/other", b'{"user":"root","password":"x"}', J, None),
    ("PUT", "/v2/auth/users/bad", b"{nope", J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","password":"apw","roles":["ghost"]}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","password":"apw2"}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","grant":["ghost"]}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","revoke":["ghost"]}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","revoke":["ghost"]}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","roles":["x"],"grant":["y"]}', J, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","password":"apw"}', J, None),
    ("GET", "/v2/auth/users", None, None, None),
    ("GET", "/v2/auth/users/alice", None, None, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"app"}', J, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"app"}', J, None),
    ("PUT", "/v2/auth/roles/root", b'{"role":"root"}', J, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"app","grant":{"kv":{"read":["/app/*"],"write":["/app/w"]}}}', J, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"app","grant":{"kv":{"read":["/app/*"]}}}', J, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"app","revoke":{"kv":{"read":["/zzz"]}}}', J, None),
    (
        "PUT",
        "/v2/auth/roles/app",
        b'{"role":"app","permissions":{"kv":{"read":["/a"]}},"grant":{"kv":{"read":["/b"]}}}',
        J,
        None,
    ),
    ("PUT", "/v2/auth/roles/nosuch", b'{"role":"nosuch","grant":{"kv":{"read":["/b"]}}}', J, None),
    ("PUT", "/v2/auth/roles/app", b'{"role":"other"}', J, None),
    ("GET", "/v2/auth/roles/app", None, None, None),
    ("GET", "/v2/auth/roles/nosuch", None, None, None),
    ("GET", "/v2/auth/roles/a/b", None, None, None),
    ("GET", "/v2/auth/roles/", None, None, None),
    ("POST", "/v2/auth/roles", b"", None, None),
    ("PATCH", "/v2/auth/users/alice", b"", None, None),
    ("GET", "/v2/auth/nope", None, None, None),
    ("PUT", "/v2/auth/users/alice", b'{"user":"alice","grant":["app"]}', J, None),
    ("GET", "/v2/auth/users/alice", None, None, None),
    ("PUT", "/v2/auth/enable", b"", None, None),
    ("PUT", "/v2/auth/enable", b"", None, ROOT),
    # auth is on from here
    ("GET", "/v2/auth/enable", None, None, None),
    ("GET", "/v2/auth/users", None, None, None),
    ("GET", "/v2/auth/users", None, None, BAD),
    ("GET", "/v2/auth/users", None, None, "Basic !!!"),
    ("GET", "/v2/auth/users", None, None, ALICE),
    ("GET", "/v2/auth/users", None, None, ROOT),
    ("GET", "/v2/auth/roles/guest", None, None, ROOT),
    ("GET", "/v2/keys/k1", None, None, None),
    ("PUT", "/v2/keys/k3", b"value=guest", F, None),
    ("GET", "/v2/keys/app/x", None, None, ALICE),
    ("PUT", "/v2/keys/app/x", b"value=1", F, ALICE),
    ("PUT", "/v2/keys/app/w", b"value=1", F, ALICE),
    ("GET", "/v2/keys/app/w", None, None, ALICE),
    ("GET", "/v2/keys/app?recursive=true", None, None, ALICE),
    ("GET", "/v2/keys/k1", None, None, ALICE),
    ("GET", "/v2/keys/k1", None, None, BAD),
    ("GET", "/v2/keys/k1", None, None, ROOT),
    ("PUT", "/v2/keys/k1?ttl=x", b"", None, BAD),
    ("GET", "/v2/members", None, None, None),
    ("DELETE", "/v2/members/1234", None, None, None),
    ("DELETE", "/v2/members/1234", None, None, ALICE),
    ("DELETE", "/v2/members/1234", None, None, ROOT),
    ("PUT", "/v2/auth/roles/guest", b'{"role":"guest","revoke":{"kv":{"write":["/*"]}}}', J, ROOT),
    ("PUT", "/v2/keys/k4", b"value=guest", F, None),
    ("GET", "/v2/keys/k4", None, None, None),
    ("DELETE", "/v2/auth/users/root", None, None, ROOT),
    ("DELETE", "/v2/auth/roles/root", None, None, ROOT),
    ("DELETE", "/v2/auth/enable", None, None, ALICE),
    ("DELETE", "/v2/auth/enable", None, None, ROOT),
    ("DELETE", "/v2/auth/enable", None, None, ROOT),
    ("DELETE", "/v2/auth/roles/app", None, None, None),
    ("DELETE", "/v2/auth/roles/app", None, None, None),
    ("GET", "/v2/auth/users/alice", None, None, None),
    ("DELETE", "/v2/auth/users/alice", None, None, None),
    ("DELETE", "/v2/auth/users/alice", None, None, None),
    ("GET", "/v2/auth/users", None, None, None),
    ("PUT", "/v2/keys/k5", b"value=end", F, None),
    ("GET", "/v2/machines", None, None, None),
]


def _call(url: str, method: str, path: str, body: bytes | None, ctype: str | None, authz: str | None):
    req = urllib.request.Request(url + path, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    if authz:
        req.add_header("Authorization", authz)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            st, h, b = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        st, h, b = e.code, e.headers, e.read()
    return st, h.get("X-Etcd-Index"), h.get("X-Etcd-Cluster-Id"), h.get("Content-Type"), b.decode().replace(url, "<EP>")


def test_raw_auth_exchanges(etcdpy_pair):
    """Every step answers the same on both servers, including the etcd index."""
    for i, (method, path, body, ctype, authz) in enumerate(STEPS):
        real = _call(etcdpy_pair.a.url, method, path, body, ctype, authz)
        ours = _call(etcdpy_pair.b.url, method, path, body, ctype, authz)
        assert ours == real, f"step {i}: {method} {path} auth={authz}"
    assert real[-1] == "<EP>"


CLI_STEPS: list[tuple[list[str], str]] = [
    (["user", "add", "root:rootpw"], ""),
    (["role", "add", "ro"], ""),
    (["role", "grant", "--path", "/pub/*", "--read", "ro"], ""),
    (["user", "add", "reader:rpw"], ""),
    (["user", "grant", "--roles", "ro", "reader"], ""),
    (["set", "/pub/a", "1"], ""),
    (["auth", "enable"], ""),
    (["role", "revoke", "--path", "/*", "--write", "guest"], ""),
    (["-u", "root:rootpw", "role", "revoke", "--path", "/*", "--rw", "guest"], ""),
    (["set", "/pub/b", "2"], ""),
    (["get", "/pub/a"], ""),
    (["-u", "reader:rpw", "get", "/pub/a"], ""),
    (["-u", "reader:rpw", "ls", "-r", "/pub"], ""),
    (["-u", "reader:rpw", "set", "/pub/a", "x"], ""),
    (["-u", "reader", "get", "/pub/a"], "rpw\n"),
    (["-u", "root:rootpw", "-o", "extended", "set", "/pub/c", "3"], ""),
    (["-u", "root:rootpw", "member", "list"], ""),
    (["-u", "root:rootpw", "user", "get", "reader"], ""),
    (["-u", "root:rootpw", "role", "get", "guest"], ""),
    (["-u", "root:rootpw", "role", "list"], ""),
    (["-u", "reader:rpw", "role", "list"], ""),
    (["-u", "root:rootpw", "user", "passwd", "reader"], "newpw\n"),
    (["-u", "reader:rpw", "get", "/pub/a"], ""),
    (["-u", "reader:newpw", "get", "/pub/a"], ""),
    (["-u", "root:rootpw", "auth", "disable"], ""),
    (["-o", "extended", "get", "/pub/c"], ""),
]


@pytest.mark.parametrize("args,stdin", CLI_STEPS, ids=[" ".join(a) for a, _ in CLI_STEPS])
def test_cli_auth_lockdown(etcdpy_pair, args, stdin):
    """Real etcdctl v2 verbs give identical output on both servers (steps run in order)."""
    etcdpy_pair.same(args, stdin=stdin)
