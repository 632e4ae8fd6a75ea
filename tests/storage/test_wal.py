"""WAL framing, CRC chaining, preallocation and segment cuts; the reader verifies every CRC and names the damage."""

from __future__ import annotations

import os
import struct

import crc32c
import pytest

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.storage import wal

SOLO = 0x7FD8BBD609F19519
SOLO_CLUSTER = 0x7D022C578071762C
SOLO_JSON = b'{"id":9212319565750572313,"peerURLs":["http://127.0.0.1:24811"],"name":"solo"}'


def solo_wal(d: str, preallocate: bool = True) -> str:
    w = wal.WALWriter(d, wal.encode_metadata(SOLO, SOLO_CLUSTER), preallocate=preallocate)
    cc = raft_pb2.ConfChange(id=0, type=0, node_id=SOLO, context=SOLO_JSON).SerializeToString()
    w.save(1, SOLO, 1, [wal.encode_entry((1, 1, 1, cc))], 1)
    w.save_snapshot(1, 1, [SOLO])
    w.close()
    return os.path.join(d, "0000000000000000-0000000000000000.wal")


def test_reference_bytes(tmp_path):
    """The solo example of the storage reference, byte for byte (offsets 0..272, then zeros to 64,000,000)."""
    path = solo_wal(str(tmp_path / "wal"))
    data = open(path, "rb").read()
    assert len(data) == wal.SEGMENT_SIZE_BYTES
    assert data[:16] == bytes.fromhex("04000000000000840804100000000000")
    assert data[16:24] == bytes.fromhex("1e00000000000082")
    assert data[56:80] == bytes.fromhex("0e00000000000082080510a888859b0e1a04080010000000")
    assert data[80:88] == bytes.fromhex("7000000000000000")
    assert data[200:232] == bytes.fromhex("1800000000000000080310de8ae4a50d1a0e08011099aac6cfe0faaeec7f1801")
    assert data[232:272] == bytes.fromhex(
        "1c00000000000084080510bebaf5cf021a12080110011a0c0899aac6cfe0faaeec7f280000000000"
    )
    assert data[272:] == bytes(len(data) - 272)
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert not os.path.exists(str(tmp_path / "wal.tmp"))


def test_read_back(tmp_path):
    solo_wal(str(tmp_path / "wal"))
    got = wal.read_wal(str(tmp_path / "wal"), 1, 1)
    assert wal.decode_metadata(got.metadata) == (SOLO, SOLO_CLUSTER)
    assert (got.hard_state.term, got.hard_state.vote, got.hard_state.commit) == (1, SOLO, 1)
    assert got.snapshots == [(0, 0), (1, 1)] and got.records == 6
    got0 = wal.read_wal(str(tmp_path / "wal"), 0, 0)
    assert [e.Index for e in got0.entries] == [1] and got0.entries[0].Type == raft_pb2.EntryConfChange


def test_not_preallocated(tmp_path):
    path = solo_wal(str(tmp_path / "wal"), preallocate=False)
    assert os.path.getsize(path) == 272
    assert wal.read_wal(str(tmp_path / "wal"), 1, 1).records == 6


def test_frame_padding():
    for n in range(0, 20):
        f = wal.encode_frame(b"x" * n)
        assert len(f) % 8 == 0
        (length,) = struct.unpack_from("<Q", f)
        pad = (8 - n % 8) % 8
        assert length & 0xFFFFFFFFFFFFFF == n
        assert (length >> 56) == ((0x80 | pad) if pad else 0)


def test_crc_chain_is_crc32c_of_all_data(tmp_path):
    path = solo_wal(str(tmp_path / "wal"), preallocate=False)
    recs = wal.iter_records(open(path, "rb").read())
    running = 0
    for _, rec in recs:
        if rec.type == wal.CRC_TYPE:
            continue
        running = crc32c.crc32c(rec.data, running)
        assert rec.crc == running


@pytest.mark.parametrize("offset", [30, 60, 100, 150, 210, 250])
def test_corruption_is_reported(tmp_path, offset):
    path = solo_wal(str(tmp_path / "wal"), preallocate=False)
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x01
    open(path, "wb").write(data)
    with pytest.raises(
        wal.WALError, match=r"crc mismatch|cannot decode|snapshot not found|torn|unexpected|max entry size"
    ):
        wal.read_wal(str(tmp_path / "wal"), 1, 1)


def test_torn_tail(tmp_path):
    path = solo_wal(str(tmp_path / "wal"), preallocate=False)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-10])
    with pytest.raises(wal.WALError, match="torn record"):
        wal.read_wal(str(tmp_path / "wal"), 1, 1)


def test_segment_cut(tmp_path, monkeypatch):
    """A Save that fills the segment cuts to a new file that restates crc, metadata and HardState."""
    monkeypatch.setattr(wal, "SEGMENT_SIZE_BYTES", 4096)
    w = wal.WALWriter(str(tmp_path / "wal"), wal.encode_metadata(1, 2), preallocate=False)
    ents = [wal.encode_entry((0, 1, i, b"y" * 100)) for i in range(1, 51)]
    w.save(1, 1, 50, ents, 50)
    w.save_snapshot(50, 1, [1])
    w.close()
    names = sorted(os.listdir(tmp_path / "wal"))
    assert names == ["0000000000000000-0000000000000000.wal", "0000000000000001-0000000000000033.wal"]
    got = wal.read_wal(str(tmp_path / "wal"), 0, 0)
    assert len(got.entries) == 50 and got.hard_state.commit == 50 and (50, 1) in got.snapshots
    second = wal.iter_records(open(tmp_path / "wal" / names[1], "rb").read())
    assert [r.type for _, r in second] == [wal.CRC_TYPE, wal.METADATA_TYPE, wal.STATE_TYPE, wal.SNAPSHOT_TYPE]
