"""The edges issue 12 found: endpoint forms, the client's limits and error wrapping, real etcdctl vs etcdctl-py.

Every comparison is difftest.Pair.check: stdout, exit code and the whole stderr (the client's warning line
included, timestamps and pointers masked) against real etcdctl 3.5.1 on an identical-ID twin.
"""

from __future__ import annotations

import shutil

import pytest

from tests import difftest, etcdproc


@pytest.fixture(scope="module")
def pair(twin_pair):
    twin_pair.check(["put", "edge/k", "v"])
    return twin_pair


@pytest.fixture(scope="module")
def pair34(tmp_path_factory):
    """Real etcdctl 3.5.1 on a Debian etcd 3.4.23 server, etcdctl-py on its identical-ID twin."""
    binary = etcdproc.debian_etcd34()
    assert binary, "Debian's etcd 3.4 (/usr/bin/etcd) is needed"
    base = str(tmp_path_factory.mktemp("twins34"))
    a, b = etcdproc.twins(binary, binary, base, token="edge34")
    yield difftest.Pair(a, b)
    a.stop()
    b.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://{ep}/path",
        "http://user:pw@{ep}",
        "HTTP://{ep}/a/b?x=1#f",
        "http://{ep}#frag",
        "127.0.0.1:0{ep}",
        " {ep} ",
    ],
)
def test_endpoint_forms_that_work(pair, endpoint):
    """A path, query, fragment or userinfo is ignored, as clientv3 does (it dials url.Host)."""
    if endpoint == "127.0.0.1:0{ep}":  # a port with a leading zero
        endpoint = "127.0.0.1:0" + pair.a.endpoint.rsplit(":", 1)[1]
        real, mine = pair.run(
            ["--endpoints", endpoint, "get", "edge/k"],
            endpoints=False,
            ours=[*difftest.ETCDCTL_PY, "--endpoints", "127.0.0.1:0" + pair.b.endpoint.rsplit(":", 1)[1]],
        )
        assert (mine.stdout, mine.rc) == (real.stdout, real.rc) == (b"edge/k\nv\n", 0)
        return
    assert pair.check(["--endpoints", endpoint, "get", "edge/k"]).stdout == b"edge/k\nv\n"


MALFORMED = [
    "127.0.0.1",
    "http://127.0.0.1",
    "127.0.0.1:",
    "ftp://{ep}",
    "http:/{ep}",
    "http//{ep}",
    "{ep}/x",
    "127.0.0.1:abc",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "http://{ep}:1",
    "none://{ep}",
    "http://%zz",
    "http://{ep}/%zz",
    "127.1:1",
    "unix:///nonexistent-dir/etcd.sock",
    "unix://nonexistent.sock",
    "http://[::1]:1",
    "127.0.0.1:0",
]


@pytest.mark.parametrize("endpoint", MALFORMED)
def test_malformed_endpoints_fail_like_etcdctl(pair, endpoint):
    """Go's dial error in the warning, then `context deadline exceeded` once the request's deadline passed."""
    mine = pair.check(["--endpoints", endpoint, "--command-timeout=300ms", "get", "edge/k"], endpoints=False)
    assert mine.rc == 1 and mine.stderr.endswith(b"Error: context deadline exceeded\n")


def test_malformed_endpoint_before_a_good_one(pair):
    """The next endpoint is tried: the request succeeds."""
    assert pair.check(["--endpoints", "127.0.0.1,{ep}", "get", "edge/k"]).stdout == b"edge/k\nv\n"


def test_no_endpoints(pair):
    mine = pair.check(["--endpoints", "", "get", "edge/k"], endpoints=False)
    assert mine.rc == 2 and mine.stderr == b"Error: etcdclient: no available endpoints\n"


@pytest.mark.parametrize("value", [",", " "])
def test_empty_endpoints(pair, value):
    """Empty strings are endpoints all the same: Go cannot dial them (`missing address`)."""
    mine = pair.check(["--endpoints", value, "--command-timeout=300ms", "get", "edge/k"], endpoints=False)
    assert mine.rc == 1 and b"dial tcp: missing address" in mine.stderr


@pytest.mark.parametrize("timeout", ["1us", "1ns"])
def test_tiny_dial_timeout_fails(pair, timeout):
    mine = pair.check(["--dial-timeout", timeout, "get", "edge/k"])
    assert mine.rc == 2 and mine.stderr == b"Error: context deadline exceeded\n"


@pytest.mark.parametrize("timeout", ["2562047h", "9223372036854775807ns"])
def test_huge_command_timeout_is_no_deadline(pair, timeout):
    assert pair.check(["--command-timeout", timeout, "get", "edge/k"]).stdout == b"edge/k\nv\n"


@pytest.mark.parametrize(
    "urls",
    [
        "nonsense",
        "http://127.0.0.1:1,ftp://x",
        "http://127.0.0.1",
        "http://127.0.0.1:1/p",
        "http://%zz:1",
        "http://a b:1",
        ":x",
    ],
)
def test_member_add_checks_peer_urls_first(pair, urls):
    mine = pair.check(["member", "add", "x", "--peer-urls", urls])
    assert mine.rc == 1 and b"given member URLs are invalid" not in mine.stderr


def test_member_update_checks_peer_urls_first(pair):
    mine = pair.check(["member", "update", "1", "--peer-urls", "nonsense"])
    assert mine.stderr == b"Error: URL scheme must be http, https, unix, or unixs: nonsense\n"


@pytest.mark.parametrize("stdin", [b"\xff\xfe", b"\xff\xfe\n\n\n", b'value("edge/\xff") = "\xfe"\n\n\n'])
def test_txn_passes_stdin_bytes_through(pair, stdin):
    mine = pair.check(["txn"], stdin=stdin)
    assert b"\\udc" not in mine.stderr + mine.stdout


def test_odd_argv_bytes_in_error_lines(pair):
    mine = pair.check(["get", "edge/k", "--consistency=\udcfe"])
    assert mine.stderr == b'Error: unknown consistency flag "\\xfe"\n'
    pair.check(["\udcff"])


@pytest.mark.parametrize("flag", ["--cacert", "--cert", "--key"])
def test_tls_file_that_is_a_directory(pair, tmp_path, flag):
    extra = ["--key", str(tmp_path)] if flag == "--cert" else ["--cert", str(tmp_path)] if flag == "--key" else []
    mine = pair.check([flag, str(tmp_path), *extra, "get", "edge/k"])
    assert mine.rc == 128 and mine.stderr == f"Error: read {tmp_path}: is a directory\n".encode()


def test_grpc_errors_keep_go_wrapper_against_etcd34(pair34):
    """etcd 3.4 has no AuthStatus: clientv3 prints the gRPC status as Go formats it."""
    mine = pair34.check(["auth", "status"])
    assert mine.rc == 1
    assert mine.stderr.endswith(
        b"Error: rpc error: code = Unimplemented desc = unknown method AuthStatus for service etcdserverpb.Auth\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["put", "edge34/k", "v"],
        ["get", "edge34/k", "-w", "json"],
        ["member", "list"],
        ["endpoint", "hashkv"],
        ["lease", "revoke", "1"],
        ["user", "get", "nobody"],
        ["role", "get", "nobody"],
        ["auth", "disable"],
        ["alarm", "list"],
        ["compaction", "99999"],
        ["move-leader", "1"],
    ],
)
def test_etcd34_server_diff(pair34, args):
    """The verbs etcdctl operators run against 3.4 clusters print what etcdctl prints."""
    from tests.cli.opsdiff import check_masked

    check_masked(pair34, args)


def test_host_names_go_to_the_resolver_unresolved_at_parse_time():
    """A name becomes a grpc `dns:///` target (resolved when dialed, as etcdctl resolves it; parsing makes no
    query, and no test dials a name); names Go refuses without a query fail with Go's text at once."""
    from etcdctl_py.client.endpoints import UNREACHABLE_TARGET, parse_endpoint

    for raw, target in (
        ("etcd-member.invalid:2379", "dns:///etcd-member.invalid:2379"),
        ("http://etcd-member.invalid:2379/p", "dns:///etcd-member.invalid:2379"),
        ("https://u@etcd-member.invalid:1/p", "dns:///etcd-member.invalid:1"),
    ):
        ep = parse_endpoint(raw)
        assert (ep.target, ep.dial_error, ep.host) == (target, "", "etcd-member.invalid")
    bad = parse_endpoint("127.1:2379")
    assert bad.dial_error == "dial tcp: lookup 127.1: no such host" and bad.target == UNREACHABLE_TARGET


def test_user_name_not_utf8_is_refused_clearly(pair):
    """A documented difference (etcdctl sends the bytes): one error line, exit 1, the value not echoed."""
    r = difftest.run([*difftest.ETCDCTL_PY, "--endpoints", pair.b.endpoint, "role", "add", "edge\udcff"])
    assert (r.rc, r.stdout) == (1, b"")
    assert r.stderr == (
        b"Error: a user name, role name or password is not UTF-8: etcdctl-py can send only UTF-8 text there\n"
    )


@pytest.mark.parametrize("flag", ["--keepalive-time=9223372036854775807ns", "--keepalive-timeout=2562047h"])
def test_huge_keepalive_durations(pair, flag):
    assert pair.check([flag, "get", "edge/k"]).stdout == b"edge/k\nv\n"
