"""Benchmark: `snapshot save` throughput and `make-mirror` of 100k keys, etcdctl-py vs real etcdctl 3.5.1, against
real etcd 3.5.1 servers on loopback (started and stopped by this script).

    python -m benchmarks.bench_snapshot_mirror [--keys 100000] [--value-size 256] [--snapshot-runs 15] [--no-mirror]

Targets (issue 5): snapshot save throughput >= 0.9x etcdctl's; make-mirror of 100k keys <= 1.5x etcdctl's time.
Mirror time is measured the same way for both tools: from process start until the destination holds every key
(polled every 50 ms), then the mirror is interrupted.

Snapshot save runs the two tools alternately (A,B,B,A,...) so that load from other jobs on the machine falls on
both, and reports medians plus the median of the per-pair ratios. Where the time goes is read from the zap lines
both tools print (their epoch `ts`): start-up until "created temporary db file", the stream until "completed
snapshot read", the fsync until "fetched snapshot", the rename and directory fsync until "saved".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from tests import etcdproc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PY = [sys.executable, "-m", "etcdctl_py"]


def fill(endpoint: str, keys: int, value_size: int, prefix: bytes = b"/bench/", first: int = 0) -> None:
    """Write keys first..keys-1 in transactions of 100 puts (fast to set up; mirror copies them one Put each)."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    value = os.urandom(value_size // 2).hex().encode()[:value_size]
    with Client([endpoint], command_timeout=60) as c:
        for start in range(first, keys, 100):
            ops = [
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=prefix + b"%08d" % i, value=value))
                for i in range(start, min(start + 100, keys))
            ]
            c.kv.txn(success=ops)


PHASES = ("total", "start-up", "open", "stream", "fsync", "rename", "exit")


def _phases(t0: float, t1: float, stderr: bytes) -> dict[str, float]:
    """Seconds per phase of one `snapshot save`, from the `ts` of its six zap lines."""
    ts = [json.loads(line)["ts"] for line in stderr.splitlines() if line.startswith(b"{")]
    created, opened, _fetching, completed, fetched, saved = ts
    return {
        "total": t1 - t0,
        "start-up": created - t0,
        "open": opened - created,
        "stream": completed - opened,
        "fsync": fetched - completed,
        "rename": saved - fetched,
        "exit": t1 - saved,
    }


def bench_snapshot(endpoint: str, runs: int, workdir: str) -> dict[str, object]:
    """`runs` interleaved saves per tool (same member, same data): per-tool phase medians and paired ratios."""
    tools = [("etcdctl", [etcdproc.distro_bin("etcdctl")]), ("etcdctl-py", PY)]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _ in tools}
    size = 0
    for i in range(runs):
        for name, argv in tools if i % 2 == 0 else tools[::-1]:
            path = os.path.join(workdir, f"{name}.db")
            t0 = time.time()
            r = subprocess.run([*argv, "--endpoints", endpoint, "snapshot", "save", path], capture_output=True)
            t1 = time.time()
            if r.returncode != 0:
                raise SystemExit(f"{name} snapshot save failed: {r.stderr.decode()}")
            size = os.path.getsize(path)
            samples[name].append(_phases(t0, t1, r.stderr))
            os.remove(path)
    med = {name: {k: statistics.median(x[k] for x in xs) for k in PHASES} for name, xs in samples.items()}
    pairs = zip(samples["etcdctl"], samples["etcdctl-py"], strict=True)
    paired = statistics.median(a["total"] / b["total"] for a, b in pairs)
    return {"size_mb": size / 1e6, "median": med, "paired_ratio": paired, "runs": runs}


def _count(endpoint: str) -> int:
    from etcdctl_py.client import Client

    with Client([endpoint]) as c:
        return c.kv.range(b"/bench/", b"/bench0", count_only=True).count


def bench_mirror(argv: list[str], src: str, dst: str, keys: int) -> float:
    from etcdctl_py.client import Client

    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    poll = Client([dst])
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [*argv, "--endpoints", src, "make-mirror", dst], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
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


def report_snapshot(snap: dict) -> None:
    med = snap["median"]
    size = snap["size_mb"]
    print(f"snapshot save, {size:.1f} MB, {snap['runs']} interleaved runs per tool (medians, ms):")
    print(f"  {'':12}" + "".join(f"{k:>10}" for k in PHASES) + "      MB/s")
    for name, m in med.items():
        print(f"  {name:12}" + "".join(f"{m[k] * 1000:10.1f}" for k in PHASES) + f"{size / m['total']:10.1f}")
    ratio = snap["paired_ratio"]
    print(
        f"  throughput etcdctl-py / etcdctl: {ratio:.2f}x (median of paired runs; ratio of medians "
        f"{med['etcdctl']['total'] / med['etcdctl-py']['total']:.2f}x; target >= 0.9x) "
        f"{'OK' if ratio >= 0.9 else 'MISSED'}"
    )


def main() -> None:
    import compileall

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-size", type=int, default=256)
    ap.add_argument("--snapshot-runs", type=int, default=15)
    ap.add_argument("--no-mirror", action="store_true", help="time snapshot save only")
    ap.add_argument(
        "--small-keys",
        type=int,
        default=10_000,
        help="first time snapshot save with only this many keys (a small snapshot; 0: skip)",
    )
    ap.add_argument(
        "--big-snapshot-mb",
        type=int,
        default=200,
        help="after the mirror run, grow the source to about this size and time snapshot save again",
    )
    args = ap.parse_args()
    # an installed package has its .pyc files; with PYTHONDONTWRITEBYTECODE set every run would compile
    compileall.compile_dir(os.path.join(ROOT, "etcdctl_py"), quiet=1)
    base = tempfile.mkdtemp(prefix="bench-snap-mirror-")
    binary = etcdproc.distro_bin("etcd")
    quota = ["--quota-backend-bytes", str(8 * 1024**3)]
    names = ("src",) if args.no_mirror else ("src", "dst-real", "dst-py")
    servers = [etcdproc.make_server(binary, base, name=n, extra=quota) for n in names]
    try:
        for s in servers:
            s.start()
        src = servers[0]
        dst_real, dst_py = (servers[1], servers[2]) if len(servers) == 3 else (src, src)
        if args.small_keys:
            fill(src.endpoint, args.small_keys, args.value_size)
            report_snapshot(bench_snapshot(src.endpoint, args.snapshot_runs, base))
        t0 = time.perf_counter()
        fill(src.endpoint, args.keys, args.value_size, first=min(args.small_keys, args.keys))
        print(f"filled {args.keys} keys of {args.value_size} B in {time.perf_counter() - t0:.1f}s")
        report_snapshot(bench_snapshot(src.endpoint, args.snapshot_runs, base))
        if not args.no_mirror:
            t_real = bench_mirror([etcdproc.distro_bin("etcdctl")], src.endpoint, dst_real.endpoint, args.keys)
            t_py = bench_mirror(PY, src.endpoint, dst_py.endpoint, args.keys)
            mratio = t_py / t_real
            print(
                f"make-mirror of {args.keys} keys: etcdctl {t_real:.1f}s, etcdctl-py {t_py:.1f}s -> {mratio:.2f}x "
                f"time (target <= 1.5x) {'OK' if mratio <= 1.5 else 'MISSED'}"
            )
        if args.big_snapshot_mb:
            fill(src.endpoint, args.big_snapshot_mb * 1000, 1000, prefix=b"/bulk/")
            report_snapshot(bench_snapshot(src.endpoint, args.snapshot_runs, base))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
