"""`etcdctl check perf` and `etcdctl check datascale` (etcdctl 3.5.1).

perf: for 60 s, put random 256-byte keys with 1 KiB values under --prefix, rate-limited (s 150/s with 50 clients,
m 1000/200, l 8000/500, xl 15000/1000), then judge throughput (> 90% of the limit), the slowest request (<= 0.5 s)
and the latency stddev (<= 0.1 s); delete the keys (and compact/defrag if asked).
datascale: put N KVs (s 10k .. xl 3M) as fast as the clients go and report how much the server's resident memory
(`process_resident_memory_bytes` from /metrics of the first endpoint) grew.

Progress is cheggaaa/pb.v1's plain-text bar as etcdctl prints it when stdout is not a terminal (`\\r 13 / 60
21.67% 00m46s`), refreshed every 200 ms. Each client is its own connection, like etcdctl's.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, EXIT_INVALID_INPUT, ExitError, bad_feature, from_exception

ALIASES = {"s": "s", "small": "s", "m": "m", "medium": "m", "l": "l", "large": "l", "xl": "xl", "xLarge": "xl"}
PERF = {"s": (150, 50, 60), "m": (1000, 200, 60), "l": (8000, 500, 60), "xl": (15000, 1000, 60)}
DATASCALE = {"s": (10000, 1024, 50), "m": (100000, 1024, 200), "l": (1000000, 1024, 500),
             "xl": (3000000, 1024, 1000)}


def _shared_flags(load_usage: str, prefix: str) -> list[Flag]:
    return [
        Flag.string("load", "s", load_usage),
        Flag.string("prefix", prefix, "The prefix for writing the " + load_usage.split("'s ")[0].split("The ")[1]
                    + "'s keys."),
        Flag.bool("auto-compact", False, "Compact storage with last revision after test is finished."),
        Flag.bool("auto-defrag", False, "Defragment storage after test is finished."),
    ]


def command() -> Command:
    check = Command("check <subcommand>", short="commands for checking properties of the etcd cluster")
    perf = Command("perf [options]", short="Check the performance of the etcd cluster", run=run_perf,
                   flags=_shared_flags("The performance check's workload model. Accepted workloads: s(small), "
                                       "m(medium), l(large), xl(xLarge)", "/etcdctl-check-perf/"))
    datascale = Command(
        "datascale [options]",
        short="Check the memory usage of holding data for different workloads on a given server endpoint.",
        long="If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint "
             "will be used.",
        run=run_datascale,
        flags=_shared_flags("The datascale check's workload model. Accepted workloads: s(small), m(medium), "
                            "l(large), xl(xLarge)", "/etcdctl-check-datascale/"))
    check.add(perf, datascale)
    return check


# ---------------------------------------------------------------- pb.v1 text progress

def pb_duration(seconds: int) -> str:
    """pb.v1's U_DURATION text: 00m46s, 1h02m03s."""
    out = ""
    if seconds > 86400:
        out += f"{seconds // 86400}d"
        seconds %= 86400
    if seconds > 3600:
        out += f"{seconds // 3600}h"
        seconds %= 3600
    return out + f"{seconds // 60:02d}m{seconds % 60:02d}s"


class TextBar:
    """cheggaaa/pb.v1 with Format("Bom !") writing to a non-terminal: counters, percent and time left."""

    def __init__(self, total: int, out: Any = None):
        self.total, self.current = total, 0
        self.out = out or sys.stdout
        self._start = self._changed = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "TextBar":
        self._print()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.current += n
            self._changed = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._print()

    def _line(self, final: bool) -> str:
        with self._lock:
            cur, changed = self.current, self._changed
        percent = cur / (self.total / 100) if self.total > 0 else cur / 100
        out = f" {cur} / {self.total}  {percent:6.02f}%"
        now = time.monotonic()
        if final:
            out += f" {int(now - self._start)}s"
        elif cur > 0:
            per = (changed - self._start) / cur
            left = (self.total - cur) * per - (now - changed)
            if int(left) > 0:
                out += " " + pb_duration(int(left))
        return out

    def _print(self, final: bool = False) -> None:
        self.out.write("\r" + self._line(final) + ("\n" if final else ""))
        self.out.flush()

    def stop(self) -> None:
        """Stop refreshing without a final line (etcdctl's perf check ends before its bar finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def finish(self) -> None:
        self.stop()
        self._print(final=True)


# ---------------------------------------------------------------- workload

@dataclass
class Report:
    lats: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, took: float, err: str | None) -> None:
        with self.lock:
            if err is None:
                self.lats.append(took)
            else:
                self.errors[err] = self.errors.get(err, 0) + 1


def _random_key(prefix: bytes, ksize: int) -> bytes:
    """binary.PutVarint(k, rand.Int63n(MaxInt64)) into a zeroed ksize buffer, after the prefix."""
    n = random.randrange(2**63 - 1)
    ux = n << 1  # zig-zag of a non-negative number
    buf = bytearray()
    while ux >= 0x80:
        buf.append((ux & 0x7F) | 0x80)
        ux >>= 7
    buf.append(ux)
    return prefix + bytes(buf) + bytes(ksize - len(buf))


def _clients(ctx: Context, n: int) -> list[Any]:
    from etcdctl_py.cli import globals as g

    return [g._new_client(ctx) for _ in range(n)]


def _prefix_is_empty(c: Any, prefix: bytes, what: str, quoted_hint: bool) -> None:
    from etcdctl_py.client.kv import prefix_end
    from etcdctl_py.gofmt import quote

    try:
        resp = c.kv.range(prefix, prefix_end(prefix) if prefix else b"\x00", limit=1, timeout=None)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    if resp.kvs:
        p = prefix.decode("utf-8", "surrogateescape")
        hint = f"'etcdctl del --prefix {p}'" if quoted_hint else f"etcdctl del --prefix {p}"
        raise ExitError(EXIT_INVALID_INPUT, f"prefix {quote(p)} has keys. Delete with {hint} first")
    del what


def _cleanup(c: Any, prefix: bytes, compact: bool) -> None:
    from etcdctl_py.client.kv import prefix_end

    try:
        resp = c.kv.delete(prefix, prefix_end(prefix) if prefix else b"\x00", timeout=30)
    except Exception as e:  # noqa: BLE001 - etcdctl reports and carries on
        sys.stdout.write(f"FAIL: Cleanup failed during key deletion: ERROR({e})\n")
        return
    if compact:
        _compact(c, resp.header.revision)


def _compact(c: Any, rev: int) -> None:
    sys.stdout.write(f"Compacting with revision {rev}\n")
    sys.stdout.flush()
    try:
        c.kv.compact(rev, physical=True, timeout=30)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    sys.stdout.write(f"Compacted with revision {rev}\n")


def _defrag_all(c: Any) -> None:
    for ep in c.endpoints:
        sys.stdout.write(f'Defragmenting "{ep.raw}"\n')
        sys.stdout.flush()
        try:
            c.maintenance.defragment(ep.raw, timeout=30)
        except Exception as e:  # noqa: BLE001
            raise from_exception(e) from None
        sys.stdout.write(f'Defragmented "{ep.raw}"\n')


def _errors_block(r: Report) -> bool:
    if not r.errors:
        return False
    sys.stdout.write("FAIL: too many errors\n")
    for k, v in r.errors.items():
        sys.stdout.write(f"FAIL: ERROR({k}) -> {v}\n")
    return True


def _load(ctx: Context) -> str:
    model = ALIASES.get(ctx.get("load"))
    if model is None:
        raise bad_feature(f"unknown load option {ctx.get('load')}")
    return model


def run_perf(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    model = _load(ctx)
    limit, nclients, duration = PERF[model]
    g.setup(ctx)
    clients = _clients(ctx, nclients)
    prefix = ctx.get("prefix").encode("utf-8", "surrogateescape")
    _prefix_is_empty(clients[0], prefix, "perf", quoted_hint=True)
    value = bytes(1024)
    bar = TextBar(duration).start()
    report = Report()
    end = time.monotonic() + duration
    started = time.monotonic()
    lock = threading.Lock()
    next_slot = [time.monotonic()]

    def take_token() -> bool:
        """golang.org/x/time/rate with burst 1: one request every 1/limit s, until the 60 s are over."""
        with lock:
            t = max(next_slot[0], time.monotonic())
            next_slot[0] = t + 1.0 / limit
        if t >= end:
            return False
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True

    def worker(c: Any) -> None:
        while take_token():
            req = rpc_pb2.PutRequest(key=_random_key(prefix, 256), value=value)
            st = time.monotonic()
            try:
                c.unary("KV", "Put", req, rpc_pb2.PutResponse, timeout=None)
                err = None
            except Exception as e:  # noqa: BLE001 - counted like etcdctl's report
                err = str(e)
            report.add(time.monotonic() - st, err)

    def ticker() -> None:
        for _ in range(duration):
            if stop.wait(1.0):
                return
            bar.add(1)

    stop = threading.Event()
    threading.Thread(target=ticker, daemon=True).start()
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        bar.stop()
        _cleanup(clients[0], prefix, False)  # etcdctl 3.5 cleans up on SIGINT
        raise
    total = time.monotonic() - started
    stop.set()
    bar.stop()
    _cleanup(clients[0], prefix, ctx.get("auto-compact"))
    if ctx.get("auto-defrag"):
        _defrag_all(clients[0])
    ok = not _errors_block(report)
    rps = len(report.lats) / total if total > 0 else 0.0
    slowest = max(report.lats, default=0.0)
    stddev = statistics.pstdev(report.lats) if report.lats else 0.0
    if rps / limit <= 0.9:
        sys.stdout.write(f"FAIL: Throughput too low: {int(rps) + 1} writes/s\n")
        ok = False
    else:
        sys.stdout.write(f"PASS: Throughput is {int(rps) + 1} writes/s\n")
    if slowest > 0.5:
        sys.stdout.write(f"Slowest request took too long: {slowest:f}s\n")
        ok = False
    else:
        sys.stdout.write(f"PASS: Slowest request took {slowest:f}s\n")
    if stddev > 0.1:
        sys.stdout.write(f"Stddev too high: {stddev:f}s\n")
        ok = False
    else:
        sys.stdout.write(f"PASS: Stddev is {stddev:f}s\n")
    sys.stdout.write("PASS\n" if ok else "FAIL\n")
    sys.stdout.flush()
    for c in clients:
        c.close()
    return 0 if ok else EXIT_ERROR


def resident_memory(endpoint: str, ctx: Context) -> float:
    """process_resident_memory_bytes from http(s)://<endpoint>/metrics; 0 (after etcdctl's message) on failure."""
    import ssl
    import urllib.request

    host = endpoint if endpoint.startswith(("http://", "https://")) else "http://" + endpoint
    url = host + "/metrics"
    context = None
    if host.startswith("https://"):
        context = ssl.create_default_context(cafile=ctx.get("cacert") or None)
        if ctx.get("insecure-skip-tls-verify"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            context.load_cert_chain(ctx.get("cert"), ctx.get("key"))
        except (OSError, ssl.SSLError) as e:
            sys.stdout.write(f"client certificate error: {e}\n")
            return 0.0
    try:
        with urllib.request.urlopen(url, timeout=30, context=context) as r:
            body = r.read().decode("utf-8", "replace")
    except Exception as e:  # noqa: BLE001 - etcdctl prints the fetch error and reports 0
        sys.stdout.write(f"fetch error: {e}\n")
        return 0.0
    key = "process_resident_memory_bytes"
    for line in body.split("\n"):
        if line.startswith(key):
            try:
                return float(line[len(key):].strip())
            except ValueError as e:
                sys.stdout.write(f"parse error: {e}\n")
                return 0.0
    sys.stdout.write(f"could not find: {key}\n")
    return 0.0


def run_datascale(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    model = _load(ctx)
    limit, kv_size, nclients = DATASCALE[model]
    g.setup(ctx)
    clients = _clients(ctx, nclients)
    eps = [e.strip() for e in ctx.get("endpoints")]
    prefix = ctx.get("prefix").encode("utf-8", "surrogateescape")
    _prefix_is_empty(clients[0], prefix, "datascale", quoted_hint=False)
    before = resident_memory(eps[0], ctx)
    if before == 0:
        sys.stdout.write("FAIL: Could not read process_resident_memory_bytes before the put operations.\n")
        sys.stdout.flush()
        return EXIT_ERROR
    sys.stdout.write(f"Start data scale check for work load [{limit} key-value pairs, {kv_size} bytes per "
                     f"key-value, {nclients} concurrent clients].\n")
    bar = TextBar(limit).start()
    report = Report()
    value = bytes(512)
    remaining = [limit]
    lock = threading.Lock()

    def worker(c: Any) -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            req = rpc_pb2.PutRequest(key=_random_key(prefix, 512), value=value)
            st = time.monotonic()
            try:
                c.unary("KV", "Put", req, rpc_pb2.PutResponse, timeout=None)
                err = None
            except Exception as e:  # noqa: BLE001
                err = str(e)
            report.add(time.monotonic() - st, err)
            bar.add(1)

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    bar.finish()
    after = resident_memory(eps[0], ctx)
    if after == 0:
        sys.stdout.write("FAIL: Could not read process_resident_memory_bytes after the put operations.\n")
        sys.stdout.flush()
        return EXIT_ERROR
    from etcdctl_py.client.kv import prefix_end

    try:
        dresp = clients[0].kv.delete(prefix, prefix_end(prefix) if prefix else b"\x00", timeout=None)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    if ctx.get("auto-compact"):
        _compact(clients[0], dresp.header.revision)
    if ctx.get("auto-defrag"):
        _defrag_all(clients[0])
    if _errors_block(report):
        sys.stdout.flush()
        return EXIT_ERROR
    mb = (after - before) / (1024 * 1024)
    sys.stdout.write(f"PASS: Approximate system memory used : {_go_float2(mb)} MB.\n")
    sys.stdout.flush()
    for c in clients:
        c.close()
    return 0


def _go_float2(x: float) -> str:
    """strconv.FormatFloat(x, 'f', 2, 64) (round half to even on the binary value, like Go)."""
    if math.isnan(x):
        return "NaN"
    return f"{x:.2f}"
