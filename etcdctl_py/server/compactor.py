"""Automatic compaction (--auto-compaction-mode/--auto-compaction-retention) as etcd 3.5's v3compactor runs it.

periodic: a revision is sampled every tenth of min(retention, 1h); once `retention` has passed (then every
min(retention, 1h)) the store is compacted to the oldest sample still inside the window.
revision: every 5 minutes the store is compacted to current revision - retention.
Every attempt is logged with etcd's messages; a failed one is a warning and is retried, never an exception.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from etcdctl_py import gofmt

HOUR_NS = 3600 * 1000_000_000
REVISION_INTERVAL_NS = 5 * 60 * 1000_000_000
RETRY_DIVISOR = 10


def _int64(v: int) -> int:
    """Go's int64 wrap-around (time.Duration(h) * time.Hour overflows silently in etcd)."""
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_retention(mode: str, retention: str) -> int:
    """embed's parseCompactionRetention: a whole number first (hours in periodic mode, revisions in revision
    mode), else a Go duration (nanoseconds, which revision mode takes as a revision count). ValueError with
    time.ParseDuration's text otherwise."""
    try:
        h = gofmt.parse_int(retention, 10, 64)  # strconv.Atoi
    except ValueError:
        h = -1
    if h >= 0:
        if mode == "revision":
            return h
        if mode == "periodic":
            return _int64(h * HOUR_NS)
        return 0
    return gofmt.parse_duration(retention)


class Compactor:
    """One auto-compaction loop; `run()` is a thread body that returns when `stop` is set."""

    def __init__(self, core, mode: str, retention: int, stop: threading.Event, log: Callable[..., None]) -> None:
        self.core = core
        self.mode = mode
        self.retention = retention
        self.stop = stop
        self.log = log  # log(level, msg, **fields)

    def run(self) -> None:
        try:
            if self.mode == "revision":
                self._revision()
            elif self.retention > 0:
                self._periodic()
            else:  # etcd would spin on a negative period; etcd-py does not compact at all
                self.log(
                    "warn",
                    "negative auto-compaction-retention; auto compaction disabled",
                    **{"compact-period": gofmt.format_duration(self.retention)},
                )
        except Exception as e:  # noqa: BLE001 - the loop must never die with a traceback
            self.log("warn", "auto compaction stopped", error=f"{type(e).__name__}: {e}")

    def _compact(self, rev: int) -> tuple[bool, str]:
        """(done, error text): done also when the revision was already compacted, as etcd treats it."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
        from etcdctl_py.server import errors

        try:
            self.core.compact(pb.CompactionRequest(revision=rev))
        except errors.EtcdError as e:
            if e.message == errors.COMPACTED.message:
                return True, ""
            return False, e.message.removeprefix("etcdserver: ")
        except Exception as e:  # noqa: BLE001 - logged and retried like any failed compaction
            return False, str(e) or type(e).__name__
        return True, ""

    def _revision(self) -> None:
        prev = 0
        while not self.stop.wait(REVISION_INTERVAL_NS / 1e9):
            prev = self.revision_step(prev)

    def revision_step(self, prev: int) -> int:
        """One round of etcd's revision compactor: compact to current - retention unless that is not positive
        or was the last one done; returns the revision last compacted."""
        rev = self.core.store.current_rev - self.retention
        if rev <= 0 or rev == prev:
            return prev
        fields = {"revision": rev, "revision-compaction-retention": self.retention}
        self.log("info", "starting auto revision compaction", **fields)
        start = time.monotonic_ns()
        done, err = self._compact(rev)
        if done:
            self.log(
                "info",
                "completed auto revision compaction",
                **fields,
                took=gofmt.format_duration(time.monotonic_ns() - start),
            )
            return rev
        self.log(
            "warn",
            "failed auto revision compaction",
            **fields,
            **{"retry-interval": gofmt.format_duration(REVISION_INTERVAL_NS)},
            error=err,
        )
        return prev

    def _periodic(self) -> None:
        period = self.retention
        compact_interval = min(period, HOUR_NS)
        retry = compact_interval // RETRY_DIVISOR
        keep = period // retry + 1 if retry else 1
        revs: list[int] = []
        last_success = time.monotonic_ns()
        base = period
        fields = {"compact-period": gofmt.format_duration(period)}
        while True:
            revs.append(self.core.store.current_rev)
            if len(revs) > keep:
                revs = revs[1:]  # revs[0] is the revision of one period ago
            if self.stop.wait(retry / 1e9):
                return
            if time.monotonic_ns() - last_success < base:
                continue
            base = compact_interval
            rev = revs[0]
            self.log("info", "starting auto periodic compaction", revision=rev, **fields)
            start = time.monotonic_ns()
            done, err = self._compact(rev)
            if done:
                self.log(
                    "info",
                    "completed auto periodic compaction",
                    revision=rev,
                    **fields,
                    took=gofmt.format_duration(time.monotonic_ns() - start),
                )
                last_success = time.monotonic_ns()
            else:
                self.log(
                    "warn",
                    "failed auto periodic compaction",
                    revision=rev,
                    **fields,
                    **{"retry-interval": gofmt.format_duration(retry)},
                    error=err,
                )


def run(core, flags, stop: threading.Event) -> None:
    """The auto-compaction thread body for a started server: nothing to do when the retention is 0."""
    from etcdctl_py.server.zaplog import log

    try:
        retention = parse_retention(flags.get("auto-compaction-mode"), flags.get("auto-compaction-retention") or "0")
    except ValueError:
        return  # refused at start-up already (config.check_startup)
    if retention == 0:
        return
    Compactor(
        core,
        flags.get("auto-compaction-mode"),
        retention,
        stop,
        lambda level, msg, **kv: log(level, msg, flags.level, **kv),
    ).run()
