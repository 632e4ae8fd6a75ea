"""Helpers for the differential tests of the operational verbs (compaction, defrag, snapshot, make-mirror, check).

`check_masked` compares like difftest.Pair.check but also masks each side's client port in stdout (URLs from
`--cluster` name the twin's own port). `help_without` compares our --help with the real one after dropping the
lines of flags that only etcdctl-py has (tab runs collapsed, since an extra flag may widen the column).
"""

from __future__ import annotations

import re

from tests import difftest

_TABS = re.compile(rb"\t+")


def check_masked(pair: difftest.Pair, args: list[str], extra_flags: tuple[str, ...] = (), **kw) -> difftest.Result:
    """Like Pair.check, with ports masked in stdout too; usage texts may differ only by `extra_flags` lines."""
    real, mine = pair.run(args, **kw)
    ports = (pair.a.client_port, pair.b.client_port)
    ra, ma = difftest.mask_stderr(real.stdout, ports), difftest.mask_stderr(mine.stdout, ports)
    if extra_flags and ra.startswith(b"NAME:"):
        help_without(ra, ma, list(extra_flags))
    else:
        assert ma == ra, f"stdout differs for {args}:\nreal: {real.stdout!r}\nours: {mine.stdout!r}"
    assert mine.rc == real.rc, f"exit code differs for {args}: real {real.rc}, ours {mine.rc}\n{mine}"
    assert difftest.mask_stderr(mine.stderr, ports) == difftest.mask_stderr(real.stderr, ports), (
        f"stderr differs for {args}:\nreal: {real.stderr!r}\nours: {mine.stderr!r}"
    )
    return mine


def help_without(real: bytes, ours: bytes, extra_flags: list[str]) -> None:
    """Assert `ours` is `real` plus at most one line per flag in `extra_flags` (tab runs collapsed)."""
    marks = [f"--{f}".encode() for f in extra_flags]
    kept = [ln for ln in ours.split(b"\n") if not any(re.search(re.escape(m) + rb"[=\[]", ln) for m in marks)]
    assert len(ours.split(b"\n")) - len(kept) <= len(extra_flags), ours
    if len(kept) == len(ours.split(b"\n")):
        assert ours == real  # no extra flag shown: byte-identical, tabs included
    assert _TABS.sub(b"\t", b"\n".join(kept)) == _TABS.sub(b"\t", real)


def put_both(pair: difftest.Pair, items: list[tuple[str, str]]) -> None:
    """The same puts on both twins, through the client library (fast setup; the verbs under test run as CLIs)."""
    from etcdctl_py.client import Client

    for srv in (pair.a, pair.b):
        with Client([srv.endpoint]) as c:
            for k, v in items:
                c.kv.put(k.encode(), v.encode())
