"""The backup chain of a `snapshot follow` directory: full snapshots, delta segments and recorded gaps.

Files in the directory:
* `full-<revision, 16 digits>-<UTC time YYYYmmddTHHMMSSZ>.db`: a `snapshot save` file (sha256 trailer) whose
  store is at that revision;
* `delta-<first revision>.seg`: watch events (segments.py);
* `gaps.jsonl`: one JSON object per line for revisions follow could not record (`from`, `to`, `reason`, `time`),
  e.g. when the server had compacted past the point where follow resumed.

A revision R can be restored when some full F <= R exists and the segments hold every revision F+1..R intact.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import time
from dataclasses import dataclass, field

from etcdctl_py.snapshot import segments as seg_mod
from etcdctl_py.storage.fileutil import fsync_dir

_FULL = re.compile(r"full-(\d{16})-(\d{8}T\d{6}Z)\.db\Z")
GAPS = "gaps.jsonl"
LOCK = ".follow.lock"


class ChainError(Exception):
    """A revision or time the chain cannot restore; str() is the reason for the user."""


@dataclass
class Full:
    path: str
    revision: int
    time: float  # when it was saved (UTC seconds)
    size: int


@dataclass
class Gap:
    first: int
    last: int
    reason: str
    time: str = ""


@dataclass
class Chain:
    directory: str
    fulls: list[Full] = field(default_factory=list)  # oldest first
    segments: list[seg_mod.SegmentScan] = field(default_factory=list)  # by first revision
    recorded_gaps: list[Gap] = field(default_factory=list)

    def restorable(self) -> list[tuple[int, int]]:
        """Revision ranges that can be restored, ascending, merged."""
        out: list[tuple[int, int]] = []
        for f in self.fulls:
            end = self.covered_from(f.revision)
            out.append((f.revision, end))
        out.sort()
        merged: list[tuple[int, int]] = []
        for a, b in out:
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def covered_from(self, rev: int) -> int:
        """The last revision reachable from revision `rev` through intact, contiguous segments.

        Damage needs no case of its own: a damaged segment ends at its last intact revision, so the next
        segment does not continue it."""
        end = rev
        for s in self.segments:
            if s.last_rev <= end:
                continue
            if s.first_rev > end + 1:
                break
            end = s.last_rev
        return end

    def gaps(self) -> list[Gap]:
        """Revisions between the oldest and newest restorable ones that cannot be restored, with the reason."""
        ranges = self.restorable()
        out = []
        for (_a, b), (c, _d) in zip(ranges, ranges[1:], strict=False):
            out.append(Gap(b + 1, c - 1, self._why(b + 1, c - 1)))
        return out

    def _why(self, a: int, b: int) -> str:
        for g in self.recorded_gaps:
            if g.first <= b and g.last >= a:
                return g.reason
        for s in self.segments:
            if s.damage and s.last_rev + 1 == a:
                return f"{os.path.basename(s.path)} is damaged at offset {s.damage_offset} ({s.damage})"
        return "no delta segment holds these revisions"

    def newest(self) -> int:
        ranges = self.restorable()
        return ranges[-1][1] if ranges else 0

    def plan(self, rev: int) -> tuple[Full, list[seg_mod.SegmentScan]]:
        """The newest full at or below `rev` from which intact segments reach `rev`, and those segments."""
        if not self.fulls:
            raise ChainError(f"no full snapshot in {self.directory}")
        candidates = [f for f in self.fulls if f.revision <= rev]
        if not candidates:
            raise ChainError(
                f"revision {rev} is older than the oldest full snapshot in {self.directory} "
                f"(revision {self.fulls[0].revision})"
            )
        full = max(candidates, key=lambda f: f.revision)
        reach = self.covered_from(full.revision)
        if reach < rev:
            known = max([f.revision for f in self.fulls] + [s.last_rev for s in self.segments])
            if rev > known:
                raise ChainError(
                    f"revision {rev} is newer than the newest revision in {self.directory} ({self.newest()})"
                )
            raise ChainError(
                f"revision {rev} cannot be restored: revisions {reach + 1}..{self._gap_end(reach)} are missing "
                f"({self._why(reach + 1, rev)})"
            )
        segs = [s for s in self.segments if s.last_rev > full.revision and s.first_rev <= rev]
        return full, segs

    def _gap_end(self, reach: int) -> int:
        """The last missing revision after `reach`: just before the next segment or full that holds any."""
        later = [s.first_rev for s in self.segments if s.first_rev > reach + 1 and s.last_rev >= s.first_rev]
        later += [f.revision for f in self.fulls if f.revision > reach]
        return min(later) - 1 if later else reach + 1

    def revision_at(self, t: float) -> int:
        """The newest restorable revision whose change had reached follow at or before time `t` (UTC seconds)."""
        best = 0
        for f in self.fulls:
            if f.time <= t:
                best = max(best, f.revision)
        for s in self.segments:
            for r in s.records:
                if r.kind == seg_mod.KIND_EVENTS and r.time_ns / 1e9 <= t:
                    best = max(best, r.last_rev)
        if best == 0:
            raise ChainError(f"nothing in {self.directory} is as old as {_iso(t)}")
        # the newest restorable revision not after `best` (inside a gap: the last one before it)
        for a, b in reversed(self.restorable()):
            if a <= best:
                return min(b, best)
        raise ChainError(f"no restorable revision in {self.directory} at or before {_iso(t)}")


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def full_name(revision: int, t: float) -> str:
    return f"full-{revision:016d}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(t))}.db"


def _parse_full(directory: str, name: str) -> Full | None:
    m = _FULL.match(name)
    if not m:
        return None
    path = os.path.join(directory, name)
    try:
        st = os.stat(path)
    except OSError:
        return None
    t = calendar.timegm(time.strptime(m.group(2), "%Y%m%dT%H%M%SZ"))
    return Full(path, int(m.group(1)), t, st.st_size)


def is_chain_dir(path: str) -> bool:
    """A directory with a full snapshot or a delta segment of `snapshot follow` in it (any other argument keeps
    etcdutl 3.5.1's handling)."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(_FULL.match(n) or seg_mod.parse_segment_name(n) is not None for n in names)


def load(directory: str) -> Chain:
    """Scan a follow directory (every segment's frames and CRCs are read; fulls are only listed)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise ChainError(f"open {directory}: {e.strerror}") from None
    ch = Chain(directory)
    for name in names:
        f = _parse_full(directory, name)
        if f is not None:
            ch.fulls.append(f)
        elif seg_mod.parse_segment_name(name) is not None:
            ch.segments.append(seg_mod.scan(os.path.join(directory, name)))
    ch.fulls.sort(key=lambda f: f.revision)
    ch.segments.sort(key=lambda s: s.first_rev)
    ch.recorded_gaps = read_gaps(directory)
    return ch


def read_gaps(directory: str) -> list[Gap]:
    out = []
    try:
        with open(os.path.join(directory, GAPS), encoding="utf-8") as f:
            for line in f:
                try:
                    d = json.loads(line)
                    out.append(Gap(int(d["from"]), int(d["to"]), str(d.get("reason", "")), str(d.get("time", ""))))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line of a crash
    except FileNotFoundError:
        pass
    return out


def record_gap(directory: str, first: int, last: int, reason: str) -> None:
    """Append a gap line and make it durable: the chain must say why these revisions cannot be restored."""
    line = json.dumps({"from": first, "to": last, "reason": reason, "time": _iso(time.time())}) + "\n"
    path = os.path.join(directory, GAPS)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(directory)


def db_revision(path: str) -> int:
    """The revision etcd serves on this db: its newest revision key, or the compaction point if that is newer
    (at least 1: a new store starts there)."""
    from etcdctl_py.storage import backend, bbolt

    with bbolt.open_db(path) as db, db.view() as tx:
        rev = backend.current_revision(tx)
        scheduled, finished = backend.read_compact_revs(tx)
    return max(rev, scheduled or 0, finished or 0, 1)


def retention(ch: Chain, keep: int, max_age: float | None, now: float | None = None) -> list[str]:
    """Files to remove: fulls beyond the newest `keep` or older than `max_age` (never the newest full), and
    segments whose revisions all lie at or below the oldest kept full (no kept full needs them)."""
    now = time.time() if now is None else now
    if not ch.fulls:
        return []
    newest_first = sorted(ch.fulls, key=lambda f: f.revision, reverse=True)
    kept = [newest_first[0]]
    drop: list[Full] = []
    for f in newest_first[1:]:
        too_many = keep and len(kept) >= keep
        too_old = max_age is not None and now - f.time > max_age
        (drop if too_many or too_old else kept).append(f)
    floor = min(f.revision for f in kept)
    out = [f.path for f in drop]
    for s in ch.segments:
        if s.last_rev <= floor and s.first_rev <= floor:
            out.append(s.path)
    return out


def _sha256_state(path: str) -> str:
    """`valid` or `mismatch`: the sha256 trailer `snapshot save` appends, over everything before it."""
    import hashlib

    size = os.path.getsize(path)
    if size % 512 != 32:
        return "missing"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = size - 32
        while left > 0:
            chunk = f.read(min(8 << 20, left))
            if not chunk:
                return "mismatch"
            h.update(chunk)
            left -= len(chunk)
        return "valid" if h.digest() == f.read(32) else "mismatch"


def report(ch: Chain, verify: bool = False) -> dict:
    """The chain as `snapshot status DIR` shows it (-w json prints this dict); `verify` adds the sha256 checks
    and turns damage into problems."""
    problems: list[str] = []
    fulls = []
    for f in ch.fulls:
        d = {"file": os.path.basename(f.path), "revision": f.revision, "time": _iso(f.time), "size": f.size}
        if verify:
            d["sha256"] = _sha256_state(f.path)
            if d["sha256"] != "valid":
                problems.append(f"{d['file']}: sha256 {d['sha256']}")
        fulls.append(d)
    segs = []
    for s in ch.segments:
        ev = [r for r in s.records if r.kind == seg_mod.KIND_EVENTS]
        d = {
            "file": os.path.basename(s.path),
            "first_revision": s.first_rev,
            "last_revision": s.last_rev,
            "records": len(s.records),
            "size": s.size,
            "format": s.version,  # 1: written before follow kept prev_kv (0: header unreadable)
        }
        if ev:
            d["first_time"], d["last_time"] = _iso(ev[0].time_ns / 1e9), _iso(ev[-1].time_ns / 1e9)
        if s.damage:
            d["damage"] = s.damage + (" (torn tail)" if s.torn else "")
            d["damage_offset"] = s.damage_offset
            problems.append(f"{d['file']}: damaged at offset {s.damage_offset}: {d['damage']}")
        segs.append(d)
    return {
        "directory": ch.directory,
        "fulls": fulls,
        "segments": segs,
        "restorable": [{"from": a, "to": b} for a, b in ch.restorable()],
        "gaps": [{"from": g.first, "to": g.last, "reason": g.reason} for g in ch.gaps()],
        "newest_revision": ch.newest(),
        "ok": not problems,
        "problems": problems,
    }


def render(rep: dict) -> str:
    """The text form of report()."""
    from etcdctl_py.humanize import go_bytes

    lines = [f"directory: {rep['directory']}"]
    for f in rep["fulls"]:
        sha = f", sha256 {f['sha256']}" if "sha256" in f else ""
        lines.append(f"full {f['file']}: revision {f['revision']}, saved {f['time']}, {go_bytes(f['size'])}{sha}")
    for s in rep["segments"]:
        when = f" ({s['first_time']} .. {s['last_time']})" if "first_time" in s else ""
        dmg = f", DAMAGED at offset {s['damage_offset']}: {s['damage']}" if "damage" in s else ""
        lines.append(
            f"segment {s['file']}: revisions {s['first_revision']}..{s['last_revision']}{when}, "
            f"{s['records']} records, {go_bytes(s['size'])}{dmg}"
        )
    for r in rep["restorable"]:
        lines.append(f"restorable: revisions {r['from']}..{r['to']}")
    for g in rep["gaps"]:
        lines.append(f"gap: revisions {g['from']}..{g['to']} cannot be restored ({g['reason']})")
    lines.append(f"newest restorable revision: {rep['newest_revision']}")
    if rep["problems"]:
        lines.append(f"result: {len(rep['problems'])} problem(s)")
    return "\n".join(lines) + "\n"
