"""`etcdctl elect <election-name> [proposal]` (campaign, hold until SIGINT/SIGTERM, resign) and
`elect -l <election-name>` (print each new leader)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args
from etcdctl_py.cli.lock import hold, until_signal, wait_for_signal
from etcdctl_py.cli.verbkit import arg_bytes, request, session, show

if TYPE_CHECKING:
    from etcdctl_py.cli.globals import Session as GlobalSession
    from etcdctl_py.client import Client


def command() -> Command:
    return Command(
        "elect <election-name> [proposal]",
        short="Observes and participates in leader election",
        run=run,
        flags=[Flag.bool("listen", False, "observation mode", "l")],
    )


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


def observe(s: GlobalSession, c: Client, name: str) -> int:
    """Print the leader's key-value at each change of leader, until SIGINT/SIGTERM."""
    from etcdctl_py.client.session import Session
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    sigs = wait_for_signal()
    sess = request(lambda: Session(c, 60))
    state: dict[str, Any] = {}
    stream = c.election.observe(arg_bytes(name))

    def pump() -> None:
        try:
            for lr in stream:
                resp = rpc_pb2.RangeResponse(kvs=[lr.kv])
                resp.header.CopyFrom(lr.header)
                show(s.printer.get, resp)
                sys.stdout.buffer.flush()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which ends the verb with it
            state["err"] = e
        state["done"] = True

    threading.Thread(target=pump, daemon=True).start()
    while not sigs.wait(0.1):
        if state.get("done"):
            sess.close()
            if isinstance(state.get("err"), ExitError):
                raise state["err"]
            raise ExitError(EXIT_ERROR, "elect: observer lost")
    sess.close()
    return 0


def campaign(s: GlobalSession, c: Client, name: str, proposal: str) -> int:
    """Campaign until elected, print the leader key-value, hold leadership until SIGINT/SIGTERM, resign."""
    from etcdctl_py.client.session import Session

    sigs = wait_for_signal()
    sess = request(lambda: Session(c, 60))
    won = until_signal(
        lambda: c.election.campaign(arg_bytes(name), sess.lease_id, arg_bytes(proposal), timeout=None), sigs, sess
    )
    leader = won.leader
    resp = request(lambda: c.kv.range(leader.key, timeout=None))
    show(s.printer.get, resp)
    sys.stdout.buffer.flush()
    return hold(sigs, sess, "elect: session expired", lambda: c.election.resign(leader))
