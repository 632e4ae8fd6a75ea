""".snap files: etcd's name, envelope, CRC; a damaged file is reported, never misread."""

from __future__ import annotations

import pytest

from etcdctl_py.storage import membership, snap, v2store


def test_round_trip_and_name(tmp_path):
    members = [membership.Member(id=0x7FD8BBD609F19519, peer_urls=["http://127.0.0.1:24811"], name="solo")]
    data = v2store.restore_store(members)
    path = snap.write_snap(str(tmp_path), data, 1, 1, [members[0].id])
    assert path.endswith("0000000000000001-0000000000000001.snap")
    s = snap.read_snap(path)
    assert s.data == data and (s.metadata.index, s.metadata.term) == (1, 1)
    assert list(s.metadata.conf_state.voters) == [members[0].id]
    # the reference tail of the raft snapshot: metadata{conf_state{voter, auto_leave 0}, index 1, term 1}
    raw = snap.encode_raft_snapshot(data, 1, 1, [members[0].id])
    assert raw.endswith(bytes.fromhex("12120a0c0899aac6cfe0faaeec7f280010011801"))
    assert snap.list_snaps(str(tmp_path)) == ["0000000000000001-0000000000000001.snap"]
    assert snap.load_newest(str(tmp_path), [(1, 1)]).data == data
    assert snap.load_newest(str(tmp_path), [(2, 1)]) is None


def test_v2_store_json_shape():
    members = [
        membership.Member(id=2, peer_urls=["http://b:2"], name="b"),
        membership.Member(id=1, peer_urls=["http://a:1"], name="a"),
    ]
    js = v2store.restore_store(sorted(members, key=lambda x: x.id)).decode()
    assert js.startswith('{"Root":{"Path":"/","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z"')
    assert (
        '"1":{"Path":"/1","CreatedIndex":0,"ModifiedIndex":0,'
        '"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}}'
    ) in js
    assert '"Value":"{\\"peerURLs\\":[\\"http://a:1\\"]}","Children":null' in js
    assert js.count("null") == 2 + 998  # two leaves + 998 empty history slots
    assert js.endswith('"expireCount":0,"watchers":0},"CurrentVersion":2}')
    assert '"Size":2,"Front":0,"Back":2,"Capacity":1000},"StartIndex":1,"LastIndex":2}},"CurrentIndex":2' in js
    # load + save is the identity on etcd's own output
    assert v2store.V2Store.load(js.encode()).to_json().decode() == js


def test_replace_membership():
    old = [membership.Member(id=5, peer_urls=["http://o:1"])]
    new = [membership.Member(id=9, peer_urls=["http://n:1"], name="etcdctl-v2-backup")]
    st = v2store.V2Store.load(v2store.replace_membership(v2store.restore_store(old), new))
    assert st.member_ids(v2store.MEMBERS_PREFIX) == ["9"]
    assert st.current_index == 3 and st.stats["deleteSuccess"] == 1 and st.stats["createSuccess"] == 2
    assert (st.stats["getsSuccess"], st.stats["getsFail"]) == (1, 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "zero-crc"])
def test_damaged_files_are_rejected(tmp_path, damage):
    path = snap.write_snap(str(tmp_path), b'{"x":1}', 3, 1, [1, 2, 3])
    content = bytearray(open(path, "rb").read())
    if damage == "flip":
        content[-3] ^= 0x10
    elif damage == "truncate":
        content = content[:-5]
    elif damage == "empty":
        content = bytearray()
    else:
        content[1:6] = b"\x00\x00\x00\x00\x00"[: len(content[1:6])]
    with pytest.raises(snap.SnapError, match="^snap: "):
        snap.decode_snap_file(bytes(content))
