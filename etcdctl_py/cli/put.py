"""`etcdctl put`: Put requests, value from the argument or all of stdin."""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args

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
    return Command(
        "put [options] <key> <value> (<value> can also be given from stdin)",
        short="Puts the given key into the store",
        long=LONG,
        run=run,
        flags=[
            Flag.string("lease", "0", "lease ID (in hexadecimal) to attach to the key"),
            Flag.bool("prev-kv", False, "return the previous key-value pair before modification"),
            Flag.bool("ignore-value", False, "updates the key using its current value"),
            Flag.bool("ignore-lease", False, "updates the key using its current lease"),
        ],
    )


def put_request(ctx: Context, args: list[str], stdin: bool = True):
    """Validate put's arguments and build the PutRequest (etcdctl's getPutOp)."""
    from etcdctl_py.gofmt import parse_int
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if not args:
        raise bad_args(NEEDS)
    key = args[0].encode("utf-8", "surrogateescape")
    ignore_value = ctx.get("ignore-value")
    if ignore_value and len(args) > 1:
        raise bad_args("put command needs only 1 argument when 'ignore-value' is set")
    value = b""
    if not ignore_value:
        if len(args) > 1:
            value = args[1].encode("utf-8", "surrogateescape")
        else:
            data = sys.stdin.buffer.read() if (stdin and sys.stdin is not None) else b""
            if not data:
                raise bad_args(NEEDS)
            value = data
    try:
        lease = parse_int(ctx.get("lease"), 16, 64)
    except ValueError as e:
        raise bad_args(f"bad lease ID ({e}), expecting ID in Hex") from None
    return rpc_pb2.PutRequest(key=key, value=value, lease=lease, prev_kv=ctx.get("prev-kv"),
                              ignore_value=ignore_value, ignore_lease=ctx.get("ignore-lease"))


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.cli.errors import from_exception
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    req = put_request(ctx, ctx.args)
    s = g.setup(ctx)
    try:
        c = s.client()
        resp = c.unary("KV", "Put", req, rpc_pb2.PutResponse)
        s.printer.put(resp)
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    return 0
