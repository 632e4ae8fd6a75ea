"""`etcdctl elect <election-name> [proposal]` (campaign, hold until SIGINT/SIGTERM, resign) and
`elect -l <election-name>` (print each new leader)."""

from __future__ import annotations

import sys
import threading

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args
from etcdctl_py.cli.lock import wait_for_signal
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    return Command("elect <election-name> [proposal]", short="Observes and participates in leader election",
                   run=run, flags=[Flag.bool("listen", False, "observation mode", "l")])


def run(ctx: Context) -> int:
    args = ctx.args
    if len(args) not in (1, 2):
        raise bad_args("elect takes one election name argument and an optional proposal argument")
    s = session(ctx)
    c = s.client()
    if len(args) == 1:
        if not ctx.get("listen"):
            raise bad_args("no proposal argument but -l not set")
        return observe(s, c, args[0])
    if ctx.get("listen"):
        raise bad_args("proposal given but -l is set")
    return campaign(s, c, args[0], args[1])


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def observe(s, c, name: str) -> int:  # noqa: ANN001
    from etcdctl_py.client.session import Session
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    sigs = wait_for_signal()
    sess = request(lambda: Session(c, 60))
    state: dict = {}
    stream = c.election.observe(_b(name))

    def pump() -> None:
        try:
            for lr in stream:
                resp = rpc_pb2.RangeResponse(kvs=[lr.kv])
                resp.header.CopyFrom(lr.header)
                show(s.printer.get, resp)
                sys.stdout.buffer.flush()
        except BaseException as e:  # noqa: BLE001
            state["err"] = e
        state["done"] = True

    threading.Thread(target=pump, daemon=True).start()
    while not sigs.wait(0.1):
        if state.get("done"):
            sess.close()
            if isinstance(state.get("err"), ExitError):
                raise state["err"]
            raise ExitError(EXIT_ERROR, "elect: observer lost")
    stream.cancel() if hasattr(stream, "cancel") else None
    sess.close()
    return 0


def campaign(s, c, name: str, proposal: str) -> int:  # noqa: ANN001
    from etcdctl_py.client.session import Session

    sigs = wait_for_signal()
    sess = request(lambda: Session(c, 60))
    result: dict = {}

    def run_campaign() -> None:
        try:
            result["resp"] = c.election.campaign(_b(name), sess.lease_id, _b(proposal), timeout=None)
        except Exception as e:  # noqa: BLE001
            result["err"] = e

    t = threading.Thread(target=run_campaign, daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.05)
        if sigs.is_set():
            sess.close()
            raise ExitError(EXIT_ERROR, "context canceled")
    if "err" in result:
        sess.close()
        request(lambda: (_ for _ in ()).throw(result["err"]))
    leader = result["resp"].leader
    resp = request(lambda: c.kv.range(leader.key, timeout=None))
    show(s.printer.get, resp)
    sys.stdout.buffer.flush()
    while not sigs.wait(0.1):
        if sess.done.is_set():
            raise ExitError(EXIT_ERROR, "elect: session expired")
    request(lambda: c.election.resign(leader))
    sess.close()
    return 0
