"""make-mirror: etcdctl-py against the Go etcdctl 3.5.1, wall time, CPU and peak RSS, against real etcd 3.5.1.

Scenarios (each run gets a fresh, empty destination server; the source is filled once per scenario):
* `copy`: the initial copy of `--keys` small keys (`/bench/%08d`, `--value-size` bytes), timed from process start
  until the destination holds every key;
* `k8s`: the same for `--k8s-keys` Kubernetes-shaped keys (`/registry/pods/nsN/pod-M`, `--k8s-value-size` random
  bytes) mirrored with `--prefix /registry`;
* `follow`: the mirror is started on an empty prefix and left to settle, then a writer puts `--follow-keys` keys
  one Put (one revision) each, sequentially; timed from the first write until the destination holds the last key.

The tools take turns, the order rotated run by run. Per run: wall time, the child's CPU (user + sys, from wait4)
and its peak RSS (VmHWM, read just before it is stopped); the mirror is stopped (SIGTERM) as soon as everything
has arrived. The destination is polled for the last key every 20 ms, then counted. Reported: medians per tool
and their ratios to Go's. `--before-root DIR` adds a third tool: the etcdctl_py package found in DIR (e.g. an
older tree: `git archive HEAD etcdctl_py | tar -x -C DIR`), run the same way.

    python -m benchmarks.bench_mirror [--runs 3] [--scenarios copy,k8s,follow] [--keys 100000] [--before-root DIR]
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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests import etcdproc

QUOTA = ["--quota-backend-bytes", str(8 << 30)]
PUTS_PER_TXN = 128


@dataclass(frozen=True)
class Tool:
    name: str
    argv: list[str]
    cwd: str | None = None  # where `python -m etcdctl_py` finds the package (--before-root)


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float


def fill(endpoint: str, keys: list[bytes], values: list[bytes]) -> None:
    """Write the keys in txns of 128 puts (fast to set up; the mirror copies them one Put each)."""
    from etcdctl_py.client import Client
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    with Client([endpoint], command_timeout=60) as c:
        for start in range(0, len(keys), PUTS_PER_TXN):
            ops = [
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=keys[i], value=values[i]))
                for i in range(start, min(start + PUTS_PER_TXN, len(keys)))
            ]
            c.kv.txn(success=ops)


def small_keys(n: int, size: int) -> tuple[list[bytes], list[bytes]]:
    value = os.urandom(size // 2 + 1).hex().encode()[:size]
    return [b"/bench/%08d" % i for i in range(n)], [value] * n


def k8s_keys(n: int, size: int) -> tuple[list[bytes], list[bytes]]:
    blob = os.urandom(size + 4096)
    keys = [b"/registry/pods/ns%d/pod-%07d" % (i % 100, i) for i in range(n)]
    values = [blob[(i * 7919) % 4096 :][:size] for i in range(n)]
    return keys, values


def _wait_arrived(dst: str, last: bytes, prefix: bytes, n: int, p: subprocess.Popen) -> float:
    """perf_counter() when the destination holds `last` and `n` keys under `prefix`."""
    from etcdctl_py.client import Client
    from etcdctl_py.keyrange import prefix_end

    with Client([dst], command_timeout=30) as c:
        while True:
            if c.kv.range(last, count_only=True).count:
                if c.kv.range(prefix, prefix_end(prefix), count_only=True).count >= n:
                    return time.perf_counter()
            if p.poll() is not None:
                err = p.stderr
                if err is not None:
                    err.seek(0)
                raise SystemExit(f"make-mirror exited {p.returncode}: {err.read() if err else b''!r}")
            time.sleep(0.02)


def _peak_rss_mib(pid: int) -> float:
    """VmHWM of a running process (wait4's ru_maxrss would count the benchmark's own pages the child was forked
    with, before its exec)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _finish(p: subprocess.Popen) -> tuple[float, float]:
    """Stop the mirror; (CPU seconds, peak RSS MiB) of the child. SIGTERM, not SIGINT: a benchmark started in the
    background (`nohup ... &`) hands its children an ignored SIGINT, which both tools keep."""
    try:
        rss = _peak_rss_mib(p.pid)
    except OSError:
        rss = 0.0  # it has exited already (the caller reports why)
    p.send_signal(signal.SIGTERM)
    _, _status, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    return ru.ru_utime + ru.ru_stime, rss


def _spawn(tool: Tool, src: str, dst: str, extra: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return subprocess.Popen(
        [*tool.argv, "--endpoints", src, "make-mirror", *extra, dst],
        cwd=tool.cwd,
        stdout=subprocess.DEVNULL,
        stderr=tempfile.TemporaryFile(),  # read back if it fails
        stdin=subprocess.DEVNULL,
        env=env,
    )


def run_copy(tool: Tool, src: str, dst: str, prefix: bytes, last: bytes, n: int, extra: list[str]) -> Sample:
    t0 = time.perf_counter()
    p = _spawn(tool, src, dst, extra)
    try:
        t1 = _wait_arrived(dst, last, prefix, n, p)
    finally:
        cpu, rss = _finish(p)
    return Sample(t1 - t0, cpu, rss)


def run_follow(tool: Tool, src: str, dst: str, n: int, value_size: int) -> Sample:
    """Mirror `/follow/`: settle on the (empty) prefix, then time a sequential writer of n Puts until all arrived.
    CPU is the whole child's (start-up and idle watch included, the same for both tools)."""
    from etcdctl_py.client import Client
    from etcdctl_py.keyrange import prefix_end

    prefix = b"/follow/"
    value = b"v" * value_size
    with Client([src], command_timeout=30) as c:
        c.kv.delete(prefix, prefix_end(prefix))  # the previous run's keys
    p = _spawn(tool, src, dst, ["--prefix", prefix.decode()])
    try:
        with Client([src], command_timeout=30) as c:
            seed = prefix + b"seed"
            c.kv.put(seed, value)  # the watch is up once this arrives
            _wait_arrived(dst, seed, prefix, 1, p)
            t0 = time.perf_counter()
            done = threading.Event()

            def write() -> None:
                for i in range(n):
                    c.kv.put(prefix + b"%08d" % i, value)
                done.set()

            w = threading.Thread(target=write, daemon=True)
            w.start()
            t1 = _wait_arrived(dst, prefix + b"%08d" % (n - 1), prefix, n + 1, p)
            w.join()
    finally:
        cpu, rss = _finish(p)
    return Sample(t1 - t0, cpu, rss)


def alternate(runs: int, base: str, tools: list[Tool], one_run: Callable[[Tool, str], Sample]) -> dict[str, list]:
    """`runs` runs per tool, the order rotated run by run, each against a fresh destination server."""
    out: dict[str, list[Sample]] = {t.name: [] for t in tools}
    for i in range(runs):
        for tool in tools[i % len(tools) :] + tools[: i % len(tools)]:
            dst = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name=f"dst-{tool.name}{i}", extra=QUOTA)
            dst.start()
            try:
                s = one_run(tool, dst.endpoint)
            finally:
                dst.stop()
                shutil.rmtree(dst.data_dir, ignore_errors=True)
            out[tool.name].append(s)
            print(f"    {tool.name} run {i + 1}: {s.wall:.2f}s wall, {s.cpu:.2f}s CPU, {s.rss_mib:.0f} MiB", flush=True)
    return out


def report(name: str, samples: dict[str, list[Sample]]) -> None:
    """Medians per tool, and each tool's ratio of medians to Go's."""
    med = {
        who: {f: statistics.median(getattr(s, f) for s in xs) for f in ("wall", "cpu", "rss_mib")}
        for who, xs in samples.items()
    }
    g = med["go"]
    print(f"{name} (medians; load average now {os.getloadavg()[0]:.2f}):", flush=True)
    for who, m in med.items():
        print(
            f"  {who:7s} wall {m['wall']:7.2f}s ({m['wall'] / g['wall']:.2f}x)  CPU {m['cpu']:6.2f}s "
            f"({m['cpu'] / g['cpu']:.2f}x)  peak RSS {m['rss_mib']:4.0f} MiB",
            flush=True,
        )


def scenario(sc: str, src: str, a: argparse.Namespace) -> Callable[[Tool, str], Sample]:
    """Fill the source for scenario `sc`; the function that times one run of a tool against a destination."""
    if sc == "copy":
        keys, values = small_keys(a.keys, a.value_size)
        fill(src, keys, values)
        print(f"copy: {a.keys} keys of {a.value_size} B", flush=True)
        return lambda tool, dst: run_copy(tool, src, dst, b"/bench/", keys[-1], len(keys), [])
    if sc == "k8s":
        keys, values = k8s_keys(a.k8s_keys, a.k8s_value_size)
        fill(src, keys, values)
        print(f"k8s: {a.k8s_keys} keys of {a.k8s_value_size} B, --prefix /registry", flush=True)
        last = max(keys)
        return lambda tool, dst: run_copy(tool, src, dst, b"/registry", last, len(keys), ["--prefix", "/registry"])
    if sc == "follow":
        print(f"follow: {a.follow_keys} sequential Puts of {a.value_size} B", flush=True)
        return lambda tool, dst: run_follow(tool, src, dst, a.follow_keys, a.value_size)
    raise SystemExit(f"unknown scenario {sc!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenarios", default="copy,k8s,follow")
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--k8s-keys", type=int, default=44_000)
    ap.add_argument("--k8s-value-size", type=int, default=512)
    ap.add_argument("--follow-keys", type=int, default=5_000)
    ap.add_argument("--before-root", default=None, help="also time the etcdctl_py package in DIR (as 'before')")
    a = ap.parse_args()
    py = [sys.executable, "-m", "etcdctl_py"]
    tools = [Tool("go", [etcdproc.distro_bin("etcdctl")]), Tool("py", py)]
    if a.before_root:
        tools.append(Tool("before", py, a.before_root))
    base = tempfile.mkdtemp(prefix="bench-mirror-")
    print(f"load average at the start {os.getloadavg()[0]:.2f}", flush=True)
    try:
        for sc in [s for s in a.scenarios.split(",") if s]:
            src = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name=f"src-{sc}", extra=QUOTA)
            src.start()
            try:
                report(sc, alternate(a.runs, base, tools, scenario(sc, src.endpoint, a)))
            finally:
                src.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
