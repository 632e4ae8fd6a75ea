"""Benchmark: `snapshot save` throughput and `make-mirror` of 100k keys, etcdctl-py vs real etcdctl 3.5.1, against
real etcd 3.5.1 servers on loopback (started and stopped by this script).

    python benchmarks/bench_snapshot_mirror.py [--keys 100000] [--value-size 256] [--snapshot-runs 3]

Targets (issue 5): snapshot save throughput >= 0.9x etcdctl's; make-mirror of 100k keys <= 1.5x etcdctl's time.
Mirror time is measured the same way for both tools: from process start until the destination holds every key
(polled every 50 ms), then the mirror is interrupted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import etcdproc  # noqa: E402

PY = [sys.executable, "-m", "etcdctl_py"]


def fill(endpoint: str, keys: int, value_size: int, prefix: bytes = b"/bench/") -> None:
    """Write `keys` keys in transactions of 100 puts (fast to set up; mirror copies them one Put each)."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    value = os.urandom(value_size // 2).hex().encode()[:value_size]
    with Client([endpoint], command_timeout=60) as c:
        for start in range(0, keys, 100):
            ops = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=prefix + b"%08d" % i, value=value))
                   for i in range(start, min(start + 100, keys))]
            c.kv.txn(success=ops)


def bench_snapshot(endpoint: str, runs: int, workdir: str) -> dict[str, float]:
    """Best-of-N MB/s for each tool (same member, same data)."""
    tools = {"etcdctl": [etcdproc.distro_bin("etcdctl")], "etcdctl-py": PY}
    best: dict[str, float] = {}
    size = 0
    for _ in range(runs):
        for name, argv in tools.items():
            path = os.path.join(workdir, f"{name}.db")
            t0 = time.perf_counter()
            r = subprocess.run([*argv, "--endpoints", endpoint, "snapshot", "save", path], capture_output=True)
            took = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(f"{name} snapshot save failed: {r.stderr.decode()}")
            size = os.path.getsize(path)
            best[name] = max(best.get(name, 0.0), size / took / 1e6)
            os.remove(path)
    best["size_mb"] = size / 1e6
    return best


def _count(endpoint: str) -> int:
    from etcdctl_py.client import Client

    with Client([endpoint]) as c:
        return c.kv.range(b"/bench/", b"/bench0", count_only=True).count


def bench_mirror(argv: list[str], src: str, dst: str, keys: int) -> float:
    from etcdctl_py.client import Client

    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    poll = Client([dst])
    t0 = time.perf_counter()
    p = subprocess.Popen([*argv, "--endpoints", src, "make-mirror", dst], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    try:
        while True:
            n = poll.kv.range(b"/bench/", b"/bench0", count_only=True).count
            if n >= keys:
                took = time.perf_counter() - t0
                break
            if p.poll() is not None:
                raise SystemExit(f"make-mirror exited {p.returncode}: {p.stderr.read().decode()}")
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
        poll.close()
    return took


def report_snapshot(snap: dict[str, float], runs: int) -> None:
    ratio = snap["etcdctl-py"] / snap["etcdctl"]
    print(f"snapshot save ({snap['size_mb']:.1f} MB, best of {runs}): etcdctl {snap['etcdctl']:.1f} MB/s, "
          f"etcdctl-py {snap['etcdctl-py']:.1f} MB/s -> {ratio:.2f}x (target >= 0.9x) "
          f"{'OK' if ratio >= 0.9 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-size", type=int, default=256)
    ap.add_argument("--snapshot-runs", type=int, default=3)
    ap.add_argument("--big-snapshot-mb", type=int, default=200,
                    help="after the mirror run, grow the source to about this size and time snapshot save again")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="bench-snap-mirror-")
    binary = etcdproc.distro_bin("etcd")
    quota = ["--quota-backend-bytes", str(8 * 1024**3)]
    servers = [etcdproc.make_server(binary, base, name=n, extra=quota) for n in ("src", "dst-real", "dst-py")]
    try:
        for s in servers:
            s.start()
        src, dst_real, dst_py = servers
        t0 = time.perf_counter()
        fill(src.endpoint, args.keys, args.value_size)
        print(f"filled {args.keys} keys of {args.value_size} B in {time.perf_counter() - t0:.1f}s")
        report_snapshot(bench_snapshot(src.endpoint, args.snapshot_runs, base), args.snapshot_runs)
        t_real = bench_mirror([etcdproc.distro_bin("etcdctl")], src.endpoint, dst_real.endpoint, args.keys)
        t_py = bench_mirror(PY, src.endpoint, dst_py.endpoint, args.keys)
        mratio = t_py / t_real
        print(f"make-mirror of {args.keys} keys: etcdctl {t_real:.1f}s, etcdctl-py {t_py:.1f}s -> {mratio:.2f}x time "
              f"(target <= 1.5x) {'OK' if mratio <= 1.5 else 'MISSED'}")
        if args.big_snapshot_mb:
            fill(src.endpoint, args.big_snapshot_mb * 1000, 1000, prefix=b"/bulk/")
            report_snapshot(bench_snapshot(src.endpoint, args.snapshot_runs, base), args.snapshot_runs)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
