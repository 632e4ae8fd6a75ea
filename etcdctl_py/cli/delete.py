"""`etcdctl del`: DeleteRange requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import key_and_end, prefix_or_from_key, print_reply, verb

if TYPE_CHECKING:
    from etcdctl_py.proto.etcdserverpb import rpc_pb2


def command() -> Command:
    return verb(
        "del [options] <key> [range_end]",
        "Removes the specified key or range of keys [key, range_end)",
        run,
        Flag.bool("prefix", False, "delete keys with matching prefix"),
        Flag.bool("prev-kv", False, "return deleted key-value pairs"),
        Flag.bool("from-key", False, "delete keys that are greater than or equal to the given key using byte compare"),
    )


def delete_request(ctx: Context, args: list[str]) -> rpc_pb2.DeleteRangeRequest:
    """Validate del's arguments and build the DeleteRangeRequest (etcdctl's getDelOp)."""
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if len(args) == 0 or len(args) > 2:
        raise bad_args("del command needs one argument as key and an optional argument as range_end")
    key, end = key_and_end(args, *prefix_or_from_key(ctx))
    return rpc_pb2.DeleteRangeRequest(key=key, range_end=end, prev_kv=ctx.get("prev-kv"))


def run(ctx: Context) -> int:
    req = delete_request(ctx, ctx.args)
    return print_reply(ctx, lambda s: s.client().kv.delete_request(req), lambda p, resp: p.delete(resp))
