"""`snapshot status`: our library + printers and the etcdutl-py command against real etcdutl 3.5.1,
byte for byte (stdout, stderr, exit code), on snapshots saved from a real etcd 3.5.1 and on files
built to hit printing edge cases; plus the --verify report and a byte-flip parity fuzz.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import crc32c
import pytest

from etcdctl_py.output.snapshot_status import OutputFormatError, check_format, render
from etcdctl_py.snapshot.status import SnapshotStatusError, status, verify
from etcdctl_py.storage.bbolt import CorruptError, open_db, write_compact
from etcdctl_py.storage.bbolt.page import Meta
from tests import etcdproc

FORMATS = ["simple", "json", "fields", "table"]
SNAPS = ["small", "compacted", "big", "auth", "live"]


def run(argv: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.run(argv, capture_output=True, env=env, timeout=120, cwd=cwd)


def etcdutl(*args: str, cwd: str | None = None):
    return run([etcdproc.distro_bin("etcdutl"), *args], cwd=cwd)


def ours_cli(*args: str, cwd: str | None = None):
    return run([sys.executable, "-m", "etcdctl_py.cli.etcdutl", *args], cwd=cwd)


def expected(path, fmt: str) -> bytes:
    r = etcdutl("snapshot", "status", str(path), "-w", fmt)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("name", SNAPS)
def test_printers_match_etcdutl_on_real_snapshots(real_snaps, name):
    st = status(str(real_snaps[name]))
    for fmt in FORMATS:
        assert render(st, fmt) == expected(real_snaps[name], fmt), fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_matches_etcdutl(real_snaps, fmt):
    path = str(real_snaps["big"])
    want = etcdutl("snapshot", "status", path, "-w", fmt)
    got = ours_cli("snapshot", "status", path, "-w", fmt)
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)


def _bad_files(d: Path) -> dict[str, Path]:
    (d / "empty.db").write_bytes(b"")
    (d / "tiny.db").write_bytes(b"x" * 100)
    (d / "junk.db").write_bytes(random.Random(1).randbytes(8192))
    (d / "zeros.db").write_bytes(b"\0" * 5000)
    (d / "adir").mkdir()
    return {p.name: p for p in d.iterdir()}


@pytest.mark.parametrize(
    "args",
    [
        ["snapshot", "status", "missing.db"],
        ["snapshot", "status", "empty.db"],
        ["snapshot", "status", "tiny.db"],
        ["snapshot", "status", "junk.db"],
        ["snapshot", "status", "zeros.db"],
        ["snapshot", "status", "adir"],
        ["snapshot", "status"],
        ["snapshot", "status", "a", "b"],
        ["snapshot", "status", "SNAP", "-w", "protobuf"],
        ["snapshot", "status", "missing.db", "-w", "protobuf"],
        ["snapshot", "status", "SNAP", "-w", "xml"],
        ["snapshot", "status", "missing.db", "-w", "xml"],
    ],
    ids=lambda a: "_".join(a[2:]) or "noargs",
)
def test_errors_match_etcdutl(real_snaps, tmp_path, args):
    _bad_files(tmp_path)
    shutil.copyfile(real_snaps["small"], tmp_path / "SNAP")
    want = etcdutl(*args, cwd=str(tmp_path))
    got = ours_cli(*args, cwd=str(tmp_path))
    assert want.returncode != 0
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)


def test_library_errors_and_format_checks(tmp_path):
    files = _bad_files(tmp_path)
    with pytest.raises(SnapshotStatusError, match="^invalid database$") as e:
        status(str(files["junk.db"]))
    assert e.value.exit_code == 1
    with pytest.raises(SnapshotStatusError, match=r"^stat .*/nope: no such file or directory$"):
        status(str(tmp_path / "nope"))
    with pytest.raises(OutputFormatError, match="^unsupported output format$") as e:
        check_format("yaml")
    assert e.value.exit_code == 4
    check_format("protobuf")  # accepted at first; fails only when printing
    with pytest.raises(OutputFormatError, match="^protobuf not supported as output format$"):
        render(status_of_empty(tmp_path), "protobuf")


def status_of_empty(tmp_path: Path):
    p = tmp_path / "e.db"
    write_compact(str(p), {b"key": [], b"meta": []})
    return status(str(p))


def _padded(src: Path, dst: Path, pgid: int) -> None:
    """A copy of a compact db whose high-water mark is `pgid` pages (the extra pages are free)."""
    with open_db(str(src)) as db, db.view() as tx:
        write_compact(str(dst), {n: tx.bucket(n).items() for n in tx.bucket_names()})
    with open_db(str(dst)) as db:
        m = db.meta
    assert pgid >= m.pgid
    with open(dst, "r+b") as f:
        f.truncate(pgid * 4096)
        for slot in (0, 1):
            f.seek(slot * 4096)
            f.write(Meta(page_size=4096, root=m.root, pgid=pgid, txid=m.txid - slot).page_bytes(slot, 4096))


@pytest.mark.parametrize("pgid", [4, 5, 6, 244, 245, 2440, 2441, 24463, 244618])
def test_sizes_around_unit_boundaries(real_snaps, tmp_path, pgid):
    """humanize.Bytes: 16 kB, 999 kB, 1.0 MB, 10 MB, 100 MB, 1.0 GB (sparse files)."""
    p = tmp_path / "p.db"
    if pgid < 6:  # an empty-ish db fits in 4 pages
        write_compact(str(p), {b"key": []})
        with open_db(str(p)) as db:
            base = db.meta.pgid
        src = tmp_path / "src.db"
        shutil.move(p, src)
        _padded(src, p, max(pgid, base))
    else:
        _padded(real_snaps["small"], p, pgid)
    st = status(str(p))
    assert st.total_size == max(pgid, 3) * 4096 or pgid < 6
    for fmt in ("simple", "table"):
        assert render(st, fmt) == expected(p, fmt)


def test_short_hash_changes_the_table_width(tmp_path):
    """A hash below 0x10000000 prints with 7 hex digits: the HASH column shrinks (centred header)."""
    rnd = random.Random(7)
    for i in range(200):
        p = tmp_path / f"h{i}.db"
        write_compact(str(p), {b"key": [(b"\0" * 8 + b"_" + b"\0" * 8, rnd.randbytes(8))], b"meta": []})
        st = status(str(p))
        if st.hash < 0x10000000:
            break
    else:
        pytest.fail("no short hash found")
    out = render(st, "table")
    assert b"|  HASH   |" in out or b"| HASH  |" in out or b"|  HASH  |" in out
    assert out == expected(p, "table")
    assert render(st, "simple") == expected(p, "simple")


def test_empty_key_bucket_has_revision_zero(tmp_path):
    st = status_of_empty(tmp_path)
    assert st.revision == 0 and st.total_key == 0
    assert render(st, "json") == expected(tmp_path / "e.db", "json")


def test_verify_report(real_snaps, tmp_path):
    rep = verify(str(real_snaps["small"]))
    assert rep.ok and rep.trailer == "valid" and rep.problems == []
    assert rep.status == status(str(real_snaps["small"]))
    assert "result: OK" in rep.render() and "bucket key:" in rep.render()
    assert verify(str(real_snaps["live"])).trailer == "none"
    bad = tmp_path / "bad.db"
    data = bytearray(real_snaps["small"].read_bytes())
    data[-1] ^= 0xFF  # damage the sha256 trailer only
    bad.write_bytes(bytes(data))
    rep = verify(str(bad))
    assert not rep.ok and rep.trailer == "mismatch"
    data[-1] ^= 0xFF
    with open_db(str(real_snaps["small"])) as db:
        root = db.meta.root
    data[root * 4096 + 8] = 0x10  # root page flags: freelist instead of branch/leaf
    bad.write_bytes(bytes(data))
    rep = verify(str(bad))
    assert not rep.ok and f"page {root}: invalid type: freelist" in rep.problems, rep.problems
    rep = verify(str(tmp_path / "missing"))
    assert not rep.ok and rep.problems == [f"stat {tmp_path / 'missing'}: no such file or directory"]


def test_progress_callback_reaches_total(real_snaps):
    seen = []
    st = status(str(real_snaps["big"]), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][1] == st.total_size
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


def test_byte_flips_match_etcdutl(real_snaps, tmp_path):
    """Damaged snapshots: where etcdutl prints a result or an error we print the same; where it
    crashes (Go panic, exit 2) or reads outside the file (unstable answers) we must still end with
    a clear error and no traceback."""
    src = real_snaps["small"].read_bytes()
    rnd = random.Random(2024)
    cases = []
    for _i in range(40):
        data = bytearray(src)
        off = rnd.randrange(0, len(src) - 32)
        data[off] ^= 1 << rnd.randrange(8)
        cases.append(bytes(data))
    for cut in (4096, 8192, 12288, 20000):
        cases.append(src[:cut])
    agree = 0
    for i, data in enumerate(cases):
        p = tmp_path / f"c{i}.db"
        p.write_bytes(data)
        want = etcdutl("snapshot", "status", str(p))
        if want.returncode == 0 and etcdutl("snapshot", "status", str(p)).stdout != want.stdout:
            want.returncode = 99  # Go read bytes past the end of the file: its answer is not stable
        try:
            got_out, got_err, rc = render(status(str(p)), "simple"), b"", 0
        except SnapshotStatusError as e:
            got_out, got_err, rc = b"", f"Error: {e.message}\n".encode(), e.exit_code
        if rc == 1 and b"beyond end of" in got_err:
            # an element points outside the file (or an inline bucket's copied value): Go reads
            # whatever memory lies there, or crashes
            assert want.returncode != 1 or want.stderr != got_err
            continue
        if want.returncode in (0, 1):
            assert (rc, got_out, got_err) == (want.returncode, want.stdout, want.stderr), (i, want.stderr)
            agree += 1
        elif want.returncode == 2:  # Go crashed
            assert rc == 1 and got_err.startswith(b"Error: ") and b"Traceback" not in got_err
    assert agree >= 30


def two_pass_status(db, _progress=None):
    """The reference for the one-pass status: bbolt's Check, then the hash of every bucket in cursor order (etcdutl
    v3Manager.Status), straightforwardly, through the public bbolt API."""
    from etcdctl_py.snapshot import status as status_mod
    from etcdctl_py.storage import backend
    from etcdctl_py.storage.bbolt import check

    with db.view() as tx:
        problems = check(db, tx=tx)
        if problems:
            raise SnapshotStatusError(
                f"snapshot file integrity check failed. {len(problems)} errors found.\n" + "\n".join(problems)
            )
        h = revision = total = 0
        for name, bucket in tx.buckets():
            if bucket is None:
                raise SnapshotStatusError(f"cannot get hash of bucket {name.decode('utf-8', 'replace')}")
            h = crc32c.crc32c(name, h)
            for buf, off, _end in bucket.leaf_pages():
                try:
                    h, n, last = status_mod._hash_leaf(buf, off, h, name == backend.KEY)
                except CorruptError as e:
                    raise SnapshotStatusError(f"cannot write bucket {name.decode('utf-8', 'replace')} : {e}") from None
                total += n
                revision = last if last is not None else revision
        return status_mod.SnapshotStatus(hash=h, revision=revision, total_key=total, total_size=tx.size())


def test_one_pass_status_equals_the_two_pass_reference(real_snaps, tmp_path):
    """The fused check+hash walk gives what Check-then-hash gives, on good and damaged files."""
    from etcdctl_py.snapshot import status as status_mod

    def both(path):
        out = []
        for fn in (status_mod._status, two_pass_status):
            db = open_db(str(path))
            try:
                out.append(fn(db, None))
            except SnapshotStatusError as e:
                out.append(e.message)
            finally:
                db.close()
        return out

    for name in SNAPS:
        a, b = both(real_snaps[name])
        assert a == b and not isinstance(a, str)
    src = real_snaps["compacted"].read_bytes()
    rnd = random.Random(99)
    differing = 0
    for i in range(60):
        data = bytearray(src)
        data[rnd.randrange(0, len(src) - 32)] ^= 1 << rnd.randrange(8)
        p = tmp_path / f"f{i}.db"
        p.write_bytes(bytes(data))
        try:
            a, b = both(p)
        except SnapshotStatusError:
            continue  # cannot even open
        if isinstance(a, str) and isinstance(b, str) and "beyond end of" in a + b:
            continue  # reads outside the file: the two report the same damage in different words
        differing += a != b
    assert differing == 0


@pytest.mark.parametrize("name", [b"lease", b"authUsers"])
def test_a_bucket_name_out_of_order_is_not_found_like_etcdutl(real_snaps, tmp_path, name):
    """etcdutl finds each top-level bucket by binary search (tx.Bucket): a damaged name that puts the root's keys
    out of order is not found, and it says `cannot get hash of bucket <name>`; so do we."""
    src = bytearray(real_snaps["compacted"].read_bytes())
    db = open_db(str(real_snaps["compacted"]))
    try:
        with db.view() as tx:
            start = tx.meta.root * db.page_size  # the root bucket: one leaf page holding the top-level names
            end = start + db.page_size
    finally:
        db.close()
    at = src.index(name, start, end)
    src[at] = ord("z")  # the name now sorts after every other top-level name
    p = tmp_path / "renamed.db"
    p.write_bytes(bytes(src))
    want = etcdutl("snapshot", "status", str(p))
    got = ours_cli("snapshot", "status", str(p))
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)
    assert want.stderr == b"Error: cannot get hash of bucket z" + name[1:] + b"\n"
