"""lease grant/revoke/timetolive/list/keep-alive through real etcdctl 3.5.1 and etcdctl-py on twin servers.

Lease IDs are chosen by each server (time based), so after each grant we learn both IDs and
compare our later output with B's ID substituted by A's (hex, %016x and decimal forms).
"""

from __future__ import annotations

import re

import pytest

from tests.cli.verbdiff import Diff, both

FORMATS = ["simple", "json", "protobuf", "fields", "table"]


@pytest.fixture(scope="module")
def d(twin_pair):
    return Diff(twin_pair)


def grant(d: Diff, ttl: str = "100") -> tuple[str, str]:
    """Grant on both sides; returns (real hex ID, our hex ID) and registers the substitution."""
    real, mine = d.run(["lease", "grant", ttl])
    assert real.rc == mine.rc == 0, (real, mine)
    rid = re.match(rb"lease ([0-9a-f]{16}) granted", real.stdout).group(1).decode()
    mid = re.match(rb"lease ([0-9a-f]{16}) granted", mine.stdout).group(1).decode()
    d.lease_pair(int(rid, 16), int(mid, 16))
    d.compare(["lease", "grant", ttl], real, mine)
    return rid, mid


def test_grant_formats(d):
    for fmt in FORMATS:
        real, mine = d.run(["lease", "grant", "100", "-w", fmt])
        if fmt == "simple":
            rid, mid = (re.search(rb"lease ([0-9a-f]+) ", r.stdout).group(1) for r in (real, mine))
            d.lease_pair(int(rid, 16), int(mid, 16))
        if fmt in ("json", "fields"):
            rid = re.search(rb'"ID"\s?:\s?([0-9]+)', real.stdout).group(1)
            mid = re.search(rb'"ID"\s?:\s?([0-9]+)', mine.stdout).group(1)
            d.lease_pair(int(rid), int(mid))
        d.compare(["lease", "grant", "-w", fmt], real, mine)
    d.check(["lease", "grant", "0", "-w", "fields"], mask=lambda b: re.sub(rb'"ID" : [0-9]+', b'"ID" : N', b))


def test_grant_errors(d):
    for args in (
        ["lease", "grant"],
        ["lease", "grant", "abc"],
        ["lease", "grant", "1", "2"],
        ["lease", "grant", "-5"],
        ["lease", "grant", "99999999999"],
        ["lease"],
        ["lease", "nosub"],
    ):
        d.check(args)


def test_timetolive_list_revoke(d):
    rid, mid = grant(d, "500")
    d.check(["put", "lk1", "v", "--lease", rid], ["put", "lk1", "v", "--lease", mid])
    # one attached key only: with several, the server lists them in Go map order (random per call)
    ttl_mask = lambda b: re.sub(rb"(remaining\(|\"ttl\":|\"TTL\" : )[0-9]+", rb"\1N", b)  # noqa: E731 - may tick
    for fmt in FORMATS:
        d.check(["lease", "timetolive", rid, "-w", fmt], ["lease", "timetolive", mid, "-w", fmt], mask=ttl_mask)
        d.check(
            ["lease", "timetolive", rid, "--keys", "-w", fmt],
            ["lease", "timetolive", mid, "--keys", "-w", fmt],
            mask=ttl_mask,
        )
        d.check(["lease", "timetolive", "1234", "-w", fmt])
    for args in (["lease", "timetolive"], ["lease", "timetolive", "zz"], ["lease", "timetolive", "0x12"]):
        d.check(args)
    # lease list: the server's order is not sorted, and the leases granted with -w protobuf/table/fields
    # ("grant 0") printed no usable ID, so compare counts, shapes and every lease whose IDs we paired.
    known = {b for _, b in d.subst if len(b) == 16}
    real, mine = d.run(["lease", "list"])
    rl, ml = real.stdout.split(b"\n"), d._norm(mine.stdout, True, None).split(b"\n")
    assert (rl[0], len(rl), real.rc) == (ml[0], len(ml), mine.rc) == (rl[0], len(rl), 0)
    assert {x for x in rl if x in known} == {x for x in ml if x in known} != set()
    for fmt in ("json", "fields", "protobuf", "table"):
        real, mine = d.run(["lease", "list", "-w", fmt])
        assert mine.rc == real.rc
        if fmt == "json":
            ids = lambda b: re.findall(rb'\{"id":([0-9]+)\}', b)  # noqa: E731
            assert len(ids(mine.stdout)) == len(ids(real.stdout))
            head = lambda b: b.split(b'"leases"')[0]  # noqa: E731
            assert head(mine.stdout) == head(real.stdout)
        elif fmt == "fields":
            assert mine.stdout.count(b"\n") == real.stdout.count(b"\n")
            assert mine.stdout.split(b'"ID"')[0] == real.stdout.split(b'"ID"')[0]
        else:
            assert mine.stdout == real.stdout and mine.stderr == real.stderr
    # revoke in every format (protobuf: etcdctl revokes, then cannot marshal the response)
    for fmt in FORMATS:
        rid, mid = grant(d, "60")
        d.check(["lease", "revoke", rid, "-w", fmt], ["lease", "revoke", mid, "-w", fmt])
    d.check(["lease", "revoke", "1234"])
    for args in (["lease", "revoke"], ["lease", "revoke", "zz"], ["lease", "revoke", "1", "2"]):
        d.check(args)


def test_keep_alive_once(d):
    rid, mid = grant(d, "100")
    for fmt in FORMATS:
        d.check(["lease", "keep-alive", "--once", rid, "-w", fmt], ["lease", "keep-alive", "--once", mid, "-w", fmt])
    d.check(["lease", "keep-alive", "--once", "1234"])
    for args in (["lease", "keep-alive"], ["lease", "keep-alive", "zz"]):
        d.check(args)
    d.check(["lease", "keep-alive", "1234"])  # no such lease: the stream ends at once, rc 0
    d.check(["lease", "keep-alive", "1234", "-w", "json"])


@pytest.mark.parametrize("fmt", ["simple", "json", "fields"])
def test_keep_alive_stream_until_sigint(d, fmt):
    rid, mid = grant(d, "100")
    procs = d.start(["lease", "keep-alive", rid, "-w", fmt], ["lease", "keep-alive", mid, "-w", fmt])
    both(procs, lambda p: len(p.out) > 0)
    real, mine = (p.finish() for p in procs)
    assert real.rc == mine.rc == -2  # killed by SIGINT (a shell shows 130)
    d.compare(["lease", "keep-alive", fmt], real, mine)


def test_keep_alive_until_revoked(d):
    rid, mid = grant(d, "100")
    procs = d.start(["lease", "keep-alive", rid], ["lease", "keep-alive", mid])
    both(procs, lambda p: len(p.out) > 0)
    d.check(["lease", "revoke", rid], ["lease", "revoke", mid])
    # the Go client notices a revoked lease at its next renewal (TTL/3 = 33 s): stop both here
    real, mine = (p.finish() for p in procs)
    d.compare(["lease", "keep-alive", "revoked"], real, mine)
