"""The Snapshot stream off the wire, now part of the client's transport (etcdctl_py.client.transport.snapshot).

Kept as the name `snapshot save` and its tests import; everything lives in the transport module.
"""

from __future__ import annotations

from etcdctl_py.client.transport.snapshot import (
    SNAPSHOT_PATH,
    SnapshotChunk,
    StreamBroken,
    StreamTimeout,
    Unreachable,
    Unsupported,
    WireError,
    _status_200,
    dial,
    open_plain,
    parse_snapshot_response,
    plain_target,
)

__all__ = [
    "SNAPSHOT_PATH",
    "SnapshotChunk",
    "StreamBroken",
    "StreamTimeout",
    "Unreachable",
    "Unsupported",
    "WireError",
    "_status_200",
    "dial",
    "open_plain",
    "parse_snapshot_response",
    "plain_target",
]
