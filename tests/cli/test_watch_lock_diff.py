"""watch, lock and elect through real etcdctl 3.5.1 and etcdctl-py on twin servers.

Long-running commands are started on both sides, fed (puts, or stdin lines for `watch -i`), and
interrupted with SIGINT once both have printed what we wait for. Watches use `--rev` where they can
so that replayed events make the output deterministic.
"""

from __future__ import annotations

import re
import signal

import pytest

from tests import etcdproc
from tests.cli.verbdiff import Diff, both

FORMATS = ["simple", "json", "protobuf", "fields"]


@pytest.fixture(scope="module")
def d(twin_pair):
    d = Diff(twin_pair)
    for args in (["put", "w/a", "1"], ["put", "w/a", 'hello "q"'], ["del", "w/a"], ["put", "w/b", "x"]):
        d.check(args)
    return d


def _stopped(d: Diff, args: list[str], until: bytes, ours_args: list[str] | None = None, env=None):  # noqa: ANN001
    procs = d.start(args, ours_args, env=env)
    both(procs, lambda p: until in p.out or p.p.poll() is not None)
    real, mine = (p.finish() for p in procs)
    d.compare(args, real, mine)
    return real, mine


@pytest.mark.parametrize("fmt", FORMATS)
def test_watch_replay(d, fmt):
    marker = {"simple": b"w/b\nx\n", "json": b'"Created":false}\n', "protobuf": b"w/b", "fields": b'"Value" : "x"'}
    real, _ = _stopped(d, ["watch", "w/", "--prefix", "--rev", "1", "--prev-kv", "-w", fmt], marker[fmt])
    assert real.rc == -signal.SIGINT


def test_watch_range_and_exec(d):
    cmd = [
        "sh",
        "-c",
        "echo rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE",
    ]
    _stopped(d, ["watch", "w/a", "w/c", "--rev", "1", "--", *cmd], b'key="w/b" value="x"')
    _stopped(d, ["watch", "--rev", "1", "--", *cmd], b'key="w/a" value=""', env={"ETCDCTL_WATCH_KEY": "w/a"})
    _stopped(
        d,
        ["watch", "--rev", "1", "--", *cmd],
        b'key="w/b" value="x"',
        env={"ETCDCTL_WATCH_KEY": "w/a", "ETCDCTL_WATCH_RANGE_END": "w/c"},
    )


def test_watch_exec_failure(d):
    d.check(["watch", "w/b", "--rev", "1", "--", "sh", "-c", "exit 3"])
    d.check(["watch", "w/b", "--rev", "1", "--", "no-such-cmd-xyz"])


ERRORS = [
    ["watch"],
    ["watch", "k", "--"],
    ["watch", "a", "b", "--prefix"],
    ["watch", "--rev", "abc", "k"],
    ["watch", "w/b", "-w", "table", "--rev", "1"],
]


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a))
def test_watch_errors(d, args):
    d.check(args, stdin=b"")


def test_watch_env_errors(d):
    d.check(["watch"], env={"ETCDCTL_WATCH_RANGE_END": "z"})
    d.check(["watch", "k"], env={"ETCDCTL_WATCH_KEY": "foo"})


def test_watch_compacted(d):
    d.check(["put", "w/c", "1"])
    d.check(["compaction", "4"])
    for fmt in ("simple", "json"):
        d.check(["watch", "w/a", "--rev", "2", "-w", fmt])


def test_watch_interactive(d):
    """Bad lines are reported and skipped; a watcher replays; EOF ends with exit 3. (Progress
    requests are left out: which watchers a progress notification reaches depends on timing.)"""
    script = b"foo\n\nwatch\nwatch a b --prefix\nwatch w/ --prefix --rev 5\n"  # rev 4 is compacted
    procs = d.start(["watch", "-i"])
    for p in procs:
        p.send(script)
    both(procs, lambda p: b"w/c\n1\n" in p.out)
    real, mine = (p.finish(sig=None) for p in procs)  # finish() closes stdin: EOF
    d.compare(["watch", "-i"], real, mine)
    assert real.rc == 3
    d.check(["watch", "-i"], stdin=b"watch --rev abc k\n")
    d.check(["watch", "-i"], stdin=b"watch k --\n")
    d.check(["watch", "-i"], stdin=b"watch\n")


def test_watch_live_put_then_sigint(d):
    servers = (d.pair.a, d.pair.b)
    for srv in servers:
        etcdproc.wait_until(lambda s=srv: etcdproc.watchers(s.client_url) == 0, 10, "no watch left from earlier tests")
    procs = d.start(["watch", "live", "-w", "json"])
    for srv in servers:  # both watchers are established (python start-up included)
        etcdproc.wait_until(lambda s=srv: etcdproc.watchers(s.client_url) == 1, 10, f"the watch on {srv.endpoint}")
    d.check(["put", "live", "v"])
    both(procs, lambda p: b"bGl2ZQ==" in p.out)
    real, mine = (p.finish() for p in procs)
    d.compare(["watch", "live"], real, mine)


def _lock_mask(b: bytes) -> bytes:
    """The lock/leader key ends in the session's lease ID (random per server); the revision matches."""
    b = re.sub(rb"/[0-9a-f]{1,16}\b", b"/LEASE", b)
    b = re.sub(rb'"key":"[A-Za-z0-9+/=]+"', b'"key":K', b)
    return re.sub(rb'"lease":[0-9]+', b'"lease":L', b)


def test_lock_with_command(d):
    d.check(["lock", "mylock", "--", "sh", "-c", "echo key=$ETCD_LOCK_KEY rev=$ETCD_LOCK_REV"], mask=_lock_mask)
    d.check(["lock", "mylock", "--", "sh", "-c", "exit 7"])
    d.check(["lock", "mylock", "no-such-cmd-xyz"])
    d.check(["lock"])


@pytest.mark.parametrize("fmt", ["simple", "json"])
def test_lock_until_sigint(d, fmt):
    procs = d.start(["lock", "l2", "-w", fmt])
    both(procs, lambda p: b"l2" in p.out or b"bDIv" in p.out)
    real, mine = (p.finish() for p in procs)
    assert real.rc == mine.rc == 0
    assert _lock_mask(mine.stdout) == _lock_mask(real.stdout) and mine.stderr == real.stderr


def test_elect(d):
    procs = d.start(["elect", "e1", "p1"])
    both(procs, lambda p: b"p1\n" in p.out)
    obs = d.start(["elect", "-l", "e1"])
    both(obs, lambda p: b"p1\n" in p.out)
    for group in (obs, procs):
        real, mine = (p.finish() for p in group)
        assert real.rc == mine.rc == 0
        assert _lock_mask(mine.stdout) == _lock_mask(real.stdout) and mine.stderr == real.stderr
    for args in (["elect"], ["elect", "a", "b", "c"], ["elect", "a"], ["elect", "-l", "a", "b"]):
        d.check(args)
