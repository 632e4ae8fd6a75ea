"""Global flags, ETCDCTL_* variables, ETCDCTL_API, endpoints and timeouts: real etcdctl vs etcdctl-py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def pair(twin_pair):
    twin_pair.check(["put", "foo", "bar8"])
    twin_pair.check(["put", "k1", "v1"])
    return twin_pair


ENV_CASES = [
    ({"ETCDCTL_WRITE_OUT": "json"}, ["get", "foo"]),
    ({"ETCDCTL_HEX": "true"}, ["get", "foo"]),
    ({"ETCDCTL_HEX": "1"}, ["get", "foo"]),
    ({"ETCDCTL_FOO": "bar"}, ["get", "foo"]),
    ({"ETCDCTL_PREFIX": "true"}, ["get", "k"]),
    ({"ETCDCTL_WRITE_OUT": "json"}, ["get", "foo", "-w", "fields"]),
    ({"ETCDCTL_WRITE_OUT": "json"}, ["get", "foo", "-w", "json"]),
    ({"ETCDCTL_DIAL_TIMEOUT": "abc"}, ["get", "foo"]),
    ({"ETCDCTL_COMMAND_TIMEOUT": "3"}, ["get", "foo"]),
    ({"ETCDCTL_WRITE_OUT": ""}, ["get", "foo"]),
    ({"ETCDCTL_WRITE_OUT": "xml"}, ["get", "foo"]),
    ({"ETCDCTL_FOO": "bar", "ETCDCTL_BAR": "baz"}, ["put", "envput", "v"]),
    ({"ETCDCTL_WRITE_OUT": "json"}, ["version"]),
    ({"ETCDCTL_FOO": "bar"}, ["get"]),
    ({"ETCDCTL_WRITE_OUT": "json"}, ["get", "--keys-only", "--count-only", "k"]),
]


@pytest.mark.parametrize("env,args", ENV_CASES, ids=lambda x: str(x))
def test_env_variables(pair, env, args):
    pair.check(args, env=env)


def test_env_endpoints_and_conflict(pair):
    pair.check(["get", "foo"], env={"ETCDCTL_ENDPOINTS": "{ep}"})
    pair.check(["get", "foo", "--endpoints={ep}"], env={"ETCDCTL_ENDPOINTS": "{ep}"})
    pair.check(["get", "foo", "-w", "json"], env={"ETCDCTL_ENDPOINTS": "http://{ep}"})


@pytest.mark.parametrize("api", ["4", "3.5", "3", "v3"])
def test_etcdctl_api_values(pair, api):
    pair.check(["version"], env={"ETCDCTL_API": api})


ENDPOINT_FORMS = [
    ["--endpoints=http://{ep}", "get", "foo"],
    ["--endpoints= {ep} , {ep}", "get", "foo"],
    ["--endpoints={ep}", "--endpoints={ep}", "get", "foo", "-w", "json"],
    ["--endpoints", "{ep}", "get", "foo", "--hex=false"],
    ["get", "foo", "--endpoints={ep}", "-wjson"],
]


@pytest.mark.parametrize("args", ENDPOINT_FORMS, ids=lambda a: " ".join(a))
def test_endpoint_forms(pair, args):
    pair.check(args)


def test_failover_to_second_endpoint(pair):
    """The first endpoint refuses connections: both tools go on to the second."""
    pair.check(["--endpoints=127.0.0.1:1,{ep}", "get", "foo", "--command-timeout=3s"])


DEAD = [
    ["--endpoints=127.0.0.1:1", "get", "foo", "--command-timeout=1s"],
    ["--endpoints=127.0.0.1:1", "put", "a", "b", "--command-timeout=500ms"],
    ["--endpoints=127.0.0.1:1", "del", "a", "--command-timeout=500ms"],
    ["--endpoints=unix://127.0.0.1:23790", "get", "foo", "--command-timeout=1s"],
]


@pytest.mark.parametrize("args", DEAD, ids=lambda a: " ".join(a))
def test_unreachable_endpoint(pair, args):
    pair.check(args)


def test_tls_file_errors(pair):
    pair.check(["get", "foo", "--cert=/nonexist.pem", "--key=/nonexist.key"])
    pair.check(["get", "foo", "--key="])
    pair.check(["get", "foo", "--cacert", "/nonexist-ca.pem"])


def test_debug_dumps_flags_first(pair):
    """--debug prints every global flag as ETCDCTL_X=value before anything else (gRPC logs follow in Go)."""
    real, mine = pair.run(["get", "foo", "--debug", "-w", "json"])
    assert mine.stdout == real.stdout
    assert mine.rc == real.rc == 0
    want = [ln for ln in real.stderr.splitlines() if ln.startswith(b"ETCDCTL_")]
    got = [ln for ln in mine.stderr.splitlines() if ln.startswith(b"ETCDCTL_")]
    mask = lambda lines, ep: [ln.replace(ep.encode(), b"EP") for ln in lines]  # noqa: E731
    assert mask(got, pair.b.endpoint) == mask(want, pair.a.endpoint)
    assert len(want) == 18


def test_user_flag_against_auth_disabled_server(pair):
    """With auth off, the Go client ignores `authentication is not enabled`; the prompt still appears."""
    pair.check(["get", "foo", "--user=root:pw"])
    pair.check(["get", "foo", "--user=root", "--password=pw"])
    pair.check(["get", "foo", "--user=root"], stdin=b"secret\n")
