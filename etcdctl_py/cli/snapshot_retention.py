"""Retention of dated snapshots for `snapshot save --keep N --max-age AGE` (the backup cron job, built in).

Which files count: the new snapshot's siblings whose names follow the same pattern with different digits, e.g.
saving `/backup/etcd-20261125-0300.db` considers `/backup/etcd-*.db` names where every run of digits may differ
(`etcd-20261124-0300.db`), and nothing else. So the target name must contain digits (a date or a counter), and a
candidate must also be a bbolt file (etcd's snapshot format), so an unrelated file is never removed. Age is the
file's modification time, as `find -mtime` sees it. The snapshot just saved is never removed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TextIO

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
BOLT_MAGIC = 0xED0CDAED


def parse_age(text: str) -> float:
    """'30d', '12h', '1w', '1d12h', '90m' -> seconds; raises ValueError with a message for the user."""
    pos, total = 0, 0.0
    for m in _AGE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _AGE_UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid --max-age {text!r}: use a number with a unit s, m, h, d or w (e.g. 30d)")
    return total


def name_pattern(basename: str) -> re.Pattern[str] | None:
    """The pattern of "the same name with other digits", or None if the name has no digits."""
    parts = re.split(r"(\d+)", basename)
    if len(parts) == 1:
        return None
    return re.compile("".join(r"\d+" if i % 2 else re.escape(p) for i, p in enumerate(parts)) + r"\Z")


@dataclass
class Policy:
    directory: str
    pattern: re.Pattern[str]
    keep: int  # 0 = no count limit
    max_age: float | None  # seconds
    max_age_text: str = ""

    @classmethod
    def for_target(cls, path: str, *, keep: int, max_age: float | None, max_age_text: str = "") -> Policy:
        base = os.path.basename(path)
        pat = name_pattern(base)
        if pat is None:
            raise ValueError(
                f"--keep/--max-age need a dated snapshot name (digits in it, e.g. "
                f"snapshot-$(date +%Y%m%d-%H%M%S).db), not {base!r}"
            )
        return cls(os.path.dirname(os.path.abspath(path)), pat, keep, max_age, max_age_text)

    def describe(self) -> str:
        rules = []
        if self.keep:
            rules.append(f"keep {self.keep}")
        if self.max_age is not None:
            rules.append(f"max age {self.max_age_text}")
        return ", ".join(rules)


@dataclass
class Snapshot:
    path: str
    mtime: float
    size: int


def is_bolt_file(path: str) -> bool:
    """bbolt's meta page magic at offset 16 (little endian) -- what every etcd snapshot starts with."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return len(head) == 20 and int.from_bytes(head[16:20], "little") == BOLT_MAGIC


def candidates(policy: Policy) -> list[Snapshot]:
    """Dated snapshots in the directory, newest first."""
    out = []
    for name in os.listdir(policy.directory):
        if not policy.pattern.match(name):
            continue
        p = os.path.join(policy.directory, name)
        try:
            st = os.stat(p)
        except OSError:
            continue
        if not os.path.isfile(p) or not is_bolt_file(p):
            continue
        out.append(Snapshot(p, st.st_mtime, st.st_size))
    out.sort(key=lambda s: (s.mtime, s.path), reverse=True)
    return out


def select(policy: Policy, snaps: list[Snapshot], just_saved: str, now: float) -> list[tuple[Snapshot, str]]:
    """The snapshots to remove with the reason, oldest last; never the one just saved."""
    saved = os.path.abspath(just_saved)
    remove = []
    kept = 0
    for s in snaps:
        if os.path.abspath(s.path) == saved:
            kept += 1
            continue
        if policy.max_age is not None and now - s.mtime > policy.max_age:
            remove.append((s, f"older than {policy.max_age_text}"))
        elif policy.keep and kept >= policy.keep:
            remove.append((s, f"beyond the newest {policy.keep}"))
        else:
            kept += 1
    return remove


def apply(policy: Policy, *, just_saved: str, out: TextIO, now: float | None = None) -> list[str]:
    """Remove what the policy selects, printing one line per file and a summary; returns the removed paths."""
    from etcdctl_py.humanize import go_bytes

    now = time.time() if now is None else now
    snaps = candidates(policy)
    removed = []
    for s, why in select(policy, snaps, just_saved, now):
        os.remove(s.path)
        removed.append(s.path)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.mtime))
        out.write(f"Removed old snapshot {s.path} ({go_bytes(s.size)}, saved {stamp}, {why})\n")
    kept = len(snaps) - len(removed)
    out.write(
        f"Retention ({policy.describe()}): {kept} snapshot{'' if kept == 1 else 's'} kept, "
        f"{len(removed)} removed in {policy.directory}\n"
    )
    out.flush()
    return removed
