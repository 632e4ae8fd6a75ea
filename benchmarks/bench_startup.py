"""Cold start-up of short etcdctl-py verbs against Go's etcdctl and the protobuf-import floor.

Each command runs as a whole new process, many times, alternating, against one real etcd 3.5.1 on loopback, over
plain TCP and over TLS (client certificates); we report medians and, per verb, two ratios:
  * etcdctl-py / etcdctl (Go)                                   - what users feel;
  * etcdctl-py / `python -c "import ...etcdserverpb.rpc_pb2"`   - the protobuf floor (target <= 1.25).
`import grpc` and `etcdctl-py get` with ETCDCTL_PY_TRANSPORT=grpcio are measured too, for the old floor.

    python -m benchmarks.bench_startup [--runs 15]
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

from tests import etcdproc, tlscerts

VERBS: dict[str, tuple[list[str], bytes]] = {
    "get": (["get", "foo"], b""),
    "put": (["put", "k", "v"], b""),
    "txn": (["txn"], b"\nput tk tv\n\n\n"),
    "member list": (["member", "list"], b""),
    "endpoint status": (["endpoint", "status"], b""),
}
PB_FLOOR = 'python -c "import ...rpc_pb2"'
GRPC_FLOOR = 'python -c "import grpc"'


def timed(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[float, float]:
    """Wall time and CPU time (user+sys of the child) of one whole process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{argv} failed: {p.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu


BREAKDOWN = r"""
import time, sys
t = [time.perf_counter()]
from google.protobuf.internal import builder; t.append(time.perf_counter())
from etcdctl_py.proto.etcdserverpb import rpc_pb2; t.append(time.perf_counter())
from etcdctl_py.cli.root import build_root; from etcdctl_py.cli import get, globals
build_root(); t.append(time.perf_counter())
from etcdctl_py.client import Client
c = Client([sys.argv[1]]); c.kv.range(b"foo"); t.append(time.perf_counter())
assert "grpc" not in sys.modules
names = ["protobuf_runtime", "our_pb2_modules", "our_CLI_modules", "connection+first_RPC"]
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


def _tls_server(base: str) -> tuple[etcdproc.EtcdServer, dict[str, str]]:
    certs = tlscerts.make_certs(base)
    srv = etcdproc.make_server(
        etcdproc.distro_bin("etcd"),
        base,
        name="benchtls",
        extra=["--cert-file", certs["server_cert"], "--key-file", certs["server_key"]]
        + ["--trusted-ca-file", certs["ca"], "--client-cert-auth"],
    )
    https = f"https://127.0.0.1:{srv.client_port}"
    srv.argv = [a.replace(f"http://127.0.0.1:{srv.client_port}", https) for a in srv.argv]
    srv.start(wait=False)
    return srv, certs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    # A regular `pip install` ships compiled bytecode; an editable checkout may not have it (and
    # PYTHONDONTWRITEBYTECODE stops Python from writing it), so compile first for a fair comparison.
    import compileall

    compileall.compile_dir(os.path.join(os.path.dirname(__file__), "..", "etcdctl_py"), quiet=1)
    base = tempfile.mkdtemp(prefix="bench-startup-")
    srv = etcdproc.make_server(etcdproc.distro_bin("etcd"), base, name="bench")
    srv.start()
    tls_dir = os.path.join(base, "tls")
    os.mkdir(tls_dir)
    tls_srv, certs = _tls_server(tls_dir)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        go = etcdproc.distro_bin("etcdctl")
        venv_bin = os.path.join(os.path.dirname(sys.executable), "etcdctl-py")
        ours_bin = venv_bin if os.path.exists(venv_bin) else shutil.which("etcdctl-py")
        ours = [ours_bin] if ours_bin else [sys.executable, "-m", "etcdctl_py"]
        plain = ["--endpoints", srv.endpoint]
        tls = ["--endpoints", f"https://127.0.0.1:{tls_srv.client_port}", "--cacert", certs["ca"]]
        tls += ["--cert", certs["client_cert"], "--key", certs["client_key"]]
        etcdproc.wait_until(
            lambda: subprocess.run([go, *tls, "endpoint", "health"], capture_output=True).returncode == 0,
            30,
            "the TLS member",
        )
        subprocess.run([go, *plain, "put", "foo", "bar"], check=True, stdout=subprocess.DEVNULL)
        cases: dict[str, tuple[list[str], bytes, dict[str, str]]] = {}
        for mode, flags in (("plain", plain), ("TLS", tls)):
            for verb, (argv, stdin) in VERBS.items():
                cases[f"{mode} {verb}: etcdctl-py"] = ([*ours, *flags, *argv], stdin, env)
                cases[f"{mode} {verb}: etcdctl (Go)"] = ([go, *flags, *argv], stdin, env)
        cases["plain get: etcdctl-py (grpcio)"] = (
            [*ours, *plain, "get", "foo"],
            b"",
            {**env, "ETCDCTL_PY_TRANSPORT": "grpcio"},
        )
        cases['python -c "pass"'] = ([sys.executable, "-c", "pass"], b"", env)
        cases[PB_FLOOR] = ([sys.executable, "-c", "import etcdctl_py.proto.etcdserverpb.rpc_pb2"], b"", env)
        cases[GRPC_FLOOR] = ([sys.executable, "-c", "import grpc"], b"", env)
        for argv, stdin, e in cases.values():  # warm the page cache once
            timed(argv, e, stdin)
        wall: dict[str, list[float]] = {k: [] for k in cases}
        cpu: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, (argv, stdin, e) in cases.items():
                w, c = timed(argv, e, stdin)
                wall[name].append(w)
                cpu[name].append(c)
        med = {k: statistics.median(v) for k, v in wall.items()}
        cmed = {k: statistics.median(v) for k, v in cpu.items()}
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        print(f"{'command':44} {'wall median ms':>15} {'wall min ms':>12} {'cpu median ms':>14}")
        for k in cases:
            print(f"{k:44} {med[k] * 1000:15.1f} {min(wall[k]) * 1000:12.1f} {cmed[k] * 1000:14.1f}")
        print()
        print(f"{'verb':24} {'ours / protobuf floor':>22} {'ours / Go etcdctl':>18}")
        for mode in ("plain", "TLS"):
            for verb in VERBS:
                o, g = med[f"{mode} {verb}: etcdctl-py"], med[f"{mode} {verb}: etcdctl (Go)"]
                print(f"{mode + ' ' + verb:24} {o / med[PB_FLOOR]:21.2f}x {o / g:17.2f}x")
        o = med["plain get: etcdctl-py (grpcio)"]
        print(f"{'plain get (grpcio)':24} {o / med[PB_FLOOR]:21.2f}x {o / med['plain get: etcdctl (Go)']:17.2f}x")
        print()
        breakdown(srv.endpoint, env, max(5, args.runs // 3))
    finally:
        srv.stop()
        tls_srv.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
