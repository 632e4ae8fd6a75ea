"""`etcdctl user add|delete|get|list|passwd|grant-role|revoke-role` (no request timeout, as in etcdctl)."""

from __future__ import annotations

import sys
from functools import partial

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import auth_verb, exact_args, request, session, show


def command() -> Command:
    root = Command("user <subcommand>", short="User related commands")
    root.add(
        Command(
            "add <user name or user:password> [options]",
            short="Adds a new user",
            run=run_add,
            flags=[
                Flag.bool("interactive", True, "Read password from stdin instead of interactive terminal"),
                Flag.string("new-user-password", "", "Supply password from the command line flag"),
                Flag.bool("no-password", False, "Create a user without password (CN based auth only)"),
            ],
        ),
        Command("delete <user name>", short="Deletes a user", run=run_delete),
        Command(
            "get <user name> [options]",
            short="Gets detailed information of a user",
            run=run_get,
            flags=[
                Flag.bool("detail", False, "Show permissions of roles granted to the user"),
            ],
        ),
        Command("list", short="Lists all users", run=run_list),
        Command(
            "passwd <user name> [options]",
            short="Changes password of user",
            run=run_passwd,
            flags=[
                Flag.bool("interactive", True, "If true, read password from stdin instead of interactive terminal"),
            ],
        ),
        Command("grant-role <user name> <role name>", short="Grants a role to a user", run=run_grant),
        Command("revoke-role <user name> <role name>", short="Revokes a role from a user", run=run_revoke),
    )
    return root


# ---------------------------------------------------------------- passwords


def read_password_interactive(name: str) -> str:
    """etcdctl's readPasswordInteractive: the password twice, without echo."""
    from etcdctl_py.cli.globals import ask_password

    p1 = ask_password(f"Password of {name}: ")
    if not p1:
        raise bad_args("empty password")
    p2 = ask_password(f"Type password of {name} again for confirmation: ")
    if p1 != p2:
        raise bad_args("given passwords are different")
    return p1


def scan_word() -> str:
    """Go's fmt.Scanf("%s"): one space-delimited word from stdin ("" at a newline or EOF)."""
    data = sys.stdin.readline()
    data = data.lstrip(" \t\r")
    if not data or data[0] == "\n":
        return ""
    return data.split()[0]


# ---------------------------------------------------------------- verbs


def run_add(ctx: Context) -> int:
    (arg,) = exact_args(ctx, 1, "user add command requires user name as its argument")
    password, no_password = "", ctx.get("no-password")
    if no_password:
        user = arg
    elif ctx.get("new-user-password"):
        user, password = arg, ctx.get("new-user-password")
    elif ":" in arg:
        user, password = arg.split(":", 1)
        if not user:
            raise bad_args("empty user name is not allowed")
    else:
        user = arg
        password = read_password_interactive(arg) if ctx.get("interactive") else scan_word()
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_add(user, password, no_password=no_password, timeout=None))
    show(s.printer.user_add, user, resp)
    return 0


run_delete = auth_verb("user_delete", 1, "user delete command requires user name as its argument")
run_list = auth_verb("user_list", 0, "user list command requires no arguments")
run_grant = auth_verb("user_grant_role", 2, "user grant command requires user name and role name as its argument")
run_revoke = auth_verb("user_revoke_role", 2, "user revoke-role requires user name and role name as its argument")


def run_get(ctx: Context) -> int:
    (name,) = exact_args(ctx, 1, "user get command requires user name as its argument")
    s = session(ctx)
    c = s.client()
    resp = request(lambda: c.auth.user_get(name, timeout=None))
    if not ctx.get("detail"):
        show(s.printer.user_get, name, resp)
        return 0
    sys.stdout.write(f"User: {name}\n")
    for role in resp.roles:
        sys.stdout.write("\n")
        sys.stdout.flush()
        rresp = request(partial(c.auth.role_get, role, timeout=None))
        show(s.printer.role_get, role, rresp)
        sys.stdout.buffer.flush()
    return 0


def run_passwd(ctx: Context) -> int:
    (name,) = exact_args(ctx, 1, "user passwd command requires user name as its argument")
    password = read_password_interactive(name) if ctx.get("interactive") else scan_word()
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_change_password(name, password, timeout=None))
    show(s.printer.user_change_password, resp)
    return 0
