"""Key ranges as etcd spells them. Pure Python (no protobuf, no grpc), so the client, the CLI and etcd-py's
lock/election recipes share one copy."""

from __future__ import annotations


def prefix_end(key: bytes) -> bytes:
    """The range end that selects every key starting with `key` (etcd's GetPrefixRangeEnd)."""
    b = bytearray(key)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\x00"  # every byte is 0xff: all keys from `key` on


def key_range(key: bytes, range_end: bytes, *, prefix: bool = False, from_key: bool = False) -> tuple[bytes, bytes]:
    """The (key, range_end) etcdctl sends for `--prefix` / `--from-key` (clientv3's WithPrefix and
    WithFromKey): an empty key means the whole key space, starting at `\\x00`."""
    if prefix:
        if not key:
            key, range_end = b"\x00", b"\x00"
        else:
            range_end = prefix_end(key)
    if from_key:
        if not key:
            key = b"\x00"
        range_end = b"\x00"
    return key, range_end
