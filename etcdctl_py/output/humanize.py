"""Number formatting that etcdctl/etcdutl output depends on: go-humanize v1.0.0 `Bytes` (SI units,
as in `snapshot status` and `endpoint status` tables) and Go's `time.Duration.String()` (`took`).
"""

from __future__ import annotations

# go-humanize's byte sizes moved down to etcdctl_py/humanize.py (the offline engine and the server use them too);
# re-exported for the importers that still name this module.
from etcdctl_py.humanize import go_bytes, go_ibytes  # noqa: F401


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of v/10**prec without trailing zeros ('' if zero), and v/10**prec."""
    digits = []
    printed = False
    for _ in range(prec):
        d = v % 10
        printed = printed or d != 0
        if printed:
            digits.append(str(d))
        v //= 10
    frac = ("." + "".join(reversed(digits))) if printed else ""
    return frac, v


def go_duration(ns: int) -> str:
    """time.Duration(ns).String(): '0s', '850µs', '2.941594ms', '5.002716674s', '1m2.5s', '-1.5s'."""
    ns = int(ns)
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            out = f"{u}ns"
        elif u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            out = f"{whole}{frac}µs"
        else:
            frac, whole = _fmt_frac(u, 6)
            out = f"{whole}{frac}ms"
    else:
        frac, u = _fmt_frac(u, 9)
        out = f"{u % 60}{frac}s"
        u //= 60
        if u > 0:
            out = f"{u % 60}m" + out
            u //= 60
            if u > 0:
                out = f"{u}h" + out
    return "-" + out if neg else out


def go_duration_seconds(seconds: float) -> str:
    """go_duration of a float number of seconds (rounded to whole nanoseconds)."""
    return go_duration(round(seconds * 1e9))
