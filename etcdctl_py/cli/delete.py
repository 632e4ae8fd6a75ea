"""`etcdctl del`: DeleteRange requests."""

from __future__ import annotations

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args


def command() -> Command:
    return Command(
        "del [options] <key> [range_end]",
        short="Removes the specified key or range of keys [key, range_end)",
        run=run,
        flags=[
            Flag.bool("prefix", False, "delete keys with matching prefix"),
            Flag.bool("prev-kv", False, "return deleted key-value pairs"),
            Flag.bool("from-key", False, "delete keys that are greater than or equal to the given key using byte compare"),
        ],
    )


def delete_request(ctx: Context, args: list[str]):
    """Validate del's arguments and build the DeleteRangeRequest (etcdctl's getDelOp)."""
    from etcdctl_py.client.kv import key_range
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if len(args) == 0 or len(args) > 2:
        raise bad_args("del command needs one argument as key and an optional argument as range_end")
    prefix, from_key = ctx.get("prefix"), ctx.get("from-key")
    if prefix and from_key:
        raise bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one")
    req = rpc_pb2.DeleteRangeRequest(prev_kv=ctx.get("prev-kv"))
    key = args[0].encode("utf-8", "surrogateescape")
    if len(args) > 1:
        if prefix or from_key:
            raise bad_args("too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
        req.range_end = args[1].encode("utf-8", "surrogateescape")
    req.key, req.range_end = key_range(key, req.range_end, prefix=prefix, from_key=from_key)
    return req


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.cli.errors import from_exception
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    req = delete_request(ctx, ctx.args)
    s = g.setup(ctx)
    try:
        resp = s.client().unary("KV", "DeleteRange", req, rpc_pb2.DeleteRangeResponse)
        s.printer.delete(resp)
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    return 0
