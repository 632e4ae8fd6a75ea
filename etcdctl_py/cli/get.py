"""`etcdctl get`: Range requests."""

from __future__ import annotations

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, ExitError, bad_args, bad_feature
from etcdctl_py.cli.verbkit import verb

SORT_ORDERS = {"": 0, "ASCEND": 1, "DESCEND": 2}
SORT_TARGETS = {"": 0, "KEY": 0, "VERSION": 1, "CREATE": 2, "MODIFY": 3, "VALUE": 4}


def command() -> Command:
    return verb(
        "get [options] <key> [range_end]",
        "Gets the key or a range of keys",
        run,
        Flag.string("consistency", "l", "Linearizable(l) or Serializable(s)"),
        Flag.string("order", "", "Order of results; ASCEND or DESCEND (ASCEND by default)"),
        Flag.string("sort-by", "", "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION"),
        Flag.int("limit", 0, "Maximum number of results", kind="int64"),
        Flag.bool("prefix", False, "Get keys with matching prefix"),
        Flag.bool("from-key", False, "Get keys that are greater than or equal to the given key using byte compare"),
        Flag.int("rev", 0, "Specify the kv revision", kind="int64"),
        Flag.bool("keys-only", False, "Get only the keys"),
        Flag.bool("count-only", False, "Get only the count"),
        Flag.bool("print-value-only", False, 'Only write values when using the "simple" output format'),
    )


def range_request(ctx: Context, args: list[str]):
    """Validate get's arguments and build the RangeRequest (etcdctl's getGetOp), in etcdctl's order."""
    from etcdctl_py.client.kv import key_range
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if not args:
        raise bad_args("get command needs one argument as key and an optional argument as range_end")
    prefix, from_key = ctx.get("prefix"), ctx.get("from-key")
    if prefix and from_key:
        raise bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one")
    if ctx.get("keys-only") and ctx.get("count-only"):
        raise bad_args("`--keys-only` and `--count-only` cannot be set at the same time, choose one")
    consistency = ctx.get("consistency")
    if consistency not in ("s", "l"):
        from etcdctl_py.gofmt import quote

        raise bad_feature(f"unknown consistency flag {quote(consistency)}")
    req = rpc_pb2.RangeRequest(serializable=consistency == "s")
    key = args[0].encode("utf-8", "surrogateescape")
    if len(args) > 1:
        if prefix or from_key:
            raise bad_args("too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
        req.range_end = args[1].encode("utf-8", "surrogateescape")
    req.limit = ctx.get("limit")
    if ctx.get("rev") > 0:
        req.revision = ctx.get("rev")
    order = ctx.get("order").upper()
    if order not in SORT_ORDERS:
        raise bad_feature(f"bad sort order {ctx.get('order')}")
    target = ctx.get("sort-by").upper()
    if target not in SORT_TARGETS:
        raise bad_feature(f"bad sort target {ctx.get('sort-by')}")
    sort_order, sort_target = SORT_ORDERS[order], SORT_TARGETS[target]
    if sort_target == 0 and sort_order == 1:
        sort_order = 0  # the Go client drops ASCEND-by-KEY: it is the server's natural order
    req.sort_order, req.sort_target = sort_order, sort_target  # type: ignore[assignment]  # the enums' int values
    req.key, req.range_end = key_range(key, req.range_end, prefix=prefix, from_key=from_key)
    req.keys_only = ctx.get("keys-only")
    req.count_only = ctx.get("count-only")
    return req


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.cli.errors import from_exception

    req = range_request(ctx, ctx.args)
    s = g.setup(ctx)
    try:
        raw = s.client().kv.range_raw(req)
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    p = s.printer
    if ctx.get("count-only") and p.name != "fields":
        raise ExitError(EXIT_BAD_ARGS, "--count-only is only for `--write-out=fields`")
    value_only = ctx.get("print-value-only")
    if value_only and p.name != "simple":
        raise ExitError(EXIT_BAD_ARGS, "print-value-only is only for `--write-out=simple`")
    try:
        p.get_raw(raw, value_only=value_only)
    except BrokenPipeError:
        raise  # a reader that stopped early (`| head`): main() ends quietly, as etcdctl does
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    return 0
