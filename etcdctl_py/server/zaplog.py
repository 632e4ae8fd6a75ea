"""etcd-py's log lines: zap's JSON form on stderr (level, ts, caller, msg, fields), and `fatal`, which ends the
process the way etcd's `lg.Fatal` does: one line, exit status 1, nothing after it is acknowledged."""

from __future__ import annotations

import json
import os
import sys
import time

LEVELS = {"debug": 0, "info": 1, "warn": 2, "error": 3, "dpanic": 4, "panic": 4, "fatal": 5}


def log(level: str, msg: str, min_level: str = "info", **fields: object) -> None:
    """One JSON log line if `level` is at or above `min_level` (the server's --log-level)."""
    if LEVELS.get(level, 1) < LEVELS.get(min_level, 1):
        return
    now = time.time()
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    rec = {"level": level, "ts": ts, "caller": "etcd-py", "msg": msg, **fields}
    try:
        sys.stderr.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or full: the log line is lost, the server is not
        pass


def fatal(msg: str, **fields: object) -> None:
    """Log one fatal line and end the process at once (exit 1), from whichever thread hit the fault.

    No clean-up runs: a write that failed half-way must not be followed by anything that could acknowledge or
    build on it. What was acknowledged is in the fsynced WAL; a restart replays it."""
    log("fatal", msg, "debug", **fields)
    os._exit(1)


def os_error_text(op: str, path: str, err: BaseException) -> str:
    """Go's *os.PathError text for an OSError ('write /x/db: no space left on device'), else str(err)."""
    if isinstance(err, OSError) and err.errno:
        from etcdctl_py.storage.fileutil import go_path_error

        return go_path_error(op, path, err)
    return str(err)
