"""`snapshot follow DIR` + `snapshot restore DIR --to-revision R`: point-in-time restore, end to end.

A source server (real etcd 3.5.1 or etcd-py) runs a random workload (puts, deletes, multi-op txns, a lease
attached then revoked, a compaction) while `etcdctl-py snapshot follow` records it. Every restore is started
with real etcd 3.5.1 and must serve, key for key, what `get --rev R` showed on the source; its header revision
is R. The helpers here are shared with test_pitr.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import etcdproc

ROOT = Path(__file__).resolve().parents[2]
CTL_PY = [sys.executable, "-m", "etcdctl_py"]
UTL_PY = [sys.executable, "-m", "etcdctl_py.cli.etcdutl"]


# --------------------------------------------------------------------------- helpers (also used by test_pitr.py)


@pytest.fixture
def base() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="pitr-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_source(kind: str, base_dir: str) -> etcdproc.EtcdServer:
    binary = etcdproc.distro_bin("etcd") if kind == "etcd" else etcdproc.etcd_py_wrapper(base_dir)
    return etcdproc.make_server(binary, base_dir, name="src").start()


def ctl(srv: etcdproc.EtcdServer, *args: str, stdin: str | None = None) -> str:
    p = subprocess.run(
        [etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, (args, p.stderr)
    return p.stdout


def revision(srv: etcdproc.EtcdServer) -> int:
    return int(json.loads(ctl(srv, "get", "nothing-here", "-w", "json"))["header"]["revision"])


def start_follow(srv: etcdproc.EtcdServer, chain: str, *extra: str, log: str | None = None) -> subprocess.Popen:
    err = open(log or chain + ".log", "ab")
    try:
        return subprocess.Popen(
            [*CTL_PY, "--endpoints", srv.endpoint, "snapshot", "follow", chain, *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
    finally:
        err.close()


def chain_status(chain: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*UTL_PY, "snapshot", "status", chain, *extra], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def newest(chain: str) -> int:
    if not os.path.isdir(chain):
        return 0
    p = chain_status(chain, "-w", "json")
    return int(json.loads(p.stdout)["newest_revision"]) if p.returncode == 0 else 0


def wait_recorded(chain: str, rev: int, proc: subprocess.Popen | None = None) -> None:
    """Until the follow directory holds revision `rev` (follow writes each watch response as it arrives)."""

    def ok() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"follow ended early with {proc.returncode}: {Path(chain + '.log').read_text()}")
        return newest(chain) >= rev

    etcdproc.wait_until(ok, 30, f"revision {rev} in {chain}", step=0.1)


def stop_follow(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def restore(chain: str, out: str, *args: str) -> subprocess.CompletedProcess:
    port = etcdproc.free_port()
    peer = f"http://127.0.0.1:{port}"
    return subprocess.run(
        [
            *UTL_PY,
            "snapshot",
            "restore",
            chain,
            "--data-dir",
            out,
            "--name",
            "m1",
            "--initial-cluster",
            f"m1={peer}",
            "--initial-advertise-peer-urls",
            peer,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def kvs(doc: dict) -> list[dict]:
    return doc.get("kvs", [])


def snapshot_at(src: etcdproc.EtcdServer, rev: int) -> dict:
    return json.loads(ctl(src, "get", "", "--prefix", "-w", "json", "--rev", str(rev)))


def check_restored(
    src: etcdproc.EtcdServer, chain: str, base_dir: str, rev: int, want: dict | None = None, *args: str
) -> None:
    """Restore `rev`, start real etcd 3.5.1 on it: every key equals the source's `get --rev rev` (or `want`,
    taken before the source compacted it), header = rev."""
    out = os.path.join(base_dir, f"restored-{rev}")
    p = restore(chain, out, *(args or ("--to-revision", str(rev))))
    assert p.returncode == 0, p.stderr
    want = want or snapshot_at(src, rev)
    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), base_dir, name="m1", data_dir=out)
    srv.start()
    try:
        got = json.loads(ctl(srv, "get", "", "--prefix", "-w", "json"))
    finally:
        srv.stop()
        shutil.rmtree(out, ignore_errors=True)
    assert got["header"]["revision"] == rev
    assert kvs(got) == kvs(want), (rev, kvs(got), kvs(want))


def workload(src: etcdproc.EtcdServer, rng: random.Random, ops: int) -> list[int]:
    """Random puts, deletes (single and prefix) and multi-op txns; the revisions they ended at."""
    revs = []
    for _ in range(ops):
        op = rng.random()
        key = f"/k/{rng.randrange(12):02d}"
        if op < 0.5:
            ctl(src, "put", key, f"v{rng.randrange(1000)}")
        elif op < 0.65:
            ctl(src, "del", key)
        elif op < 0.72:
            ctl(src, "del", "--prefix", f"/k/{rng.randrange(2)}")  # several keys: one revision, several subs
        else:
            keys = rng.sample(range(12), 3)
            body = "".join(f"put /k/{k:02d} t{rng.randrange(100)}\n" for k in keys[:2]) + f"del /k/{keys[2]:02d}\n"
            ctl(src, "txn", stdin=f"\n{body}\n\n")
        revs.append(revision(src))
    return revs


# --------------------------------------------------------------------------- tests


def end(follow: subprocess.Popen, src: etcdproc.EtcdServer) -> None:
    """A test's cleanup: kill follow if it is still running, then stop the source member."""
    if follow.poll() is None:
        follow.kill()
        follow.wait()
    src.stop()


@pytest.mark.parametrize("kind", ["etcd", "etcd-py"])
def test_follow_then_restore_to_many_revisions(kind: str, base: str) -> None:
    """Restores to the full's revision, revisions inside the workload (txns, deletes, a lease attach and revoke,
    after a compaction) and the newest are identical to the source at that revision, on real etcd 3.5.1."""
    rng = random.Random(f"pitr-{kind}")
    src = start_source(kind, base)
    chain = os.path.join(base, "chain")
    follow = None
    try:
        ctl(src, "put", "/k/00", "before-the-full")
        full_rev = revision(src)
        follow = start_follow(src, chain, "--segment-bytes", "600")
        wait_recorded(chain, full_rev, follow)
        revs = workload(src, rng, 25)
        lease_id = ctl(src, "lease", "grant", "600").split()[1]
        ctl(src, "put", "/lease/a", "x", "--lease", lease_id)
        with_lease = revision(src)
        ctl(src, "compact", str(full_rev))  # the source compacts while follow runs; follow is unaffected
        revs += workload(src, rng, 15)
        ctl(src, "lease", "revoke", lease_id)
        ctl(src, "put", "/after/revoke", "y")
        last = revision(src)
        wait_recorded(chain, last, follow)
        assert stop_follow(follow) == 0
        follow = None
        st = json.loads(chain_status(chain, "-w", "json").stdout)
        assert st["restorable"] == [{"from": full_rev, "to": last}]
        assert len(st["segments"]) > 1  # rotated by --segment-bytes
        picks = sorted({full_rev, rng.choice(revs[:10]), rng.choice(revs[10:]), with_lease, last})
        for rev in picks:
            check_restored(src, chain, base, rev)
    finally:
        if follow is not None:
            follow.kill()
            follow.wait()
        src.stop()


def test_restored_lease_granted_after_the_full(base: str) -> None:
    """A lease granted after the full is recreated with its granted TTL; its key stays attached to it. A lease
    that expired on the source took its key with it (a delete event), and so does the restore."""
    src = start_source("etcd", base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain)
    try:
        wait_recorded(chain, 1, follow)
        short = ctl(src, "lease", "grant", "2").split()[1]
        ctl(src, "put", "/short", "v", "--lease", short)
        lease_id = ctl(src, "lease", "grant", "900").split()[1]
        ctl(src, "put", "/leased", "v", "--lease", lease_id)
        etcdproc.wait_until(lambda: ctl(src, "get", "/short") == "", 30, "the short lease to expire", step=0.2)
        rev = revision(src)
        want_all = snapshot_at(src, rev)
        wait_recorded(chain, rev, follow)
    finally:
        stop_follow(follow)
        src.stop()
    out = os.path.join(base, "restored")
    p = restore(chain, out)
    assert p.returncode == 0, p.stderr
    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name="m1", data_dir=out)
    srv.start()
    try:
        ttl = json.loads(ctl(srv, "lease", "timetolive", lease_id, "--keys", "-w", "json"))
        got = json.loads(ctl(srv, "get", "/leased", "-w", "json"))
        everything = json.loads(ctl(srv, "get", "", "--prefix", "-w", "json"))
    finally:
        srv.stop()
    assert everything["header"]["revision"] == rev
    assert kvs(everything) == kvs(want_all)
    assert [kv["key"] for kv in kvs(everything)] == ["L2xlYXNlZA=="]  # /leased only: /short expired
    assert ttl["granted-ttl"] == 900
    assert [k for k in ttl["keys"]] == ["L2xlYXNlZA=="]  # base64 of /leased
    assert kvs(got)[0]["lease"] == int(lease_id, 16)  # `lease grant` prints %016x


def test_follow_sigkill_torn_tail_then_resume(base: str) -> None:
    """SIGKILL mid-run plus a torn record at the tail: resume cuts the torn bytes, re-reads the rest from the
    server, and every revision (before and after the kill) restores exactly."""
    rng = random.Random("kill")
    src = start_source("etcd", base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain)
    try:
        wait_recorded(chain, 1, follow)
        revs = workload(src, rng, 12)
        wait_recorded(chain, revs[-1], follow)
        follow.send_signal(signal.SIGKILL)
        follow.wait()
        seg = sorted(n for n in os.listdir(chain) if n.startswith("delta-"))[-1]
        with open(os.path.join(chain, seg), "ab") as f:
            f.write(b"\x00\x00\x01\x00\xde\xad")  # a record frame whose payload never made it to disk
        assert chain_status(chain, "--verify").returncode == 1
        revs += workload(src, rng, 10)  # while follow is down
        follow = start_follow(src, chain)
        wait_recorded(chain, revs[-1], follow)
        revs += workload(src, rng, 5)
        wait_recorded(chain, revs[-1], follow)
        assert stop_follow(follow) == 0
        assert "cut 6 bytes off" in Path(chain + ".log").read_text()
        v = chain_status(chain, "--verify")
        assert v.returncode == 0, v.stdout + v.stderr
        for rev in (revs[5], revs[11], revs[15], revs[-1]):
            check_restored(src, chain, base, rev)
    finally:
        end(follow, src)


def test_compaction_past_resume_point_records_gap_and_new_full(base: str) -> None:
    """Stopped follow, writes, compaction on the server: the restart takes a new full and records the gap;
    revisions in it are refused with the reason, the ones around it restore exactly."""
    src = start_source("etcd-py", base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain)
    try:
        wait_recorded(chain, 1, follow)
        second = start_follow(src, chain, log=os.path.join(base, "second.log"))
        assert second.wait(20) == 1  # one follow per directory
        assert Path(base, "second.log").read_text().endswith(f"Error: another snapshot follow is running on {chain}\n")
        ctl(src, "put", "a", "1")
        before = revision(src)
        want_before = snapshot_at(src, before)
        wait_recorded(chain, before, follow)
        assert stop_follow(follow) == 0
        for i in range(4):
            ctl(src, "put", "b", str(i))
        compacted = revision(src)
        ctl(src, "compact", str(compacted))
        follow = start_follow(src, chain)
        wait_recorded(chain, compacted, follow)  # the new full
        ctl(src, "put", "c", "after")
        after = revision(src)
        wait_recorded(chain, after, follow)
        assert stop_follow(follow) == 0
        st = json.loads(chain_status(chain, "-w", "json").stdout)
        assert [f["revision"] for f in st["fulls"]] == [1, compacted]
        assert (
            st["gaps"] == [{"from": before + 1, "to": compacted - 1, "reason": st["gaps"][0]["reason"]}]
            and "compacted" in st["gaps"][0]["reason"]
        )
        out = os.path.join(base, "refused")
        p = restore(chain, out, "--to-revision", str(before + 1))
        assert p.returncode == 1
        assert p.stderr.strip().splitlines()[-1].startswith(f"Error: revision {before + 1} cannot be restored")
        assert "compacted" in p.stderr
        assert not os.path.exists(out)
        check_restored(src, chain, base, before, want_before)
        check_restored(src, chain, base, after)
    finally:
        end(follow, src)


def test_follow_rides_through_a_server_restart(base: str) -> None:
    """The member restarts while follow runs: the watch reconnects and resumes where it was; no revision is
    missing or doubled (the chain stays contiguous and restores exactly)."""
    rng = random.Random("restart")
    src = start_source("etcd", base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain)
    try:
        wait_recorded(chain, 1, follow)
        revs = workload(src, rng, 6)
        src.stop()
        src.start()
        revs += workload(src, rng, 6)
        wait_recorded(chain, revs[-1], follow)
        assert stop_follow(follow) == 0
        st = json.loads(chain_status(chain, "-w", "json", "--verify").stdout)
        assert st["ok"] and st["restorable"] == [{"from": 1, "to": revs[-1]}]
        check_restored(src, chain, base, revs[-1])
    finally:
        end(follow, src)


def recorded_events(chain: str) -> list:
    """Every event of every segment in the directory, read back with the segment reader."""
    from etcdctl_py.snapshot import segments as seg_mod

    names = sorted(n for n in os.listdir(chain) if seg_mod.parse_segment_name(n) is not None)
    return [e for n in names for e in seg_mod.read_records(os.path.join(chain, n), 1 << 62)]


def as_json_kv(raw: bytes) -> dict:
    """A serialized mvccpb.KeyValue as etcdctl's `get -w json` shows it (base64 key and value)."""
    import base64

    from etcdctl_py.proto.mvccpb import kv_pb2

    kv = kv_pb2.KeyValue.FromString(raw)
    out = {
        "key": base64.b64encode(kv.key).decode(),
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "value": base64.b64encode(kv.value).decode(),
    }
    if kv.lease:
        out["lease"] = kv.lease
    return out


@pytest.mark.parametrize("kind", ["etcd", "etcd-py"])
def test_records_carry_the_previous_value(kind: str, base: str) -> None:
    """Follow asks for prev_kv: an overwrite's and a delete's event carry the key's previous KeyValue, exactly
    what the source's `get --rev R-1` showed; a new key's carries none. Restore ignores it."""
    from etcdctl_py.snapshot import segments as seg_mod

    src = start_source(kind, base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain)
    try:
        wait_recorded(chain, 1, follow)
        ctl(src, "put", "/a", "one")
        ctl(src, "put", "/a", "two")  # overwrite
        ctl(src, "txn", stdin="\nput /b bee\ndel /a\n\n\n")  # a new key and a delete in one revision
        ctl(src, "del", "/b")
        last = revision(src)
        wait_recorded(chain, last, follow)
        assert stop_follow(follow) == 0
        events = [e for e in recorded_events(chain) if e.type != seg_mod.LEASE_EVENT]
        assert [(e.type, e.rev, e.sub) for e in events] == [
            (seg_mod.PUT, 2, 0),
            (seg_mod.PUT, 3, 0),
            (seg_mod.PUT, 4, 0),
            (seg_mod.DELETE, 4, 1),
            (seg_mod.DELETE, 5, 0),
        ]
        prev = {(e.rev, e.sub): e.prev_kv for e in events}
        assert prev[(2, 0)] == b"" and prev[(4, 0)] == b""  # /a and /b did not exist before
        for rev, sub, key in ((3, 0, "/a"), (4, 1, "/a"), (5, 0, "/b")):
            want = kvs(json.loads(ctl(src, "get", key, "-w", "json", "--rev", str(rev - 1))))
            assert [as_json_kv(prev[(rev, sub)])] == want, (rev, key)
        assert as_json_kv(prev[(4, 1)])["value"] == "dHdv"  # base64 of "two": the value the delete removed
        check_restored(src, chain, base, 4)
        check_restored(src, chain, base, last)
    finally:
        end(follow, src)


def test_follow_fails_over_past_a_dead_first_endpoint(base: str) -> None:
    """--endpoints with a dead first member (a free port nobody listens on): the full snapshot and the watch
    go to the live one, as every verb's calls do; the chain restores exactly."""
    rng = random.Random("failover")
    src = start_source("etcd", base)
    chain = os.path.join(base, "chain")
    dead = f"127.0.0.1:{etcdproc.free_port()}"
    log = os.path.join(base, "follow.log")
    err = open(log, "ab")
    try:
        follow = subprocess.Popen(
            [*CTL_PY, "--endpoints", f"{dead},{src.endpoint}", "snapshot", "follow", chain],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
    finally:
        err.close()
    try:
        wait_recorded(chain, 1, follow)
        revs = workload(src, rng, 8)
        wait_recorded(chain, revs[-1], follow)
        assert stop_follow(follow) == 0
        st = json.loads(chain_status(chain, "-w", "json", "--verify").stdout)
        assert st["ok"] and st["restorable"] == [{"from": 1, "to": revs[-1]}], st
        for rev in (revs[3], revs[-1]):
            check_restored(src, chain, base, rev)
    finally:
        end(follow, src)
