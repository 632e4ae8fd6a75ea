"""`etcdctl put`: Put requests, value from the argument or all of stdin."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import arg_bytes, print_reply, verb

if TYPE_CHECKING:
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

LONG = """
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
"""

NEEDS = "put command needs 1 argument and input from stdin or 2 arguments"


def command() -> Command:
    return verb(
        "put [options] <key> <value> (<value> can also be given from stdin)",
        "Puts the given key into the store",
        run,
        Flag.string("lease", "0", "lease ID (in hexadecimal) to attach to the key"),
        Flag.bool("prev-kv", False, "return the previous key-value pair before modification"),
        Flag.bool("ignore-value", False, "updates the key using its current value"),
        Flag.bool("ignore-lease", False, "updates the key using its current lease"),
        long=LONG,
    )


def put_request(ctx: Context, args: list[str], stdin: bool = True) -> rpc_pb2.PutRequest:
    """Validate put's arguments and build the PutRequest (etcdctl's getPutOp)."""
    from etcdctl_py.gofmt import parse_int
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if not args:
        raise bad_args(NEEDS)
    key = arg_bytes(args[0])
    ignore_value = ctx.get("ignore-value")
    if ignore_value and len(args) > 1:
        raise bad_args("put command needs only 1 argument when 'ignore-value' is set")
    value = b""
    if not ignore_value:
        if len(args) > 1:
            value = arg_bytes(args[1])
        else:
            data = sys.stdin.buffer.read() if (stdin and sys.stdin is not None) else b""
            if not data:
                raise bad_args(NEEDS)
            value = data
    try:
        lease = parse_int(ctx.get("lease"), 16, 64)
    except ValueError as e:
        raise bad_args(f"bad lease ID ({e}), expecting ID in Hex") from None
    return rpc_pb2.PutRequest(
        key=key,
        value=value,
        lease=lease,
        prev_kv=ctx.get("prev-kv"),
        ignore_value=ignore_value,
        ignore_lease=ctx.get("ignore-lease"),
    )


def run(ctx: Context) -> int:
    req = put_request(ctx, ctx.args)
    return print_reply(ctx, lambda s: s.client().kv.put_request(req), lambda p, resp: p.put(resp))
