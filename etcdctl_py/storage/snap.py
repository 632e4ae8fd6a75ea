"""`.snap` files: a raft snapshot (v2 store JSON + metadata) wrapped in snappb.snapshot with a CRC-32C.

etcd loads the newest `<term>-<index>.snap` matching a WAL snapshot record and silently renames a damaged one to
`.broken`, so a writer must get the CRC and the name exactly right, and a reader should say clearly what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import crc32c

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.proto.snappb import snap_pb2

SNAP_SUFFIX = ".snap"


class SnapError(ValueError):
    """A .snap file that etcd would reject; messages are etcd's (`snap: crc mismatch`, ...)."""


@dataclass
class SnapMeta:
    index: int
    term: int
    voters: list[int]


def write_and_sync(path: str, content: bytes, mode: int) -> None:
    """pioutil.WriteAndSyncFile: create/truncate with `mode` (umask applies), write, fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def snap_name(term: int, index: int) -> str:
    """etcd's file name: `%016x-%016x.snap` of (term, index)."""
    return f"{term:016x}-{index:016x}{SNAP_SUFFIX}"


def conf_state(voters: list[int]) -> raft_pb2.ConfState:
    """A ConfState as etcd marshals it: voters unpacked, auto_leave always written."""
    return raft_pb2.ConfState(voters=voters, auto_leave=False)


def encode_raft_snapshot(data: bytes, index: int, term: int, voters: list[int]) -> bytes:
    """raftpb.Snapshot bytes: data, then metadata{conf_state, index, term} (all non-nullable, always written)."""
    md = raft_pb2.SnapshotMetadata(conf_state=conf_state(voters), index=index, term=term)
    return raft_pb2.Snapshot(data=data, metadata=md).SerializeToString()


def encode_snap_file(raft_snapshot: bytes) -> bytes:
    """The .snap file content: snappb.snapshot{crc=CRC-32C(data), data}."""
    return snap_pb2.snapshot(crc=crc32c.crc32c(raft_snapshot), data=raft_snapshot).SerializeToString()


def write_snap(snap_dir: str, data: bytes, index: int, term: int, voters: list[int]) -> str:
    """Write and fsync `<snap_dir>/<term>-<index>.snap` (mode 0666 & ~umask, like etcd); return its path."""
    path = os.path.join(snap_dir, snap_name(term, index))
    write_and_sync(path, encode_snap_file(encode_raft_snapshot(data, index, term, voters)), 0o666)
    return path


def decode_snap_file(content: bytes) -> raft_pb2.Snapshot:
    """Parse and CRC-check a .snap file's bytes (snap.Read)."""
    if not content:
        raise SnapError("snap: empty snapshot")
    env = snap_pb2.snapshot()
    try:
        env.ParseFromString(content)
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError (and others on garbage)
        raise SnapError("snap: cannot unmarshal snapshot file") from None
    if not env.data or env.crc == 0:
        raise SnapError("snap: empty snapshot")
    if crc32c.crc32c(env.data) != env.crc:
        raise SnapError("snap: crc mismatch")
    rs = raft_pb2.Snapshot()
    try:
        rs.ParseFromString(env.data)
    except Exception:  # noqa: BLE001
        raise SnapError("snap: cannot unmarshal raft snapshot") from None
    return rs


def read_snap(path: str) -> raft_pb2.Snapshot:
    with open(path, "rb") as f:
        return decode_snap_file(f.read())


def list_snaps(snap_dir: str) -> list[str]:
    """The .snap names in a directory, newest (greatest term/index) first, like snap.Snapshotter.snapNames."""
    try:
        names = os.listdir(snap_dir)
    except FileNotFoundError:
        return []
    return sorted((n for n in names if n.endswith(SNAP_SUFFIX)), reverse=True)


def load_newest(snap_dir: str, wal_snaps: list[tuple[int, int]] | None = None) -> raft_pb2.Snapshot | None:
    """The newest readable snapshot (optionally only those whose (index, term) a WAL snapshot record names)."""
    allowed = set(wal_snaps) if wal_snaps is not None else None
    for name in list_snaps(snap_dir):
        try:
            s = read_snap(os.path.join(snap_dir, name))
        except (SnapError, OSError):
            continue
        if allowed is None or (s.metadata.index, s.metadata.term) in allowed:
            return s
    return None
