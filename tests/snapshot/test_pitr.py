"""The follow directory as data: segment framing, `snapshot status DIR` (--verify, -w json), damaged and truncated
segments, `--to-time`, retention, and `snapshot restore|status FILE` keeping etcdutl 3.5.1's behaviour.

One chain is recorded per module (etcd-py source, tiny segments); each test works on a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from etcdctl_py.snapshot import segments as seg_mod
from tests import etcdproc
from tests.snapshot.test_follow import (
    ROOT,
    UTL_PY,
    base,  # noqa: F401 - the fixture
    chain_status,
    ctl,
    restore,
    revision,
    start_follow,
    start_source,
    stop_follow,
    wait_recorded,
)


@dataclass
class Recorded:
    chain: str
    full_rev: int
    revs: list[int]  # after each write
    mid_time: float  # after revs[:5] were recorded, before revs[5] was written
    last: int


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with etcdproc.scratch_dir(tmp_path_factory, "pitr-chain") as d:
        src = start_source("etcd-py", str(d))
        chain = os.path.join(d, "chain")
        follow = start_follow(src, chain, "--segment-bytes", "300")
        try:
            wait_recorded(chain, 1, follow)
            revs = []
            for i in range(12):
                ctl(src, "put", f"k{i % 4}", f"value-{i}" * 5)
                revs.append(revision(src))
                if i == 4:
                    wait_recorded(chain, revs[-1], follow)
                    mid = time.time()
            wait_recorded(chain, revs[-1], follow)
            assert stop_follow(follow) == 0
        finally:
            if follow.poll() is None:
                follow.kill()
                follow.wait()
            src.stop()
        yield Recorded(chain, 1, revs, mid, revs[-1])


@pytest.fixture
def chain_copy(recorded: Recorded, base: str) -> str:  # noqa: F811 - pytest fixture injection
    dst = os.path.join(base, "chain")
    shutil.copytree(recorded.chain, dst)
    return dst


def segments_of(chain: str) -> list[str]:
    return sorted(os.path.join(chain, n) for n in os.listdir(chain) if n.startswith("delta-"))


def restored_revision(data_dir: str) -> int:
    p = subprocess.run(
        [*UTL_PY, "snapshot", "status", os.path.join(data_dir, "member", "snap", "db"), "-w", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    return int(json.loads(p.stdout)["revision"])


def leftovers(base_dir: str) -> list[str]:
    return [n for n in os.listdir(base_dir) if n.startswith(".")]


def test_status_lists_chain(recorded: Recorded) -> None:
    p = chain_status(recorded.chain)
    assert p.returncode == 0, p.stderr
    assert f"restorable: revisions 1..{recorded.last}\n" in p.stdout
    assert p.stdout.count("\nsegment delta-") >= 3
    assert p.stdout.endswith(f"newest restorable revision: {recorded.last}\n")
    j = json.loads(chain_status(recorded.chain, "-w", "json", "--verify").stdout)
    assert j["ok"] is True and j["problems"] == [] and j["gaps"] == []
    assert [f["sha256"] for f in j["fulls"]] == ["valid"]
    firsts = [s["first_revision"] for s in j["segments"]]
    lasts = [s["last_revision"] for s in j["segments"]]
    assert firsts[0] == 2 and lasts[-1] == recorded.last
    assert all(a == b + 1 for a, b in zip(firsts[1:], lasts, strict=False))  # contiguous


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_segment_named_and_not_crossed(recorded: Recorded, chain_copy: str, base: str, damage: str) -> None:  # noqa: F811
    segs = segments_of(chain_copy)
    victim = segs[1]
    before = seg_mod.scan(victim)
    assert before.records and not before.damage
    size = os.path.getsize(victim)
    if damage == "flip":
        with open(victim, "r+b") as f:
            f.seek(size - 5)
            b = f.read(1)
            f.seek(size - 5)
            f.write(bytes([b[0] ^ 0x40]))
    else:
        os.truncate(victim, size - 7)
    v = chain_status(chain_copy, "--verify")
    assert v.returncode == 1
    assert os.path.basename(victim) in v.stdout
    assert v.stderr.strip().startswith("Error: snapshot chain verification failed: 1 problem(s) found")
    out = os.path.join(base, "restored")
    p = restore(chain_copy, out, "--to-revision", str(recorded.last))
    assert p.returncode == 1
    err = p.stderr.strip().splitlines()[-1]
    assert err.startswith(f"Error: revision {recorded.last} cannot be restored: revisions ")
    assert os.path.basename(victim) in err
    assert not os.path.exists(out) and leftovers(base) == []
    # revisions before the damage still restore
    ok_rev = seg_mod.scan(segs[0]).last_rev
    p = restore(chain_copy, out, "--to-revision", str(ok_rev))
    assert p.returncode == 0, p.stderr
    assert restored_revision(out) == ok_rev


def test_to_time_picks_the_revision_received_by_then(recorded: Recorded, base: str) -> None:  # noqa: F811
    out = os.path.join(base, "restored")
    when = datetime.fromtimestamp(recorded.mid_time, UTC).isoformat()
    p = restore(recorded.chain, out, "--to-time", when)
    assert p.returncode == 0, p.stderr
    assert restored_revision(out) == recorded.revs[4]


def test_output_dir_restores_every_member_to_the_revision(recorded: Recorded, base: str) -> None:  # noqa: F811
    """--output-dir with --to-revision: every member of --initial-cluster, each db at that revision."""
    out = os.path.join(base, "cluster")
    rev = recorded.revs[7]
    members = ",".join(f"m{i}=http://127.0.0.1:{etcdproc.free_port()}" for i in (1, 2, 3))
    p = subprocess.run(
        [
            *UTL_PY,
            "snapshot",
            "restore",
            recorded.chain,
            "--to-revision",
            str(rev),
            "--output-dir",
            out,
            "--initial-cluster",
            members,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["m1.etcd", "m2.etcd", "m3.etcd"]
    assert [restored_revision(os.path.join(out, m)) for m in sorted(os.listdir(out))] == [rev, rev, rev]


def test_out_of_range_and_bad_arguments(recorded: Recorded, base: str) -> None:  # noqa: F811
    out = os.path.join(base, "restored")
    p = restore(recorded.chain, out, "--to-revision", str(recorded.last + 5))
    assert (p.returncode, p.stderr.splitlines()[-1]) == (
        1,
        f"Error: revision {recorded.last + 5} is newer than the newest revision in {recorded.chain} ({recorded.last})",
    )
    p = restore(recorded.chain, out, "--to-time", "yesterday")
    assert p.returncode == 1 and "invalid --to-time" in p.stderr
    p = restore(recorded.chain, out, "--to-time", "2001-01-01T00:00:00Z")
    assert p.returncode == 1 and "nothing in" in p.stderr
    assert not os.path.exists(out) and leftovers(base) == []
    full = next(n for n in os.listdir(recorded.chain) if n.startswith("full-"))
    p = restore(os.path.join(recorded.chain, full), out, "--to-revision", "3")
    assert p.returncode == 128 and "need a `snapshot follow` directory" in p.stderr


def test_plain_directory_keeps_etcdutl_behaviour(base: str) -> None:  # noqa: F811
    """A directory that is not a follow directory is still what etcdutl 3.5.1 makes of it."""
    empty = os.path.join(base, "empty")
    os.mkdir(empty)
    for verb in (["status", empty], ["restore", empty, "--data-dir", os.path.join(base, "x")]):
        ours = subprocess.run([*UTL_PY, "snapshot", *verb], capture_output=True, text=True, cwd=ROOT)
        real = subprocess.run([etcdproc.distro_bin("etcdutl"), "snapshot", *verb], capture_output=True, text=True)
        assert ours.returncode == real.returncode
        assert ours.stderr.splitlines()[-1] == real.stderr.splitlines()[-1]


def test_segment_torn_tail_and_flip(base: str) -> None:  # noqa: F811
    """scan(): a torn last record is `torn` (cut by truncate_tail); a flipped byte inside is damage, not torn."""
    w = seg_mod.SegmentWriter(base, 10)
    for rev in (10, 11, 12):
        w.append(seg_mod.encode_events([(seg_mod.PUT, rev, 0, b"\n\x01k", b"")], time.time_ns()), rev)
    w.close()
    path = os.path.join(base, seg_mod.segment_name(10))
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(seg_mod.encode_events([(seg_mod.PUT, 13, 0, b"\n\x01k", b"")], 0)[:-3])
    s = seg_mod.scan(path)
    assert (s.last_rev, s.torn, s.good_end) == (12, True, good)
    seg_mod.truncate_tail(s)
    assert os.path.getsize(path) == good and not seg_mod.scan(path).damage
    with open(path, "r+b") as f:
        f.seek(seg_mod.HEADER_SIZE + 12)
        f.write(b"\xff")
    s = seg_mod.scan(path)
    assert (s.last_rev, s.torn, s.damage) == (9, False, "record CRC mismatch")
    with pytest.raises(seg_mod.SegmentError):
        list(seg_mod.read_records(path, 12))


def test_retention_keeps_the_deltas_a_kept_full_needs(base: str) -> None:  # noqa: F811
    """--full-every-bytes makes new fulls; --keep 2 removes older fulls and only the segments no kept full needs."""
    src = start_source("etcd-py", base)
    chain = os.path.join(base, "chain")
    follow = start_follow(src, chain, "--full-every-bytes", "1", "--keep", "2")
    try:
        wait_recorded(chain, 1, follow)
        for i in range(4):
            ctl(src, "put", "k", str(i))
            wait_recorded(chain, revision(src), follow)
        etcdproc.wait_until(
            lambda: len([n for n in os.listdir(chain) if n.startswith("full-")]) == 2, 20, "retention", step=0.1
        )
        last = revision(src)
        ctl(src, "put", "k", "last")
        wait_recorded(chain, last + 1, follow)
        assert stop_follow(follow, signal.SIGINT) == 0  # Ctrl-C stops as cleanly as SIGTERM
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
        src.stop()
    j = json.loads(chain_status(chain, "-w", "json").stdout)
    fulls = [f["revision"] for f in j["fulls"]]
    assert len(fulls) == 2 and fulls[-1] >= last - 1
    assert all(s["last_revision"] > fulls[0] for s in j["segments"])
    assert j["restorable"] == [{"from": fulls[0], "to": last + 1}]
    out = os.path.join(base, "restored")
    p = restore(chain, out, "--to-revision", str(fulls[0]))
    assert p.returncode == 0, p.stderr
    assert restored_revision(out) == fulls[0]


def rewrite_as_version1(path: str) -> None:
    """Rewrite a segment as follow wrote it before it kept prev_kv (format version 1): same header fields,
    same records (boundaries, receive times, lease records), events without their previous values."""
    seg = seg_mod.scan(path)
    assert seg.version == seg_mod.VERSION and not seg.damage
    with open(path, "rb") as f:
        data = f.read()
    events = [e for e in seg_mod.read_records(path, seg.last_rev) if e.type != seg_mod.LEASE_EVENT]
    out = [seg_mod.encode_header(seg.first_rev, seg.created_ns, version=1)]
    for rec in seg.records:
        if rec.kind == seg_mod.KIND_EVENTS:
            mine = [(e.type, e.rev, e.sub, e.value, b"") for e in events if rec.first_rev <= e.rev <= rec.last_rev]
            out.append(seg_mod.encode_events(mine, rec.time_ns, version=1))
        else:
            n = int.from_bytes(data[rec.offset : rec.offset + 4], "big")
            out.append(data[rec.offset : rec.offset + 8 + n])  # a lease record is the same in both versions
    with open(path, "wb") as f:
        f.write(b"".join(out))


def key_bucket(data_dir: str) -> list[tuple[bytes, bytes]]:
    from etcdctl_py.storage import backend
    from etcdctl_py.storage.bbolt import open_db

    with open_db(os.path.join(data_dir, "member", "snap", "db")) as db, db.view() as tx:
        return list(tx.bucket(backend.KEY).items())


def test_version1_segments_still_restore(recorded: Recorded, chain_copy: str, base: str) -> None:  # noqa: F811
    """A directory whose older segments are format version 1 (an upgraded follow resumed on it: its new
    segments are version 2) reads, verifies and restores to the same key bucket as the all-version-2 chain;
    version 1 events read back with no prev_kv."""
    segs = segments_of(chain_copy)
    old = segs[: len(segs) // 2]
    for path in old:
        rewrite_as_version1(path)
    assert [seg_mod.scan(p).version for p in segs] == [1] * len(old) + [2] * (len(segs) - len(old))
    assert all(e.prev_kv == b"" for e in seg_mod.read_records(old[-1], recorded.last))
    j = json.loads(chain_status(chain_copy, "-w", "json", "--verify").stdout)
    assert j["ok"] and j["restorable"] == [{"from": recorded.full_rev, "to": recorded.last}], j
    assert [s["format"] for s in j["segments"]] == [1] * len(old) + [2] * (len(segs) - len(old))
    mid = seg_mod.scan(old[-1]).last_rev  # the last revision of the version 1 part
    for rev in (mid, recorded.last):
        got, want = os.path.join(base, f"v1-{rev}"), os.path.join(base, f"v2-{rev}")
        for chain, out in ((chain_copy, got), (recorded.chain, want)):
            p = restore(chain, out, "--to-revision", str(rev))
            assert p.returncode == 0, p.stderr
        assert restored_revision(got) == rev
        assert key_bucket(got) == key_bucket(want)
