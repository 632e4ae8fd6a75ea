"""Cold start-up of `etcdctl-py get foo` against the Go `etcdctl get foo` and the grpc-import floor.

Each command runs as a whole new process, many times, alternating, against one real etcd 3.5.1 on
loopback; we report medians and two ratios:
  * etcdctl-py / etcdctl (Go)        — what users feel;
  * etcdctl-py / `python -c "import grpc"` — what is ours to fix (target <= 1.25).

    python benchmarks/bench_startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import etcdproc  # noqa: E402


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{argv} failed: {p.stderr.decode()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    base = tempfile.mkdtemp(prefix="bench-startup-")
    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name="bench")
    srv.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        ep = ["--endpoints", srv.endpoint]
        subprocess.run([etcdproc.distro_bin("etcdctl"), *ep, "put", "foo", "bar"], check=True,
                       stdout=subprocess.DEVNULL)
        ours_bin = shutil.which("etcdctl-py")
        ours = [ours_bin] if ours_bin else [sys.executable, "-m", "etcdctl_py"]
        cases = {
            "etcdctl-py get foo": [*ours, *ep, "get", "foo"],
            "etcdctl get foo (Go)": [etcdproc.distro_bin("etcdctl"), *ep, "get", "foo"],
            'python -c "import grpc"': [sys.executable, "-c", "import grpc"],
        }
        for argv in cases.values():  # warm the page cache once
            timed(argv, env)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                samples[name].append(timed(argv, env))
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"{'command':32} {'median ms':>10} {'min ms':>8}")
        for k in cases:
            print(f"{k:32} {med[k] * 1000:10.1f} {min(samples[k]) * 1000:8.1f}")
        ours_med = med["etcdctl-py get foo"]
        print()
        print(f"etcdctl-py / etcdctl (Go):        {ours_med / med['etcdctl get foo (Go)']:.2f}x")
        floor = med['python -c "import grpc"']
        print(f"etcdctl-py / import-grpc floor:   {ours_med / floor:.2f}x  (target <= 1.25)")
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
