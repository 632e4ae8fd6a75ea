"""Benchmark etcd-py against real etcd 3.5.1 in one run.

* real `etcdctl check perf --load=s` and `--load=m` against each server (pass/fail + etcdctl's summary);
* put and range throughput (grpc clients from threads) and the etcd-py / etcd ratios.

Usage: python -m benchmarks.bench_server [--loads s,m] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wrapper(d: str) -> str:
    p = os.path.join(d, "etcd-py")
    with open(p, "w") as f:
        f.write(f'#!/bin/sh\ncd {ROOT}\nexec {sys.executable} -m etcdctl_py.server "$@"\n')
    os.chmod(p, 0o755)
    return p


def check_perf(endpoint: str, load: str) -> tuple[int, str]:
    ctl = etcdproc.distro_bin("etcdctl")
    p = subprocess.run(
        [ctl, f"--endpoints={endpoint}", "check", "perf", f"--load={load}"], capture_output=True, text=True, timeout=300
    )
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith(("PASS", "FAIL", "Error"))]
    return p.returncode, "\n".join(lines)


def throughput(endpoint: str, op: str, seconds: float, clients: int = 16) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def run(i: int) -> None:
        ch = grpc.insecure_channel(endpoint)
        kv = pbg.KVStub(ch)
        n = 0
        while time.monotonic() < stop:
            if op == "put":
                kv.Put(pb.PutRequest(key=f"bench/{i}/{n % 1000}".encode(), value=b"x" * 256))
            else:
                kv.Range(pb.RangeRequest(key=f"bench/{i}/{n % 100}".encode()))
            n += 1
        counts[i] = n
        ch.close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", default="s,m")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="bench-server-")
    real = etcdproc.make_server(etcdproc.distro_bin("etcd"), d, name="real")
    ours = etcdproc.make_server(wrapper(d), d, name="ours")
    real.start()
    ours.start()
    try:
        res: dict[str, dict[str, float]] = {}
        for name, srv in (("etcd", real), ("etcd-py", ours)):
            res[name] = {
                "put": throughput(srv.endpoint, "put", args.seconds),
                "range": throughput(srv.endpoint, "range", args.seconds),
            }
            print(f"{name:8s} put {res[name]['put']:9.0f}/s  range {res[name]['range']:9.0f}/s", flush=True)
        for op in ("put", "range"):
            print(f"ratio etcd-py/etcd {op}: {res['etcd-py'][op] / res['etcd'][op]:.3f}")
        for load in [x for x in args.loads.split(",") if x]:
            for name, srv in (("etcd", real), ("etcd-py", ours)):
                rc, summary = check_perf(srv.endpoint, load)
                print(f"check perf --load={load} {name}: rc={rc}\n  " + summary.replace("\n", "\n  "), flush=True)
    finally:
        real.stop()
        ours.stop()
        etcdproc.cleanup_dir(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
