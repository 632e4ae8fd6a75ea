"""`snapshot restore`: golden comparison with real etcdutl 3.5.1, and real etcd 3.5.1 / 3.4.23 started on our output.

Snapshots come from a real etcd 3.5.1 (tests/snapshot/realsnaps.py). For each, our restore must produce the same
.snap and WAL bytes as etcdutl, a db with the same `snapshot status` and the same bucket contents, and real servers
(one member and three-member clusters) must start on it and serve exactly the snapshot's keys.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdctl_py.proto.mvccpb import kv_pb2
from etcdctl_py.snapshot import restore as rs
from etcdctl_py.snapshot import status as status_mod
from etcdctl_py.storage import bbolt, membership, wal
from tests import etcdproc
from tests.snapshot import realsnaps

ETCD34 = etcdproc.debian_etcd34()


@pytest.fixture(scope="module")
def snaps(real_snaps: dict[str, Path]) -> dict[str, Path]:
    """This module's name for the session's real etcd 3.5.1 snapshots (tests/conftest.py `real_snaps`)."""
    return real_snaps


def etcdutl(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([etcdproc.distro_bin("etcdutl"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def bucket_dump(db_path: str) -> dict[bytes, list[tuple[bytes, bytes]]]:
    db = bbolt.open_db(db_path)
    try:
        with db.view() as tx:
            return {name: list(b.items()) for name, b in tx.buckets()}
    finally:
        db.close()


def expected_kvs(snapshot: Path) -> tuple[dict[bytes, kv_pb2.KeyValue], int]:
    """The live keys and the current revision encoded in a snapshot's `key` bucket."""
    db = bbolt.open_db(str(snapshot))
    live: dict[bytes, kv_pb2.KeyValue] = {}
    rev = 0
    try:
        with db.view() as tx:
            for k, v in tx.bucket(b"key").items():
                rev = max(rev, int.from_bytes(k[:8], "big"))
                kv = kv_pb2.KeyValue()
                kv.ParseFromString(v)
                if len(k) == 18 and k[17:] == b"t":
                    live.pop(kv.key, None)
                else:
                    live[kv.key] = kv
    finally:
        db.close()
    return live, rev


CLUSTERS = {
    "default": dict(
        name="default",
        initial_cluster="default=http://localhost:2380",
        peer_urls="http://localhost:2380",
        token="etcd-cluster",
    ),
    "three": dict(
        name="m2",
        initial_cluster="m1=http://127.0.0.1:24801,m2=http://127.0.0.1:24802,m3=http://127.0.0.1:24803",
        peer_urls="http://127.0.0.1:24802",
        token="tok-r",
    ),
    "multiurl": dict(
        name="a",
        initial_cluster="a=https://127.0.0.1:3001,b=http://127.0.0.1:3002,a=http://127.0.0.1:3000",
        peer_urls="http://127.0.0.1:3000,https://127.0.0.1:3001",
        token="x<&>\u2028y",
    ),
}


def ours(snapshot: Path, data_dir: Path, c: dict, skip: bool = False, **kw) -> rs.RestoreResult:
    cfg = rs.RestoreConfig(
        snapshot_path=str(snapshot),
        name=c["name"],
        data_dir=str(data_dir),
        initial_cluster=c["initial_cluster"],
        peer_urls=c["peer_urls"],
        initial_cluster_token=c["token"],
        skip_hash_check=skip,
        **kw,
    )
    return rs.restore(cfg)


def theirs(snapshot: Path, data_dir: Path, c: dict, skip: bool = False) -> None:
    args = [
        "snapshot",
        "restore",
        str(snapshot),
        "--data-dir",
        str(data_dir),
        "--name",
        c["name"],
        "--initial-cluster",
        c["initial_cluster"],
        "--initial-advertise-peer-urls",
        c["peer_urls"],
        "--initial-cluster-token",
        c["token"],
    ]
    if skip:
        args.append("--skip-hash-check")
    r = etcdutl(*args)
    assert r.returncode == 0, r.stderr


def only(d: Path, pattern: str) -> Path:
    found = list(d.glob(pattern))
    assert len(found) == 1, found
    return found[0]


GOLDEN = [(s, c) for s in ("small", "compacted", "auth") for c in CLUSTERS] + [("big", "three"), ("live", "three")]


@pytest.mark.parametrize("snapname,cluster", GOLDEN)
def test_golden_against_etcdutl(snaps, tmp_path, snapname, cluster):
    c = CLUSTERS[cluster]
    skip = snapname == "live"
    ours(snaps[snapname], tmp_path / "ours", c, skip=skip)
    theirs(snaps[snapname], tmp_path / "theirs", c, skip=skip)
    a, b = tmp_path / "ours" / "member", tmp_path / "theirs" / "member"
    snap_a, snap_b = only(a / "snap", "*.snap"), only(b / "snap", "*.snap")
    assert snap_a.name == snap_b.name
    assert snap_a.read_bytes() == snap_b.read_bytes()
    wal_a, wal_b = only(a / "wal", "*.wal"), only(b / "wal", "*.wal")
    assert wal_a.name == wal_b.name == "0000000000000000-0000000000000000.wal"
    assert wal_a.read_bytes() == wal_b.read_bytes()
    st_a = etcdutl("snapshot", "status", str(a / "snap" / "db"), "-w", "json")
    st_b = etcdutl("snapshot", "status", str(b / "snap" / "db"), "-w", "json")
    assert st_a.returncode == 0 and json.loads(st_a.stdout)["hash"] == json.loads(st_b.stdout)["hash"]
    assert json.loads(st_a.stdout)["revision"] == json.loads(st_b.stdout)["revision"]
    assert bucket_dump(str(a / "snap" / "db")) == bucket_dump(str(b / "snap" / "db"))
    for p in (tmp_path / "ours", a, a / "snap", a / "wal"):
        assert (p.stat().st_mode & 0o777) == 0o700, p
    assert ((a / "snap" / "db").stat().st_mode & 0o777) == 0o600
    assert (wal_a.stat().st_mode & 0o777) == 0o600


def test_default_ids_and_wal_contents(snaps, tmp_path):
    res = ours(snaps["small"], tmp_path / "d", CLUSTERS["default"])
    assert (format(res.member_id, "x"), format(res.cluster_id, "x")) == ("8e9e05c52164694d", "cdf818194e3a8c32")
    got = wal.read_wal(str(tmp_path / "d" / "member" / "wal"), 1, 1)
    assert wal.decode_metadata(got.metadata) == (res.member_id, res.cluster_id)
    assert (got.hard_state.term, got.hard_state.vote, got.hard_state.commit) == (1, res.member_id, 1)
    assert got.snapshots == [(0, 0), (1, 1)]
    dump = dict(bucket_dump(str(tmp_path / "d" / "member" / "snap" / "db"))[b"meta"])
    assert dump[b"consistent_index"] == (1).to_bytes(8, "big") and dump[b"term"] == (1).to_bytes(8, "big")
    assert not list((tmp_path).glob(".d.restore-*")), "temporary dir left behind"


def test_bump_revision_mark_compacted(snaps, tmp_path):
    live, rev = expected_kvs(snaps["small"])
    ours(snaps["small"], tmp_path / "d", CLUSTERS["default"], revision_bump=1000, mark_compacted=True)
    dump = bucket_dump(str(tmp_path / "d" / "member" / "snap" / "db"))
    newrev = (rev + 1000).to_bytes(8, "big") + b"_" + bytes(8)
    assert dump[b"key"][-1] == (newrev, b"")
    assert dict(dump[b"meta"])[b"scheduledCompactRev"] == newrev


# --------------------------------------------------------------------------- atomicity and refusals


def test_refuses_non_empty_data_dir_untouched(snaps, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep").write_text("mine")
    with pytest.raises(rs.RestoreError, match='data-dir ".*" not empty or could not be read'):
        ours(snaps["small"], d, CLUSTERS["default"])
    assert [p.name for p in d.iterdir()] == ["keep"] and (d / "keep").read_text() == "mine"


def test_existing_empty_data_dir_is_used_and_keeps_mode(snaps, tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o750)
    os.chmod(d, 0o750)
    ours(snaps["small"], d, CLUSTERS["default"])
    assert (d / "member" / "snap" / "db").exists() and (d.stat().st_mode & 0o777) == 0o750


def test_bad_hash_leaves_nothing(snaps, tmp_path):
    bad = tmp_path / "bad.db"
    data = bytearray(snaps["small"].read_bytes())
    data[5000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(rs.RestoreError, match=r"^expected sha256 \[\d+( \d+){31}\], got \[\d+( \d+){31}\]$"):
        ours(bad, tmp_path / "out", CLUSTERS["default"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db"]


def test_separate_wal_dir(snaps, tmp_path):
    ours(snaps["small"], tmp_path / "d", CLUSTERS["default"], wal_dir=str(tmp_path / "w" / "wal"))
    assert only(tmp_path / "w" / "wal", "*.wal").stat().st_size == wal.SEGMENT_SIZE_BYTES
    assert [p.name for p in (tmp_path / "w").iterdir()] == ["wal"]
    assert not (tmp_path / "d" / "member" / "wal").exists()
    with pytest.raises(rs.RestoreError, match='wal-dir ".*" exists'):
        ours(snaps["small"], tmp_path / "d2", CLUSTERS["default"], wal_dir=str(tmp_path / "w" / "wal"))
    assert not (tmp_path / "d2").exists()


def test_disk_full_leaves_nothing(snaps, tmp_path):
    """A file-size limit makes the 64 MB WAL preallocation fail like a full disk would."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n"
        "from etcdctl_py.cli.etcdutl import main\n"
        f"sys.exit(main(['snapshot', 'restore', {str(snaps['small'])!r}, '--data-dir', {str(tmp_path / 'd')!r}]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("Error: ") and "Traceback" not in r.stderr
    assert "file too large" in r.stderr.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_all_members_mode(snaps, tmp_path):
    c = CLUSTERS["three"]
    cfg = rs.RestoreConfig(
        snapshot_path=str(snaps["small"]), initial_cluster=c["initial_cluster"], initial_cluster_token=c["token"]
    )
    results = rs.restore_all(cfg, str(tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m1.etcd", "m2.etcd", "m3.etcd"]
    for name in ("m1", "m2", "m3"):
        single = {**c, "name": name, "peer_urls": f"http://127.0.0.1:2480{name[1]}"}
        theirs(snaps["small"], tmp_path / f"t-{name}", single)
        for sub in ("wal/0000000000000000-0000000000000000.wal", "snap/0000000000000001-0000000000000003.snap"):
            assert (tmp_path / "out" / f"{name}.etcd" / "member" / sub).read_bytes() == (
                tmp_path / f"t-{name}" / "member" / sub
            ).read_bytes()
    assert len({r.member_id for r in results}) == 3 and len({r.cluster_id for r in results}) == 1


def test_all_members_mode_is_all_or_nothing(snaps, tmp_path):
    out = tmp_path / "out"
    (out / "m3.etcd").mkdir(parents=True)
    (out / "m3.etcd" / "x").write_text("busy")
    cfg = rs.RestoreConfig(snapshot_path=str(snaps["small"]), initial_cluster=CLUSTERS["three"]["initial_cluster"])
    with pytest.raises(rs.RestoreError, match="not empty"):
        rs.restore_all(cfg, str(out))
    assert sorted(p.name for p in out.iterdir()) == ["m3.etcd"]


# --------------------------------------------------------------------------- fuzz


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_fuzz_flips_and_truncations(snaps, tmp_path):
    """Hundreds of damaged snapshots: each one a RestoreError (the CLI's `Error:` line) and nothing left behind."""
    import random

    rnd = random.Random(1234)
    src = snaps["small"].read_bytes()
    case = tmp_path / "case.db"
    out = tmp_path / "out"
    n = 0
    for i in range(300):
        data = bytearray(src)
        kind = i % 3
        if kind == 0:
            for _ in range(rnd.randint(1, 4)):
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        elif kind == 1:
            data = data[: rnd.randrange(len(data))]
        else:
            data = data[: rnd.randrange(4096, len(data) - 32)] + data[-32:]  # keep a trailer, lose pages
        if bytes(data) == src:
            continue
        case.write_bytes(bytes(data))
        with pytest.raises(rs.RestoreError) as ei:
            ours(case, out, CLUSTERS["default"])
        assert str(ei.value)
        assert _leftovers(tmp_path) == ["case.db"]
        n += 1
    assert n >= 290


def test_fuzz_skip_hash_check_structure(snaps, tmp_path):
    """With --skip-hash-check only the bbolt structure protects us: damage in page headers and metas must end in
    RestoreError (or a complete, valid restore when the damage is harmless) -- never a crash or a partial dir."""
    import random

    rnd = random.Random(99)
    raw = snaps["small"].read_bytes()[:-32]
    page = 4096
    case = tmp_path / "case.db"
    out = tmp_path / "out"
    errors = 0
    for i in range(240):  # about 1 flip in 10 lands where a reader looks; the snapshot's layout varies by run
        data = bytearray(raw)
        pg = rnd.randrange(len(raw) // page)
        off = pg * page + (rnd.randrange(16) if i % 2 == 0 else rnd.randrange(16, 96))
        data[off] ^= 1 << rnd.randrange(8)
        case.write_bytes(bytes(data))
        try:
            ours(case, out, CLUSTERS["default"], skip=True)
        except rs.RestoreError as e:
            assert str(e)
            assert _leftovers(tmp_path) == ["case.db"]
            errors += 1
        else:
            assert only(out / "member" / "wal", "*.wal")
            status_mod.status(str(out / "member" / "snap" / "db"))  # the result passes etcdutl's integrity check
            shutil.rmtree(out)
    assert errors >= 8  # some flips hit bytes no reader looks at (free space, unused header bits)


def test_fuzz_cli_error_lines(snaps, tmp_path):
    data = snaps["small"].read_bytes()
    raw = bytearray(data[:-32])
    raw[16] ^= 1
    raw[4096 + 16] ^= 1  # both metas: no valid meta left
    cases = {
        "flip": (data[:100] + bytes([data[100] ^ 4]) + data[101:], False),
        "trunc": (data[:-1000], False),
        "tiny": (b"abc", True),
        "garbage": (os.urandom(8192 + 32), True),
        "metas": (bytes(raw), True),
    }
    for name, (content, with_skip) in cases.items():
        p = tmp_path / f"{name}.db"
        p.write_bytes(content)
        for extra in ([], ["--skip-hash-check"]) if with_skip else ([],):
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "etcdctl_py.cli.etcdutl",
                    "snapshot",
                    "restore",
                    str(p),
                    "--data-dir",
                    str(tmp_path / "out"),
                    *extra,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 1, (name, extra, r.stderr)
            assert r.stderr.splitlines()[-1].startswith("Error: ") and "Traceback" not in r.stderr
            assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- real servers on our output


def _peer_urls(n: int) -> list[tuple[str, int, int]]:
    return [(f"m{i + 1}", etcdproc.free_port(), etcdproc.free_port()) for i in range(n)]


def start_cluster(
    binary: str, base: Path, data_dirs: dict[str, Path], members, token: str, env: dict | None = None
) -> list[etcdproc.EtcdServer]:
    ic = ",".join(f"{name}=http://127.0.0.1:{pp}" for name, pp, _ in members)
    servers = []
    for name, pp, cp in members:
        srv = etcdproc.EtcdServer(name=name, data_dir=str(data_dirs[name]), client_port=cp, peer_port=pp)
        srv.log_path = str(base / f"{name}-{cp}.log")
        srv.argv = etcdproc.etcd_argv(
            binary,
            name=name,
            data_dir=str(data_dirs[name]),
            client_port=cp,
            peer_port=pp,
            initial_cluster=ic,
            token=token,
            extra=["--log-level", "info"],
        )
        servers.append(srv)
    for s in servers:
        s.start(wait=False)
    try:
        for s in servers:
            etcdproc.wait_ready(s.client_url, s.proc, timeout=30)
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


def ctl(
    srv: etcdproc.EtcdServer, *args: str, user: str | None = None, ok: bool = True, binary: str | None = None
) -> subprocess.CompletedProcess:
    argv = [binary or etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint]
    if user:
        argv += ["--user", user]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60, env=env)
    if ok:
        assert r.returncode == 0, (args, r.stderr)
    return r


def assert_serves_snapshot(srv, snapshot: Path, user: str | None = None) -> int:
    live, rev = expected_kvs(snapshot)
    out = json.loads(ctl(srv, "get", "", "--prefix", "-w", "json", user=user).stdout)
    got = {base64.b64decode(kv["key"]): kv for kv in out.get("kvs", [])}
    assert set(got) == set(live)
    for k, kv in live.items():
        g = got[k]
        assert base64.b64decode(g.get("value", "")) == kv.value
        assert (g.get("create_revision", 0), g.get("mod_revision", 0), g.get("version", 0), g.get("lease", 0)) == (
            kv.create_revision,
            kv.mod_revision,
            kv.version,
            kv.lease,
        )
    assert out["header"]["revision"] == rev
    return rev


def assert_members(srv, cl: membership.Cluster, etcdutl_db: Path | None = None) -> None:
    out = json.loads(ctl(srv, "member", "list", "-w", "json").stdout)
    got = sorted((m["ID"], sorted(m["peerURLs"])) for m in out["members"])
    assert got == [(m.id, sorted(m.peer_urls)) for m in cl.members]
    assert out["header"]["cluster_id"] == cl.cluster_id
    if etcdutl_db is not None:
        theirs_members = dict(bucket_dump(str(etcdutl_db))[b"members"])
        assert sorted(int(k, 16) for k in theirs_members) == [m.id for m in cl.members]


def _three_member_case(snaps, tmp_path, binary: str, snapname: str, etcdctl_bin: str | None = None):
    members = _peer_urls(3)
    ic = ",".join(f"{n}=http://127.0.0.1:{pp}" for n, pp, _ in members)
    cfg = rs.RestoreConfig(snapshot_path=str(snaps[snapname]), initial_cluster=ic, initial_cluster_token="tok-3")
    rs.restore_all(cfg, str(tmp_path / "out"))
    theirs(
        snaps[snapname],
        tmp_path / "t1",
        dict(name="m1", initial_cluster=ic, peer_urls=f"http://127.0.0.1:{members[0][1]}", token="tok-3"),
    )
    cl = membership.cluster_from_flags("m1", ic, f"http://127.0.0.1:{members[0][1]}", "tok-3")
    dirs = {n: tmp_path / "out" / f"{n}.etcd" for n, _, _ in members}
    servers = start_cluster(binary, tmp_path, dirs, members, "tok-3")
    try:
        rev = assert_serves_snapshot(servers[1], snaps[snapname])
        assert_members(servers[0], cl, tmp_path / "t1" / "member" / "snap" / "db")
        put = json.loads(ctl(servers[2], "put", "new/key", "v", "-w", "json").stdout)
        assert put["header"]["revision"] == rev + 1
        got = json.loads(ctl(servers[0], "get", "new/key", "-w", "json").stdout)
        assert base64.b64decode(got["kvs"][0]["value"]) == b"v"
        return servers, rev
    except BaseException:
        for s in servers:
            s.stop()
        raise


def test_etcd35_three_members_big(snaps, tmp_path):
    servers, rev = _three_member_case(snaps, tmp_path, etcdproc.distro_bin("etcd"), "big")
    try:
        logs = "".join(s.log() for s in servers)
        assert "recovered v2 store from snapshot" in logs and "No snapshot found" not in logs
        hashes = {
            json.loads(ctl(s, "endpoint", "hashkv", "--rev", str(rev), "-w", "json").stdout)[0]["HashKV"]["hash"]
            for s in servers
        }
        assert len(hashes) == 1
    finally:
        for s in servers:
            s.stop()


@pytest.mark.skipif(ETCD34 is None, reason="Debian etcd 3.4.23 not installed")
def test_etcd34_three_members_compacted(snaps, tmp_path):
    servers, rev = _three_member_case(snaps, tmp_path, ETCD34, "compacted")
    try:
        r = ctl(servers[0], "get", "c/0001", "--rev", "2", ok=False)
        assert r.returncode != 0 and "required revision has been compacted" in r.stderr
        assert "recovered store from snapshot" in "".join(s.log() for s in servers)
    finally:
        for s in servers:
            s.stop()


def _single(snaps, tmp_path, binary, snapname, skip=False):
    ((name, pp, cp),) = _peer_urls(1)
    c = dict(
        name=name, initial_cluster=f"{name}=http://127.0.0.1:{pp}", peer_urls=f"http://127.0.0.1:{pp}", token="tok-1"
    )
    ours(snaps[snapname], tmp_path / "d", c, skip=skip)
    servers = start_cluster(binary, tmp_path, {name: tmp_path / "d"}, [(name, pp, cp)], "tok-1")
    return servers[0], membership.cluster_from_flags(name, c["initial_cluster"], c["peer_urls"], "tok-1")


def test_etcd35_single_auth(snaps, tmp_path):
    srv, cl = _single(snaps, tmp_path, etcdproc.distro_bin("etcd"), "auth")
    try:
        r = ctl(srv, "get", "foo", ok=False)
        assert r.returncode != 0 and "user name is empty" in r.stderr
        assert_serves_snapshot(srv, snaps["auth"], user=f"root:{realsnaps.ROOT_PW}")
        users = ctl(srv, "user", "list", user=f"root:{realsnaps.ROOT_PW}").stdout.split()
        assert users == ["alice", "root"]
        r = ctl(srv, "get", "big/000001", user="alice:alicepw")
        assert "big/000001" in r.stdout
    finally:
        srv.stop()


def test_etcd35_single_live_db_skip_hash(snaps, tmp_path):
    srv, cl = _single(snaps, tmp_path, etcdproc.distro_bin("etcd"), "live", skip=True)
    try:
        assert_members(srv, cl)
        root = f"root:{realsnaps.ROOT_PW}"
        assert_serves_snapshot(srv, snaps["live"], user=root)
        rev = json.loads(ctl(srv, "put", "after", "restore", "-w", "json", user=root).stdout)["header"]["revision"]
        ctl(srv, "compact", str(rev), user=root)
        ctl(srv, "defrag", user=root)
    finally:
        srv.stop()
    r = etcdutl("snapshot", "status", str(tmp_path / "d" / "member" / "snap" / "db"))
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(ETCD34 is None, reason="Debian etcd 3.4.23 not installed")
def test_etcd34_single_small_with_lease(snaps, tmp_path):
    srv, cl = _single(snaps, tmp_path, ETCD34, "small")
    try:
        rev = assert_serves_snapshot(srv, snaps["small"])
        assert_members(srv, cl)
        leases = ctl(srv, "lease", "list").stdout
        assert "found 1 leases" in leases
        assert json.loads(ctl(srv, "put", "x", "y", "-w", "json").stdout)["header"]["revision"] == rev + 1
    finally:
        srv.stop()


def test_missing_parents_are_created_0700_and_removed_on_failure(snaps, tmp_path):
    ours(snaps["small"], tmp_path / "x" / "y" / "d", CLUSTERS["default"])
    assert ((tmp_path / "x").stat().st_mode & 0o777) == 0o700
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(rs.RestoreError, match="snapshot missing hash"):
        ours(bad, tmp_path / "p" / "q" / "d", CLUSTERS["default"], wal_dir=str(tmp_path / "w1" / "w2" / "wal"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db", "x"]


@pytest.fixture(scope="module")
def many_keys_snapshot(tmp_path_factory) -> Iterator[Path]:
    """A real etcd 3.5.1 snapshot with 100,000 keys (written in 128-op txns) and some overwrites."""
    import grpc

    from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
    from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as stubs

    with etcdproc.scratch_dir(tmp_path_factory, "manykeys") as base:
        srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), str(base), name="many")
        srv.start()
        try:
            ch = grpc.insecure_channel(srv.endpoint)
            kv = stubs.KVStub(ch)
            keys = [b"many/%07d" % i for i in range(100_000)]
            for i in range(0, len(keys), 128):
                ops = [pb.RequestOp(request_put=pb.PutRequest(key=k, value=b"v-" + k[5:])) for k in keys[i : i + 128]]
                kv.Txn(pb.TxnRequest(success=ops), timeout=30)
            for i in range(0, 1000, 10):
                kv.Put(pb.PutRequest(key=keys[i], value=b"overwritten"), timeout=10)
            ch.close()
            out = base / "many.db"
            r = subprocess.run(
                [etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, "snapshot", "save", str(out)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 0, r.stderr
        finally:
            srv.stop()
            shutil.rmtree(srv.data_dir, ignore_errors=True)
        yield out


def test_100k_keys_golden_and_served(many_keys_snapshot, tmp_path):
    snaps = {"many": many_keys_snapshot}
    c = CLUSTERS["three"]
    ours(many_keys_snapshot, tmp_path / "ours", c)
    theirs(many_keys_snapshot, tmp_path / "theirs", c)
    a, b = tmp_path / "ours" / "member", tmp_path / "theirs" / "member"
    assert only(a / "wal", "*.wal").read_bytes() == only(b / "wal", "*.wal").read_bytes()
    assert only(a / "snap", "*.snap").read_bytes() == only(b / "snap", "*.snap").read_bytes()
    st_a = json.loads(etcdutl("snapshot", "status", str(a / "snap" / "db"), "-w", "json").stdout)
    st_b = json.loads(etcdutl("snapshot", "status", str(b / "snap" / "db"), "-w", "json").stdout)
    assert st_a["hash"] == st_b["hash"] and st_a["totalKey"] == st_b["totalKey"] > 100_000
    srv, cl = _single(snaps, tmp_path, etcdproc.distro_bin("etcd"), "many")
    try:
        rev = assert_serves_snapshot(srv, many_keys_snapshot)
        assert json.loads(ctl(srv, "put", "x", "y", "-w", "json").stdout)["header"]["revision"] == rev + 1
    finally:
        srv.stop()


def test_restore_appends_pages_and_real_etcd_reuses_the_free_ones(snaps, tmp_path):
    """The restore transaction never walks for free pages: the copied image stays byte for byte and new pages
    go after it. Real etcd 3.5.1 then derives the free pages itself, writes into them and the file still
    passes etcdutl's integrity check, with every key there."""
    src = snaps["compacted"]
    srv, _cl = _single(snaps, tmp_path, etcdproc.distro_bin("etcd"), "compacted")
    db_path = tmp_path / "d" / "member" / "snap" / "db"
    try:
        rev = assert_serves_snapshot(srv, src)
        for i in range(0, 600, 100):  # enough writes that etcd must allocate (and reuse) pages
            ops = "\n".join(f"put after/{j:04d} v{j}" for j in range(i, i + 100))
            r = subprocess.run(
                [etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, "txn"],
                input=f"\n{ops}\n\n\n",
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stderr
        got = json.loads(ctl(srv, "get", "after/", "--prefix", "--keys-only", "-w", "json").stdout)
        assert len(got.get("kvs", [])) == 600 and got["header"]["revision"] == rev + 6, str(got)[:300]
    finally:
        srv.stop()
    r = etcdutl("snapshot", "status", str(db_path), "-w", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["revision"] == rev + 6, r.stderr


def test_restore_leaves_the_copied_image_untouched(snaps, tmp_path):
    src = snaps["big"]
    ours(src, tmp_path / "d", CLUSTERS["three"])
    db_path = tmp_path / "d" / "member" / "snap" / "db"
    with bbolt.open_db(str(src)) as a, bbolt.open_db(str(db_path)) as b:
        ps, src_pgid, new_pgid = a.page_size, a.meta.pgid, b.meta.pgid
    assert new_pgid > src_pgid
    old, new = src.read_bytes(), db_path.read_bytes()
    assert new[2 * ps : src_pgid * ps] == old[2 * ps : src_pgid * ps]
    assert status_mod.status(str(db_path)).revision == status_mod.status(str(src)).revision
    r = etcdutl("snapshot", "status", str(db_path))
    assert r.returncode == 0, r.stderr
