"""Benchmark: `snapshot follow` lag and CPU at a steady write load; point-in-time restore time vs plain restore.

    python -m benchmarks.bench_pitr [--rate 500] [--seconds 10] [--events 100000] [--txn-ops 100] [--full-mib 64]

A real etcd 3.5.1 on 127.0.0.1 is the source; `etcdctl-py snapshot follow` runs as a child process.

1. Steady load: --rate puts per second for --seconds (one gRPC client, paced). Lag of a revision = the receive
   time follow wrote into its record minus the moment the put was acknowledged to the writer; reported as
   median / p99 / max. CPU = follow's user+system time over the load period divided by its length.
2. Restore: --events more events after the newest full (txns of --txn-ops puts over 10k keys), then in process
   `pitr.restore` to the newest revision vs `restore.restore` of the full alone (median of 3 each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests import etcdproc

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _newest(chain: str) -> int:
    from etcdctl_py.snapshot import chain as chain_mod

    try:
        return chain_mod.load(chain).newest()
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def _record_times(chain: str) -> dict[int, float]:
    """revision -> the receive time follow recorded for it."""
    from etcdctl_py.snapshot import chain as chain_mod
    from etcdctl_py.snapshot import segments as seg_mod

    out = {}
    for s in chain_mod.load(chain).segments:
        for r in s.records:
            if r.kind == seg_mod.KIND_EVENTS:
                for rev in range(r.first_rev, r.last_rev + 1):
                    out[rev] = r.time_ns / 1e9
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--txn-ops", type=int, default=100)
    ap.add_argument("--full-mib", type=int, default=64, help="data written before follow starts (full's size)")
    a = ap.parse_args()

    import grpc

    from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
    from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as stubs
    from etcdctl_py.snapshot import chain as chain_mod
    from etcdctl_py.snapshot import pitr
    from etcdctl_py.snapshot import restore as rs

    base = tempfile.mkdtemp(prefix="bench-pitr-")
    srv = etcdproc.make_server(
        etcdproc.distro_bin("etcd"), base, name="src", extra=["--quota-backend-bytes", str(4 << 30)]
    )
    srv.start()
    chain = os.path.join(base, "chain")
    follow = None
    try:
        kv = stubs.KVStub(grpc.insecure_channel(srv.endpoint))
        for i in range(a.full_mib):
            kv.Put(pb.PutRequest(key=b"fill/%04d" % i, value=os.urandom(1 << 20)), timeout=30)
        follow = subprocess.Popen(
            [sys.executable, "-m", "etcdctl_py", "--endpoints", srv.endpoint, "snapshot", "follow", chain],
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        etcdproc.wait_until(lambda: _newest(chain) >= 1, 30, "the first full")
        # 1. steady load
        acked: dict[int, float] = {}
        n = int(a.rate * a.seconds)
        cpu0, t0 = _cpu_seconds(follow.pid), time.monotonic()
        wall0 = time.time() - time.monotonic()
        for i in range(n):
            due = t0 + i / a.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            r = kv.Put(pb.PutRequest(key=b"load/%d" % (i % 1000), value=b"x" * 256), timeout=10)
            acked[r.header.revision] = wall0 + time.monotonic()
        load_time = time.monotonic() - t0
        last = max(acked)
        etcdproc.wait_until(lambda: _newest(chain) >= last, 60, "follow to catch up", step=0.02)
        cpu = _cpu_seconds(follow.pid) - cpu0
        seen = _record_times(chain)
        lags = sorted(max(seen[rv] - t, 0.0) * 1000 for rv, t in acked.items())
        print(f"steady load: {n} puts at {n / load_time:.0f}/s for {load_time:.1f}s")
        print(
            f"  follow lag (ack -> record written): median {statistics.median(lags):.2f} ms, "
            f"p99 {lags[int(len(lags) * 0.99)]:.2f} ms, max {lags[-1]:.2f} ms"
        )
        print(f"  follow CPU: {cpu:.2f} s over {load_time:.1f} s = {100 * cpu / load_time:.1f}% of one core")
        # 2. a new full, then --events events after it
        follow.send_signal(signal.SIGTERM)
        follow.wait(30)
        follow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "etcdctl_py",
                "--endpoints",
                srv.endpoint,
                "snapshot",
                "follow",
                chain,
                "--full-every",
                "1ns",
            ],
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        full_rev = last
        etcdproc.wait_until(lambda: chain_mod.load(chain).fulls[-1].revision >= full_rev, 60, "a new full", step=0.05)
        follow.send_signal(signal.SIGTERM)
        follow.wait(30)
        follow = subprocess.Popen(
            [sys.executable, "-m", "etcdctl_py", "--endpoints", srv.endpoint, "snapshot", "follow", chain],
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        full = chain_mod.load(chain).fulls[-1]
        t = time.monotonic()
        for i in range(a.events // a.txn_ops):
            ops = [
                pb.RequestOp(
                    request_put=pb.PutRequest(key=b"bulk/%05d" % ((i * a.txn_ops + j) % 10_000), value=b"v" * 100)
                )
                for j in range(a.txn_ops)
            ]
            r = kv.Txn(pb.TxnRequest(success=ops), timeout=30)
        target = r.header.revision
        etcdproc.wait_until(lambda: _newest(chain) >= target, 300, "follow to record the bulk", step=0.1)
        print(f"bulk: {a.events} events in {a.events // a.txn_ops} txns written in {time.monotonic() - t:.1f}s")
        follow.send_signal(signal.SIGTERM)
        follow.wait(30)
        follow = None

        def timed(fn) -> float:
            runs = []
            for k in range(3):
                out = os.path.join(base, f"out-{k}")
                t = time.monotonic()
                fn(out)
                runs.append(time.monotonic() - t)
                shutil.rmtree(out)
            return statistics.median(runs)

        cfg = rs.RestoreConfig(
            snapshot_path=full.path, initial_cluster="default=http://127.0.0.1:2380", peer_urls="http://127.0.0.1:2380"
        )
        plain = timed(lambda out: rs.restore(rs.RestoreConfig(**{**cfg.__dict__, "data_dir": out})))
        to_rev = timed(
            lambda out: pitr.restore(rs.RestoreConfig(**{**cfg.__dict__, "data_dir": out}), chain, to_revision=target)
        )
        print(
            f"full at revision {full.revision} ({full.size / 1e6:.1f} MB); restore to revision {target} "
            f"({target - full.revision} revisions, {a.events} events after it)"
        )
        print(
            f"  plain restore of the full: {plain:.2f} s; restore to the revision: {to_rev:.2f} s "
            f"(ratio {to_rev / plain:.2f}, delta cost {1e6 * (to_rev - plain) / a.events:.1f} us/event)"
        )
    finally:
        if follow is not None:
            follow.kill()
            follow.wait()
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
