"""Point-in-time restore: `snapshot restore DIR --to-revision R | --to-time T` from a `snapshot follow` directory.

The newest full snapshot at or below R is restored as usual (snapshot/restore.py: copy + sha256, membership,
WAL, .snap, atomic rename), and between the copy and the membership rewrite the deltas F+1..R are written into
the copied db's `key` bucket exactly as etcd stores them: revision key (main, sub; 't' for a delete's tombstone)
-> KeyValue. etcd rebuilds its key index from that bucket when it starts, so it serves revision R with the
source's create/mod revisions and versions.

Leases: the full's lease bucket is kept as it is. A lease granted after the full and seen on a put at or below
R is added with the TTL follow recorded for it; like every restored lease its countdown starts again when the
restored member starts. Leases revoked after the full stay in the bucket (their keys are deleted by the deltas)
until their TTL ends. Auth and membership are the full's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from etcdctl_py.snapshot import chain as chain_mod
from etcdctl_py.snapshot import restore as rs
from etcdctl_py.snapshot import segments as seg_mod
from etcdctl_py.storage import backend


def parse_time(text: str) -> float:
    """RFC 3339 (`2026-12-05T14:00:00Z`, `...+01:00`, fractions allowed) -> UTC seconds."""
    from datetime import datetime

    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise chain_mod.ChainError(f"invalid --to-time {text!r}: use RFC 3339, e.g. 2026-12-05T14:00:00Z") from None
    if dt.tzinfo is None:
        raise chain_mod.ChainError(f"invalid --to-time {text!r}: give a time zone (Z or +hh:mm)")
    return dt.timestamp()


def resolve(ch: chain_mod.Chain, to_revision: int, to_time: str) -> int:
    """The revision to restore: --to-revision, --to-time, or (neither) the newest restorable one."""
    if to_revision and to_time:
        raise chain_mod.ChainError("--to-revision and --to-time cannot be combined")
    if to_time:
        return ch.revision_at(parse_time(to_time))
    if to_revision:
        return to_revision
    newest = ch.newest()
    if newest == 0:
        raise chain_mod.ChainError(f"no full snapshot in {ch.directory}")
    return newest


def apply_deltas(db_path: str, full_rev: int, segs: list[seg_mod.SegmentScan], rev: int) -> int:
    """Write the events full_rev+1..rev into the db's key bucket (and leases granted since), in one bbolt
    transaction; returns the count. The events' prev_kv (segment version 2) is not needed: the bucket holds
    every earlier version already."""
    from etcdctl_py.storage import bbolt

    db = bbolt.open_db(db_path, writable=True, reuse_free_pages=False)
    try:
        with db.update() as tx:
            return _put_keys(tx, full_rev, segs, rev)
    finally:
        db.close()


def _put_keys(tx: Any, full_rev: int, segs: list[seg_mod.SegmentScan], rev: int) -> int:
    """Revision keys into `key`; then the leases granted after the full that `lease` does not hold yet."""
    from etcdctl_py.proto.leasepb import lease_pb2

    kb = tx.create_bucket_if_not_exists(backend.KEY)
    leases: dict[int, int] = {}
    n = 0
    for s in segs:
        for ev in seg_mod.read_records(s.path, rev):
            if ev.type == seg_mod.LEASE_EVENT:
                leases[ev.rev] = ev.sub  # lease ID, granted TTL
            elif ev.rev > full_rev:
                kb.put(backend.rev_to_bytes(ev.rev, ev.sub, ev.type == seg_mod.DELETE), ev.value)
                n += 1
    if leases:
        lb = tx.create_bucket_if_not_exists(backend.LEASE)
        for lid, ttl in leases.items():
            key = lid.to_bytes(8, "big", signed=True)
            if lb.get(key) is None:
                lb.put(key, lease_pb2.Lease(ID=lid, TTL=ttl).SerializeToString())
    return n


def restore(
    cfg: rs.RestoreConfig,
    directory: str,
    *,
    to_revision: int = 0,
    to_time: str = "",
    output_dir: str = "",
    log: rs.ZapLogger | None = None,
    progress: rs.StageProgress | None = None,
    on_plan: Callable[[int, chain_mod.Full], None] | None = None,
) -> int:
    """Restore the follow directory to one revision (atomic, like restore.restore); returns that revision.

    Raises RestoreError with the reason when the revision is not covered or a segment on the way is damaged."""
    try:
        ch = chain_mod.load(directory)
        target = resolve(ch, to_revision, to_time)
        full, segs = ch.plan(target)
    except (chain_mod.ChainError, seg_mod.SegmentError) as e:
        raise rs.RestoreError(str(e)) from None
    if on_plan is not None:
        on_plan(target, full)

    def apply(db_path: str) -> None:
        try:
            apply_deltas(db_path, full.revision, segs, target)
        except seg_mod.SegmentError as e:
            raise rs.RestoreError(f"revision {target} cannot be restored: {e}") from None

    cfg = rs.RestoreConfig(**{**cfg.__dict__, "snapshot_path": full.path, "apply_db": apply})
    if output_dir:
        rs.restore_all(cfg, output_dir, log, progress)
    else:
        rs.restore(cfg, log, progress)
    return target


def describe_time(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def is_dir(path: str) -> bool:
    return os.path.isdir(path)
