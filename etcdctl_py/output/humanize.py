"""Number formatting that etcdctl/etcdutl output depends on: go-humanize v1.0.0 `Bytes` (SI units,
as in `snapshot status` and `endpoint status` tables) and Go's `time.Duration.String()` (`took`).
"""

from __future__ import annotations

import math

_SI = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def _humanate(s: int, base: float, sizes: tuple[str, ...]) -> str:
    if s < 10:
        return f"{s} B"
    e = math.floor(math.log(s) / math.log(base))
    val = math.floor(s / math.pow(base, e) * 10 + 0.5) / 10
    return ("%.0f %s" if val >= 10 else "%.1f %s") % (val, sizes[int(e)])


def go_bytes(size: int) -> str:
    """humanize.Bytes: 24576 -> '25 kB', 1003520 -> '1.0 MB', 9 -> '9 B'."""
    return _humanate(int(size) & 0xFFFFFFFFFFFFFFFF, 1000.0, _SI)


def go_ibytes(size: int) -> str:
    """humanize.IBytes (base 1024): 1536 -> '1.5 KiB'."""
    return _humanate(int(size) & 0xFFFFFFFFFFFFFFFF, 1024.0, _IEC)


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
