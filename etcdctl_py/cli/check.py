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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, EXIT_INVALID_INPUT, ExitError, bad_feature, from_exception
from etcdctl_py.cli.verbkit import arg_bytes
from etcdctl_py.keyrange import prefix_end

if TYPE_CHECKING:
    from etcdctl_py.client import Client

ALIASES = {"s": "s", "small": "s", "m": "m", "medium": "m", "l": "l", "large": "l", "xl": "xl", "xLarge": "xl"}
PERF = {"s": (150, 50, 60), "m": (1000, 200, 60), "l": (8000, 500, 60), "xl": (15000, 1000, 60)}
DATASCALE = {"s": (10000, 1024, 50), "m": (100000, 1024, 200), "l": (1000000, 1024, 500), "xl": (3000000, 1024, 1000)}


def _shared_flags(load_usage: str, prefix: str) -> list[Flag]:
    return [
        Flag.string("load", "s", load_usage),
        Flag.string(
            "prefix", prefix, "The prefix for writing the " + load_usage.split("'s ")[0].split("The ")[1] + "'s keys."
        ),
        Flag.bool("auto-compact", False, "Compact storage with last revision after test is finished."),
        Flag.bool("auto-defrag", False, "Defragment storage after test is finished."),
    ]


def command() -> Command:
    check = Command("check <subcommand>", short="commands for checking properties of the etcd cluster")
    perf = Command(
        "perf [options]",
        short="Check the performance of the etcd cluster",
        run=run_perf,
        flags=_shared_flags(
            "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)",
            "/etcdctl-check-perf/",
        ),
    )
    datascale = Command(
        "datascale [options]",
        short="Check the memory usage of holding data for different workloads on a given server endpoint.",
        long="If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint "
        "will be used.",
        run=run_datascale,
        flags=_shared_flags(
            "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)",
            "/etcdctl-check-datascale/",
        ),
    )
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

    def start(self) -> TextBar:
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

    def put(self, c: Client, key: bytes, value: bytes) -> None:
        """One timed Put, its latency or its error counted."""
        st = time.monotonic()
        try:
            c.kv.put(key, value, timeout=None)
            err = None
        except Exception as e:  # noqa: BLE001 - counted like etcdctl's report
            err = str(e)
        self.add(time.monotonic() - st, err)


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


def _clients(ctx: Context, n: int) -> list[Client]:
    from etcdctl_py.cli import globals as g

    return [g._new_client(ctx) for _ in range(n)]


def _under(prefix: bytes) -> tuple[bytes, bytes]:
    """The key range of --prefix (every key for an empty one)."""
    return prefix, prefix_end(prefix) if prefix else b"\x00"


def _prefix_is_empty(c: Client, prefix: bytes, quoted_hint: bool) -> None:
    from etcdctl_py.gofmt import quote

    try:
        resp = c.kv.range(*_under(prefix), limit=1, timeout=None)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    if resp.kvs:
        p = prefix.decode("utf-8", "surrogateescape")
        hint = f"'etcdctl del --prefix {p}'" if quoted_hint else f"etcdctl del --prefix {p}"
        raise ExitError(EXIT_INVALID_INPUT, f"prefix {quote(p)} has keys. Delete with {hint} first")


def _cleanup(c: Client, prefix: bytes, compact: bool) -> None:
    try:
        resp = c.kv.delete(*_under(prefix), timeout=30)
    except Exception as e:  # noqa: BLE001 - etcdctl reports and carries on
        sys.stdout.write(f"FAIL: Cleanup failed during key deletion: ERROR({e})\n")
        return
    if compact:
        _compact(c, resp.header.revision)


def _compact(c: Client, rev: int) -> None:
    sys.stdout.write(f"Compacting with revision {rev}\n")
    sys.stdout.flush()
    try:
        c.kv.compact(rev, physical=True, timeout=30)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    sys.stdout.write(f"Compacted with revision {rev}\n")


def _defrag_all(c: Client) -> None:
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

    model = _load(ctx)
    limit, nclients, duration = PERF[model]
    g.setup(ctx)
    clients = _clients(ctx, nclients)
    prefix = arg_bytes(ctx.get("prefix"))
    _prefix_is_empty(clients[0], prefix, quoted_hint=True)
    report, took = _perf_load(clients, prefix, limit, duration)
    _cleanup(clients[0], prefix, ctx.get("auto-compact"))
    if ctx.get("auto-defrag"):
        _defrag_all(clients[0])
    ok = not _errors_block(report)
    ok = _perf_verdict(report, took, limit) and ok
    sys.stdout.write("PASS\n" if ok else "FAIL\n")
    sys.stdout.flush()
    _close_all(clients)
    return 0 if ok else EXIT_ERROR


class _RateLimiter:
    """golang.org/x/time/rate with burst 1: one request every 1/limit s, until `end`."""

    def __init__(self, limit: int, end: float):
        self._gap, self._end = 1.0 / limit, end
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Wait for the next slot; False once the time is over."""
        with self._lock:
            t = max(self._next, time.monotonic())
            self._next = t + self._gap
        if t >= self._end:
            return False
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True


def _perf_load(clients: list[Client], prefix: bytes, limit: int, duration: int) -> tuple[Report, float]:
    """`duration` seconds of rate-limited puts (256-byte keys, 1 KiB values) from every client, with a bar of the
    seconds; on SIGINT the keys are deleted first, as etcdctl 3.5 does. The report, and the seconds it took."""
    bar = TextBar(duration).start()
    report = Report()
    limiter = _RateLimiter(limit, time.monotonic() + duration)
    started = time.monotonic()
    stop = threading.Event()
    value = bytes(1024)

    def worker(c: Client) -> None:
        while limiter.take():
            report.put(c, _random_key(prefix, 256), value)

    def ticker() -> None:
        for _ in range(duration):
            if stop.wait(1.0):
                return
            bar.add(1)

    threading.Thread(target=ticker, daemon=True).start()
    try:
        _run_all(clients, worker)
    except KeyboardInterrupt:
        stop.set()
        bar.stop()
        _cleanup(clients[0], prefix, False)
        raise
    took = time.monotonic() - started
    stop.set()
    bar.stop()
    return report, took


def _perf_verdict(report: Report, took: float, limit: int) -> bool:
    """etcdctl's three checks, one line each: throughput above 90% of the limit, the slowest request at most 0.5 s,
    the latencies' standard deviation at most 0.1 s."""
    rps = len(report.lats) / took if took > 0 else 0.0
    slowest = max(report.lats, default=0.0)
    stddev = statistics.pstdev(report.lats) if report.lats else 0.0
    checks = [
        (
            rps / limit > 0.9,
            f"PASS: Throughput is {int(rps) + 1} writes/s",
            f"FAIL: Throughput too low: {int(rps) + 1} writes/s",
        ),
        (slowest <= 0.5, f"PASS: Slowest request took {slowest:f}s", f"Slowest request took too long: {slowest:f}s"),
        (stddev <= 0.1, f"PASS: Stddev is {stddev:f}s", f"Stddev too high: {stddev:f}s"),
    ]
    for passed, good, bad in checks:
        sys.stdout.write((good if passed else bad) + "\n")
    return all(passed for passed, _, _ in checks)


def _run_all(clients: list[Client], worker: Callable[[Client], None]) -> None:
    """One worker thread per client, until every one is done (joined in short waits, so that SIGINT gets through)."""
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)


def _close_all(clients: list[Client]) -> None:
    for c in clients:
        c.close()


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
                return float(line[len(key) :].strip())
            except ValueError as e:
                sys.stdout.write(f"parse error: {e}\n")
                return 0.0
    sys.stdout.write(f"could not find: {key}\n")
    return 0.0


def run_datascale(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    model = _load(ctx)
    limit, kv_size, nclients = DATASCALE[model]
    g.setup(ctx)
    clients = _clients(ctx, nclients)
    endpoint = ctx.get("endpoints")[0].strip()
    prefix = arg_bytes(ctx.get("prefix"))
    _prefix_is_empty(clients[0], prefix, quoted_hint=False)
    before = _memory(endpoint, ctx, "before")
    if before == 0:
        return EXIT_ERROR
    sys.stdout.write(
        f"Start data scale check for work load [{limit} key-value pairs, {kv_size} bytes per "
        f"key-value, {nclients} concurrent clients].\n"
    )
    report = _datascale_load(clients, prefix, limit)
    after = _memory(endpoint, ctx, "after")
    if after == 0:
        return EXIT_ERROR
    try:
        dresp = clients[0].kv.delete(*_under(prefix), timeout=None)
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
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
    _close_all(clients)
    return 0


def _memory(endpoint: str, ctx: Context, when: str) -> float:
    """The member's resident memory `when` ("before"/"after") the puts; 0 after etcdctl's FAIL line."""
    rss = resident_memory(endpoint, ctx)
    if rss == 0:
        sys.stdout.write(f"FAIL: Could not read process_resident_memory_bytes {when} the put operations.\n")
        sys.stdout.flush()
    return rss


def _datascale_load(clients: list[Client], prefix: bytes, limit: int) -> Report:
    """`limit` puts (512-byte keys and values) shared by the clients, as fast as they go, with a bar of the count."""
    bar = TextBar(limit).start()
    report = Report()
    value = bytes(512)
    remaining = [limit]
    lock = threading.Lock()

    def worker(c: Client) -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            report.put(c, _random_key(prefix, 512), value)
            bar.add(1)

    _run_all(clients, worker)
    bar.finish()
    return report


def _go_float2(x: float) -> str:
    """strconv.FormatFloat(x, 'f', 2, 64) (round half to even on the binary value, like Go)."""
    if math.isnan(x):
        return "NaN"
    return f"{x:.2f}"
