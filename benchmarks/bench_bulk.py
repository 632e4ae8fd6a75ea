"""Large ranges: `get /registry --prefix` in every output format, etcdctl-py against the Go etcdctl 3.5.1.

Fills a server with Kubernetes-shaped keys (`/registry/pods/nsN/pod-M`, random binary values) through
txns of many puts, then times each path as whole, cold processes, alternating the two tools run by run
(the one that goes first alternates too), both reading from the same server. Each process writes into a
pipe that this script drains (the `| jq` case); both outputs must be byte-identical (length and CRC-32).
Reports medians, the ratio of medians (ours / Go) of wall and CPU time, and each child's peak RSS (wait4).

    python -m benchmarks.bench_bulk [--keys 200000] [--value-size 512] [--runs 3] [--server etcd|etcd-py]
                                    [--paths json,simple,...] [--ours-root DIR] [--before-root DIR]
                                    [--endpoint HOST:PORT]

`--ours-root DIR` runs the etcdctl_py package found in DIR instead of this checkout's; `--before-root DIR`
adds a third tool, the package in DIR (e.g. a copy of an older tree), timed in the same rotation, so a
before/after pair is compared with Go and with each other in one run.
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
import zlib
from pathlib import Path

from tests import etcdproc

ROOT = Path(__file__).resolve().parent.parent

PATHS = {
    "json": ["-w", "json"],
    "keys-only": ["--keys-only"],
    "simple": [],
    "print-value-only": ["--print-value-only"],
    "hex": ["--hex"],
    "fields": ["-w", "fields"],
    "protobuf": ["-w", "protobuf"],
}
PUTS_PER_TXN = 128  # etcd's default --max-txn-ops


def fill(endpoint: str, keys: int, value_size: int) -> None:
    """`keys` keys under /registry/pods/nsN/ with random values, 128 puts per txn."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    c = Client([endpoint], command_timeout=60)
    blob = os.urandom(value_size + 4096)
    try:
        for start in range(0, keys, PUTS_PER_TXN):
            ops = []
            for i in range(start, min(start + PUTS_PER_TXN, keys)):
                key = b"/registry/pods/ns%d/pod-%07d" % (i % 100, i)
                off = (i * 7919) % 4096
                ops.append(
                    rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=blob[off : off + value_size]))
                )
            c.kv.txn(success=ops)
    finally:
        c.close()


def run_once(argv: list[str], cwd: str | None) -> tuple[float, float, int, int, int]:
    """One cold process: (wall seconds, CPU seconds (user+sys), peak RSS KiB, output length, output CRC-32);
    stdout drained here."""
    # ETCDCTL_PY_TRANSPORT=grpcio passes through, to time our side on grpcio (Go ignores it)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_") or k == "ETCDCTL_PY_TRANSPORT"}
    t0 = time.perf_counter()
    p = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd, env=env
    )
    fd, n, crc = p.stdout.fileno(), 0, 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        n += len(chunk)
        crc = zlib.crc32(chunk, crc)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    p.stderr.close()
    if p.returncode != 0:
        raise SystemExit(f"{argv} exited {p.returncode}: {err.decode(errors='replace')}")
    return dt, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, n, crc


def bench(
    endpoint: str, paths: list[str], runs: int, ours_root: str | None, before_root: str | None = None
) -> list[dict]:
    common = ["--endpoints", endpoint, "--command-timeout", "120s", "get", "/registry", "--prefix"]
    go = [etcdproc.distro_bin("etcdctl"), *common]
    py = [sys.executable, "-m", "etcdctl_py", *common]
    tools = [("go", go, None), ("py", py, ours_root)]
    if before_root:
        tools.append(("before", py, before_root))
    rows = []
    for name in paths:
        extra = PATHS[name]
        t: dict[str, list[float]] = {who: [] for who, _, _ in tools}
        cpu: dict[str, list[float]] = {who: [] for who, _, _ in tools}
        rss: dict[str, list[int]] = {who: [] for who, _, _ in tools}
        outs = set()
        for i in range(runs):
            order = tools[i % len(tools) :] + tools[: i % len(tools)]  # who goes first rotates
            if i % 2:
                order.reverse()
            for who, argv, cwd in order:
                dt, used, maxrss, n, crc = run_once(argv + extra, cwd)
                t[who].append(dt)
                cpu[who].append(used)
                rss[who].append(maxrss)
                outs.add((n, crc))
        if len(outs) != 1:
            raise SystemExit(f"{name}: outputs differ between the tools: {sorted(outs)}")
        mg, mp = statistics.median(t["go"]), statistics.median(t["py"])
        cg, cp = statistics.median(cpu["go"]), statistics.median(cpu["py"])
        rows.append(
            {
                "path": name,
                "go": mg,
                "py": mp,
                "ratio": mp / mg,
                "go_cpu": cg,
                "py_cpu": cp,
                "cpu_ratio": cp / cg,
                "go_rss": max(rss["go"]) / 1024,
                "py_rss": max(rss["py"]) / 1024,
                "bytes": outs.pop()[0],
                "ratios": sorted(p / g for p, g in zip(t["py"], t["go"], strict=True)),
            }
        )
        r = rows[-1]
        print(
            f"{name:17s} go {mg:6.2f}s  py {mp:6.2f}s  ratio {r['ratio']:.2f} "
            f"(pairs {min(r['ratios']):.2f}-{max(r['ratios']):.2f})  "
            f"CPU go {cg:5.2f}s py {cp:5.2f}s ratio {r['cpu_ratio']:.2f}  "
            f"peak RSS go {r['go_rss']:.0f} MiB py {r['py_rss']:.0f} MiB  output {r['bytes'] / 2**20:.1f} MiB",
            flush=True,
        )
        if before_root:
            mb, cb = statistics.median(t["before"]), statistics.median(cpu["before"])
            print(
                f"{'':17s} before {mb:6.2f}s ratio {mb / mg:.2f} "
                f"(pairs {min(b / g for b, g in zip(t['before'], t['go'], strict=True)):.2f}-"
                f"{max(b / g for b, g in zip(t['before'], t['go'], strict=True)):.2f})  "
                f"CPU {cb:5.2f}s ratio {cb / cg:.2f}  peak RSS {max(rss['before']) / 1024:.0f} MiB  "
                f"after/before wall {mp / mb:.2f}",
                flush=True,
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--value-size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server", choices=("etcd", "etcd-py"), default="etcd")
    ap.add_argument("--paths", default=",".join(PATHS), help="comma-separated: " + ",".join(PATHS))
    ap.add_argument("--ours-root", default=None, help="directory holding the etcdctl_py package to time")
    ap.add_argument("--before-root", default=None, help="also time the etcdctl_py package in DIR (as 'before')")
    ap.add_argument("--endpoint", default=None, help="time against this already filled server (no start, no fill)")
    a = ap.parse_args()
    paths = [p for p in a.paths.split(",") if p]
    for p in paths:
        if p not in PATHS:
            raise SystemExit(f"unknown path {p!r}")
    if a.endpoint:
        bench(a.endpoint, paths, a.runs, a.ours_root, a.before_root)
        return
    base = tempfile.mkdtemp(prefix="bench-bulk-")
    binary = etcdproc.distro_bin("etcd") if a.server == "etcd" else etcdproc.etcd_py_wrapper(base)
    srv = etcdproc.make_server(binary, base, name="bulk", extra=["--quota-backend-bytes", str(8 << 30)])
    try:
        srv.start()
        t0 = time.perf_counter()
        fill(srv.endpoint, a.keys, a.value_size)
        print(
            f"server {a.server}: filled {a.keys} keys of {a.value_size} B in {time.perf_counter() - t0:.1f}s; "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        bench(srv.endpoint, paths, a.runs, a.ours_root, a.before_root)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
