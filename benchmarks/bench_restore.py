"""Benchmark: `etcdutl-py snapshot restore` vs real `etcdutl snapshot restore` (3.5.1) on a big snapshot.

    python -m benchmarks.bench_restore [--size-mib 256] [--runs 3] [--workdir DIR] [--clean]

Builds (once, cached in the work dir) a snapshot of about --size-mib MiB with a real etcd 3.5.1 on 127.0.0.1
(1 MiB values written over gRPC, then `etcdctl snapshot save`), then restores it alternately with both tools as
child processes. Prints per-run wall times, medians, the ratio ours/etcdutl (target <= 1.2) and each tool's peak
RSS (via /usr/bin/time). Both tools write the same files; outputs are removed between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests import etcdproc

ROOT = Path(__file__).resolve().parent.parent


def build_snapshot(workdir: Path, size_mib: int) -> Path:
    """A real etcd 3.5.1 snapshot of about size_mib MiB (cached by size)."""
    path = workdir / f"big-{size_mib}MiB.db"
    if path.exists():
        return path
    import grpc

    from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
    from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as stubs

    quota = str(max(2 << 30, size_mib * 3 << 20))
    srv = etcdproc.make_server(
        etcdproc.distro_bin("etcd"),
        str(workdir),
        name="benchsrc",
        extra=["--quota-backend-bytes", quota, "--snapshot-count", "1000000", "--max-request-bytes", str(4 << 20)],
    )
    srv.start()
    try:
        ch = grpc.insecure_channel(srv.endpoint, options=[("grpc.max_send_message_length", 8 << 20)])
        kv = stubs.KVStub(ch)
        value = os.urandom(1 << 20)
        t0 = time.monotonic()
        for i in range(size_mib):
            kv.Put(pb.PutRequest(key=b"bench/%08d" % i, value=value[i % 997 :] + value[: i % 997]), timeout=60)
        for i in range(2000):  # plus some small keys so the key bucket has branch pages too
            kv.Put(pb.PutRequest(key=b"small/%06d" % i, value=b"v%d" % i), timeout=60)
        ch.close()
        print(f"loaded {size_mib} MiB in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        part = workdir / "snapshot.part.db"
        subprocess.run(
            [etcdproc.distro_bin("etcdctl"), "--endpoints", srv.endpoint, "snapshot", "save", str(part)],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        part.rename(path)
    finally:
        srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
    return path


def run_child(argv: list[str], cwd: Path) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one child process.

    The RSS comes from /usr/bin/time (which forks the tool from its own tiny process); wait4's ru_maxrss of a child
    forked from this Python would include the parent's high-water mark. Without /usr/bin/time, wait4 is used.
    """
    timefile = cwd / ".rss"
    use_time = os.path.exists("/usr/bin/time")
    full = ["/usr/bin/time", "-f", "%M", "-o", str(timefile), *argv] if use_time else argv
    t0 = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err[-2000:]}")
    if use_time:
        return elapsed, int(timefile.read_text().split()[-1])
    return elapsed, usage.ru_maxrss


def drop_outputs(cwd: Path) -> None:
    for name in ("restored-etcdutl", "restored-ours"):
        shutil.rmtree(cwd / name, ignore_errors=True)
    os.sync()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size-mib",
        type=int,
        default=256,
        help="snapshot size to generate (MiB of values; 1024 for the issue's ~1 GiB case)",
    )
    ap.add_argument("--runs", type=int, default=3, help="restores per tool (alternating)")
    ap.add_argument("--workdir", default="/tmp/etcdctl-py-bench", help="where the snapshot is cached and restored")
    ap.add_argument("--clean", action="store_true", help="delete the cached snapshot at the end")
    args = ap.parse_args()

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    snap = build_snapshot(work, args.size_mib)
    size = snap.stat().st_size
    tools = {
        "etcdutl": [etcdproc.distro_bin("etcdutl"), "snapshot", "restore", str(snap), "--data-dir", "restored-etcdutl"],
        "ours": [
            sys.executable,
            "-m",
            "etcdctl_py.cli.etcdutl",
            "snapshot",
            "restore",
            str(snap),
            "--data-dir",
            "restored-ours",
        ],
    }
    times: dict[str, list[float]] = {k: [] for k in tools}
    rss: dict[str, list[int]] = {k: [] for k in tools}
    # warm the page cache once so neither tool pays for the first cold read
    with open(snap, "rb") as f:
        while f.read(64 << 20):
            pass
    for i in range(args.runs):
        order = list(tools) if i % 2 == 0 else list(reversed(tools))
        for name in order:
            drop_outputs(work)
            t, r = run_child(tools[name], work)
            times[name].append(t)
            rss[name].append(r)
            print(f"run {i + 1} {name:8s} {t:7.2f}s  peak RSS {r / 1024:7.1f} MiB", file=sys.stderr)
    drop_outputs(work)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["ours"] / med["etcdutl"]
    print(f"snapshot: {snap} ({size / (1 << 20):.0f} MiB)")
    for k in tools:
        print(
            f"{k:8s} median {med[k]:.2f}s  (runs: {', '.join(f'{t:.2f}' for t in times[k])})  "
            f"peak RSS {max(rss[k]) / 1024:.1f} MiB"
        )
    print(f"ratio ours/etcdutl = {ratio:.2f}  (target <= 1.2)")
    if args.clean:
        snap.unlink()
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
