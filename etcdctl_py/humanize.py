"""go-humanize v1.0.0's byte sizes (`Bytes`, SI units; `IBytes`, base 1024), as etcdctl and etcdutl print them in
`snapshot status` and `endpoint status` tables and in their logs (defrag's sizes, etcd's request-size warning).
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
    return f"{val:.0f} {sizes[int(e)]}" if val >= 10 else f"{val:.1f} {sizes[int(e)]}"


def go_bytes(size: int) -> str:
    """humanize.Bytes: 24576 -> '25 kB', 1003520 -> '1.0 MB', 9 -> '9 B'."""
    return _humanate(int(size) & 0xFFFFFFFFFFFFFFFF, 1000.0, _SI)


def go_ibytes(size: int) -> str:
    """humanize.IBytes (base 1024): 1536 -> '1.5 KiB'."""
    return _humanate(int(size) & 0xFFFFFFFFFFFFFFFF, 1024.0, _IEC)
