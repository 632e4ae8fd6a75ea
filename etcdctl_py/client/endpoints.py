"""Endpoint strings as etcdctl accepts them, turned into gRPC targets.

`host:port`, `http://host:port`, `https://host:port`, `unix://path`, `unixs://path`.
The endpoint is kept exactly as typed for printing (etcdctl prints what the user wrote).
"""

from __future__ import annotations

from typing import NamedTuple


class Endpoint(NamedTuple):
    raw: str  # as the user typed it
    target: str  # gRPC target
    authority: str  # host:port or path, scheme stripped (what Go shows in its target)
    secure: bool  # https:// or unixs://


def parse_endpoint(raw: str) -> Endpoint:
    s = raw.strip()
    for scheme, secure in (("https://", True), ("http://", False), ("unixs://", True), ("unix://", False)):
        if s.startswith(scheme):
            rest = s[len(scheme):]
            if scheme.startswith("unix"):
                return Endpoint(raw, "unix:" + rest, rest, secure)
            return Endpoint(raw, rest, rest, secure)
    return Endpoint(raw, s, s, False)
