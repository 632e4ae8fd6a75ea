"""Benchmark: `snapshot status` of a big bbolt file, ours vs real etcdutl 3.5.1, plus the cost of one
small copy-on-write transaction on it (what restore does after copying the snapshot), and of `--verify`.

    python -m benchmarks.bench_status [--size-mib 1024] [--dir DIR]

Builds an etcd-shaped db (key bucket of 17-byte revisions -> ~1 KiB values, meta bucket) with our
compact writer, then times each tool (best of N runs, warm page cache) and prints the ratio and
peak memory (ru_maxrss of the child process).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(path: Path, size_mib: int) -> None:
    from etcdctl_py.storage import backend
    from etcdctl_py.storage.bbolt import write_compact

    value = os.urandom(1000)
    n = size_mib * 1024 * 1024 // 1040

    def keys():
        for i in range(n):
            yield backend.rev_to_bytes(i + 2), value[: 900 + i % 100]

    write_compact(str(path), {b"key": keys(), b"meta": [(b"consistent_index", backend.u64_be(n + 1))]}, fill=0.9)


def timed(argv: list[str], runs: int) -> tuple[float, str, int]:
    best, out, rss = float("inf"), "", 0
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(f"{argv}: {r.stderr}")
        best, out = min(best, dt), r.stdout
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return best, out, rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    from tests import etcdproc

    d = Path(a.dir or tempfile.mkdtemp(prefix="bench-status-"))
    d.mkdir(parents=True, exist_ok=True)
    db = d / f"big-{a.size_mib}.db"
    if not db.exists():
        t = time.perf_counter()
        build(db, a.size_mib)
        print(f"built {db} ({db.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f}s")
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL)  # warm the page cache
    theirs, out_t, _ = timed([etcdproc.distro_bin("etcdutl"), "snapshot", "status", str(db), "-w", "json"], a.runs)
    ours, out_o, rss = timed(
        [sys.executable, "-m", "etcdctl_py.cli.etcdutl", "snapshot", "status", str(db), "-w", "json"], a.runs
    )
    assert out_t == out_o, (out_t, out_o)
    print(
        f"status: etcdutl {theirs:.2f}s, ours {ours:.2f}s, ratio {ours / theirs:.2f}, "
        f"peak RSS of children {rss / 1024:.0f} MiB; output {out_o.strip()}"
    )
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "etcdctl_py.cli.etcdutl", "snapshot", "status", str(db), "--verify"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    print(f"status --verify (sha256, strict check, hash): {time.perf_counter() - t:.2f}s, exit {r.returncode}")
    code = (
        "import sys,time; from etcdctl_py.storage.bbolt import open_db\n"
        "t=time.perf_counter(); db=open_db(sys.argv[1], writable=True, reuse_free_pages=sys.argv[2]=='1')\n"
        "with db.update() as tx: tx.bucket(b'meta').put(b'term', b'\\0'*8)\n"
        "print(f'{time.perf_counter()-t:.2f}')"
    )
    copy = d / "cow.db"
    for reuse, what in (
        ("1", "free pages derived by a full tree walk"),
        ("0", "new pages at the end, as restore does"),
    ):
        subprocess.run(["cp", str(db), str(copy)], check=True)
        r = subprocess.run(
            [sys.executable, "-c", code, str(copy), reuse], capture_output=True, text=True, cwd=str(ROOT)
        )
        print(f"open writable + one small tx ({what}): {r.stdout.strip()}s {r.stderr}")
    copy.unlink()


if __name__ == "__main__":
    main()
