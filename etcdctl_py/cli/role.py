"""`etcdctl role add|delete|get|list|grant-permission|revoke-permission` (no request timeout)."""

from __future__ import annotations

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import arg_bytes, auth_verb, request, session, show


def command() -> Command:
    root = Command("role <subcommand>", short="Role related commands")
    root.add(
        Command("add <role name>", short="Adds a new role", run=run_add),
        Command("delete <role name>", short="Deletes a role", run=run_delete),
        Command("get <role name>", short="Gets detailed information of a role", run=run_get),
        Command("list", short="Lists all roles", run=run_list),
        Command(
            "grant-permission [options] <role name> <permission type> <key> [endkey]",
            short="Grants a key to a role",
            run=run_grant,
            flags=[
                Flag.bool("prefix", False, "grant a prefix permission"),
                Flag.bool(
                    "from-key",
                    False,
                    "grant a permission of keys that are greater than or equal to the given key using byte compare",
                ),
            ],
        ),
        Command(
            "revoke-permission <role name> <key> [endkey]",
            short="Revokes a key from a role",
            run=run_revoke,
            flags=[
                Flag.bool("prefix", False, "revoke a prefix permission"),
                Flag.bool(
                    "from-key",
                    False,
                    "revoke a permission of keys that are greater than or equal to the given key using byte compare",
                ),
            ],
        ),
    )
    return root


def perm_range(ctx: Context, args: list[str]) -> tuple[bytes, bytes]:
    """etcdctl's permRange: the key and range end a permission covers."""
    from etcdctl_py.keyrange import prefix_end

    prefix, from_key = ctx.get("prefix"), ctx.get("from-key")
    key = arg_bytes(args[0])
    if not key:
        if prefix and from_key:
            raise bad_args("--from-key and --prefix flags are mutually exclusive")
        return b"\x00", (b"\x00" if prefix or from_key else b"")
    if len(args) == 1:
        if prefix:
            if from_key:
                raise bad_args("--from-key and --prefix flags are mutually exclusive")
            return key, prefix_end(key)
        return key, (b"\x00" if from_key else b"")
    if prefix:
        raise bad_args("unexpected endkey argument with --prefix flag")
    if from_key:
        raise bad_args("unexpected endkey argument with --from-key flag")
    return key, arg_bytes(args[1])


run_add = auth_verb("role_add", 1, "role add command requires role name as its argument")
run_delete = auth_verb("role_delete", 1, "role delete command requires role name as its argument")
run_get = auth_verb("role_get", 1, "role get command requires role name as its argument")
run_list = auth_verb("role_list", 0, "role list command requires no arguments")


def run_grant(ctx: Context) -> int:
    from etcdctl_py.client.auth import PERM_TYPES

    args = ctx.args
    if len(args) < 3:
        raise bad_args("role grant command requires role name, permission type, and key [endkey] as its argument")
    perm = PERM_TYPES.get(args[1].upper())
    if perm is None:
        raise bad_args(f"invalid permission type: {args[1]}")
    key, end = perm_range(ctx, args[2:])
    s = session(ctx)
    resp = request(lambda: s.client().auth.role_grant_permission(args[0], key, end, perm, timeout=None))
    show(s.printer.role_grant_permission, args[0], resp)
    return 0


def run_revoke(ctx: Context) -> int:
    args = ctx.args
    if len(args) < 2:
        raise bad_args("role revoke-permission command requires role name and key [endkey] as its argument")
    key, end = perm_range(ctx, args[1:])
    s = session(ctx)
    resp = request(lambda: s.client().auth.role_revoke_permission(args[0], key, end, timeout=None))
    show(s.printer.role_revoke_permission, args[0], arg_bytes(args[1]), end, resp)
    return 0
