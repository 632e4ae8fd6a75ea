"""`etcdctl endpoint health|status|hashkv [--cluster]`."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    root = Command(
        "endpoint <subcommand>",
        short="Endpoint related commands",
        persistent_flags=[
            Flag.bool("cluster", False, "use all endpoints from the cluster member list"),
        ],
    )
    root.add(
        Command("health", short="Checks the healthiness of endpoints specified in `--endpoints` flag", run=run_health),
        Command(
            "status",
            short="Prints out the status of endpoints specified in `--endpoints` flag",
            run=run_status,
            long="When --write-out is set to simple, this command prints out comma-separated status lists for "
            "each endpoint.\nThe items in the lists are endpoint, ID, version, db size, is leader, is "
            "learner, raft term, raft index, raft applied index, errors.\n",
        ),
        Command(
            "hashkv",
            short="Prints the KV history hash for each endpoint in --endpoints",
            run=run_hashkv,
            persistent_flags=[Flag.int("rev", 0, "maximum revision to hash (default: all revisions)", kind="int64")],
        ),
    )
    return root


def endpoints_from_cluster(ctx: Context, s: Any) -> list[str]:
    """--cluster: every member's client URLs (MemberList without credentials, as etcdctl 3.5.1 does)."""
    from etcdctl_py.cli import globals as g

    if not ctx.get("cluster"):
        return list(ctx.get("endpoints"))
    saved = ctx.values.get("_auth")
    ctx.values["_auth"] = None
    try:
        c = g._new_client(ctx)
    except ExitError as e:
        raise ExitError(EXIT_ERROR, e.message) from None  # etcdctl's endpointsFromCluster exits 1 on any of them
    finally:
        ctx.values["_auth"] = saved
    try:
        resp = request(
            lambda: c.cluster.member_list(timeout=s.command_timeout),
            wrap="failed to fetch endpoints from etcd cluster member list: {}",
        )
    finally:
        c.close()
    return [u for m in resp.members for u in m.clientURLs]


# ---------------------------------------------------------------- health

_ptr: str | None = None  # the health clients' Go pointer, one per process, made on the first warning
_ptr_lock = threading.Lock()  # the checks run on threads: they must agree on it


def _health_warn(go_error: str, authority: str, attempt: int = 0) -> None:
    """etcdctl 3.5.1's health clients log through a zap production logger named "client" (epoch ts)."""
    global _ptr
    from etcdctl_py.cli.globals import client_warn_line

    with _ptr_lock:
        if _ptr is None:
            import random  # only for a warning: `endpoint status` and friends start without it

            _ptr = f"0xc000{random.randrange(0x100000, 0xFFFFFF):06x}"
    client_warn_line(go_error, authority, attempt, ts=repr(time.time()), logger="client", ptr=_ptr)


def _check_one(ctx: Context, ep: str, timeout: float, out: list, lock: threading.Lock) -> None:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.client import Client
    from etcdctl_py.client.errors import EtcdError
    from etcdctl_py.gofmt import format_duration as go_duration
    from etcdctl_py.output.cluster_rows import EpHealth

    auth = ctx.values.get("_auth")
    tls = g.tls_config(ctx)
    try:
        cli = Client(
            [ep],
            dial_timeout=ctx.get("dial-timeout") / g.SECOND,
            command_timeout=timeout,
            keepalive_time=ctx.get("keepalive-time") / g.SECOND,
            keepalive_timeout=ctx.get("keepalive-timeout") / g.SECOND,
            tls=tls,
            user=auth[0] if auth else None,
            password=auth[1] if auth else None,
            warn_logger=_health_warn,
        )
    except Exception as e:  # noqa: BLE001 - reported as this endpoint's error
        with lock:
            out.append(EpHealth(ep, False, "", str(e)))
        return
    start = time.monotonic()
    deadline = start + timeout
    eh = EpHealth(ep, False, "")
    try:
        try:
            cli.kv.range(b"health", timeout=timeout)
            eh.health = True
        except EtcdError as e:
            if str(e) == "etcdserver: permission denied":
                eh.health = True
            else:
                eh.error = str(e)
        eh.took = go_duration(int((time.monotonic() - start) * 1e9))
        if eh.health:
            try:
                alarms = cli.maintenance.alarm_list(timeout=max(deadline - time.monotonic(), 0)).alarms
                if alarms:
                    eh.health = False
                    eh.error = "Active Alarm(s): " + "".join(
                        {1: "NOSPACE ", 2: "CORRUPT "}.get(a.alarm, "UNKNOWN ") for a in alarms
                    )
            except EtcdError:
                eh.health = False
                eh.error = "Unable to fetch the alarm list"
    finally:
        cli.close()
    with lock:
        out.append(eh)


def run_health(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    s = session(ctx)
    eps = endpoints_from_cluster(ctx, s)
    if eps:
        g.check_tls_files(ctx)  # etcdctl builds every endpoint's configuration before it checks any
    results: list = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_check_one, args=(ctx, ep, s.command_timeout, results, lock), daemon=True) for ep in eps
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    show(s.printer.endpoint_health, results)
    if any(h.error for h in results):
        sys.stdout.flush()
        raise ExitError(EXIT_ERROR, "unhealthy cluster")
    return 0


# ---------------------------------------------------------------- status / hashkv


def run_status(ctx: Context) -> int:
    from etcdctl_py.client.errors import EtcdError

    s = session(ctx)
    c = s.client()
    results, failed = [], False
    for ep in endpoints_from_cluster(ctx, s):
        try:
            results.append((ep, c.maintenance.status_of(ep, timeout=s.command_timeout)))
        except EtcdError as e:
            failed = True
            sys.stderr.write(f"Failed to get the status of endpoint {ep} ({e})\n")
            sys.stderr.flush()
    show(s.printer.endpoint_status, results)
    if failed:
        raise ExitError(EXIT_ERROR, None)
    return 0


def run_hashkv(ctx: Context) -> int:
    from etcdctl_py.client.errors import EtcdError

    s = session(ctx)
    c = s.client()
    results, last = [], None
    for ep in endpoints_from_cluster(ctx, s):
        try:
            results.append((ep, c.maintenance.hash_kv_of(ep, ctx.get("rev"), timeout=s.command_timeout)))
        except EtcdError as e:
            last = e
            sys.stderr.write(f"Failed to get the hash of endpoint {ep} ({e})\n")
            sys.stderr.flush()
    show(s.printer.endpoint_hashkv, results)
    if last is not None:
        raise ExitError(EXIT_ERROR, str(last))
    return 0
