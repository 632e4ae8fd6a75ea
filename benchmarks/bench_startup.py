"""Cold start-up of `etcdctl-py get foo` against the Go `etcdctl get foo` and the grpc-import floor.

Each command runs as a whole new process, many times, alternating, against one real etcd 3.5.1 on
loopback; we report medians and two ratios:
  * etcdctl-py / etcdctl (Go)        — what users feel;
  * etcdctl-py / `python -c "import grpc"` — what is ours to fix (target <= 1.25).

    python -m benchmarks.bench_startup [--runs 30]
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

from tests import etcdproc


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user+sys of the child) of one whole process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{argv} failed: {p.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu


BREAKDOWN = r"""
import time, sys
t = [time.perf_counter()]
import grpc; t.append(time.perf_counter())
from google.protobuf.internal import builder; t.append(time.perf_counter())
from etcdctl_py.proto.etcdserverpb import rpc_pb2; t.append(time.perf_counter())
from etcdctl_py.cli.root import build_root; from etcdctl_py.cli import get, globals
build_root(); t.append(time.perf_counter())
from etcdctl_py.client import Client
c = Client([sys.argv[1]]); c.kv.range(b"foo"); t.append(time.perf_counter())
names = ["grpc", "protobuf_runtime", "our_pb2_modules", "our_CLI_modules", "channel+first_RPC"]
print(" ".join(f"{n}={1000 * (b - a):.1f}" for n, a, b in zip(names, t, t[1:])))
"""


def breakdown(endpoint: str, env: dict[str, str], runs: int) -> None:
    """Where the time of one `get` goes, measured in-process (medians, ms)."""
    rows: dict[str, list[float]] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", BREAKDOWN, endpoint], capture_output=True, text=True, env=env)
        for part in out.stdout.split():
            k, _, v = part.rpartition("=")
            rows.setdefault(k, []).append(float(v))
    print(
        "in-process breakdown (median ms): "
        + ", ".join(f"{k.replace('_', ' ')} {statistics.median(v):.1f}" for k, v in rows.items())
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    # A regular `pip install` ships compiled bytecode; an editable checkout may not have it (and
    # PYTHONDONTWRITEBYTECODE stops Python from writing it), so compile first for a fair comparison.
    import compileall

    compileall.compile_dir(os.path.join(os.path.dirname(__file__), "..", "etcdctl_py"), quiet=1)
    base = tempfile.mkdtemp(prefix="bench-startup-")
    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name="bench")
    srv.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        ep = ["--endpoints", srv.endpoint]
        subprocess.run(
            [etcdproc.distro_bin("etcdctl"), *ep, "put", "foo", "bar"], check=True, stdout=subprocess.DEVNULL
        )
        ours_bin = shutil.which("etcdctl-py")
        ours = [ours_bin] if ours_bin else [sys.executable, "-m", "etcdctl_py"]
        cases = {
            "etcdctl-py get foo": [*ours, *ep, "get", "foo"],
            "etcdctl get foo (Go)": [etcdproc.distro_bin("etcdctl"), *ep, "get", "foo"],
            'python -c "import grpc"': [sys.executable, "-c", "import grpc"],
        }
        for argv in cases.values():  # warm the page cache once
            timed(argv, env)
        wall: dict[str, list[float]] = {k: [] for k in cases}
        cpu: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                w, c = timed(argv, env)
                wall[name].append(w)
                cpu[name].append(c)
        med = {k: statistics.median(v) for k, v in wall.items()}
        cmed = {k: statistics.median(v) for k, v in cpu.items()}
        print(f"{'command':32} {'wall median ms':>15} {'wall min ms':>12} {'cpu median ms':>14}")
        for k in cases:
            print(f"{k:32} {med[k] * 1000:15.1f} {min(wall[k]) * 1000:12.1f} {cmed[k] * 1000:14.1f}")
        ours, go, floor = "etcdctl-py get foo", "etcdctl get foo (Go)", 'python -c "import grpc"'
        print()
        print(f"etcdctl-py / etcdctl (Go), wall:        {med[ours] / med[go]:.2f}x")
        print(f"etcdctl-py / import-grpc floor, wall:   {med[ours] / med[floor]:.2f}x  (target <= 1.25)")
        print(f"etcdctl-py / import-grpc floor, cpu:    {cmed[ours] / cmed[floor]:.2f}x")
        print()
        breakdown(srv.endpoint, env, max(5, args.runs // 3))
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
