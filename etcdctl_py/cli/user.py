"""`etcdctl user add|delete|get|list|passwd|grant-role|revoke-role` (no request timeout, as in etcdctl)."""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    root = Command("user <subcommand>", short="User related commands")
    root.add(
        Command("add <user name or user:password> [options]", short="Adds a new user", run=run_add, flags=[
            Flag.bool("interactive", True, "Read password from stdin instead of interactive terminal"),
            Flag.string("new-user-password", "", "Supply password from the command line flag"),
            Flag.bool("no-password", False, "Create a user without password (CN based auth only)"),
        ]),
        Command("delete <user name>", short="Deletes a user", run=run_delete),
        Command("get <user name> [options]", short="Gets detailed information of a user", run=run_get, flags=[
            Flag.bool("detail", False, "Show permissions of roles granted to the user"),
        ]),
        Command("list", short="Lists all users", run=run_list),
        Command("passwd <user name> [options]", short="Changes password of user", run=run_passwd, flags=[
            Flag.bool("interactive", True, "If true, read password from stdin instead of interactive terminal"),
        ]),
        Command("grant-role <user name> <role name>", short="Grants a role to a user", run=run_grant),
        Command("revoke-role <user name> <role name>", short="Revokes a role from a user", run=run_revoke),
    )
    return root


# ---------------------------------------------------------------- passwords

def _speakeasy_ask(prompt: str) -> str:
    """speakeasy.Ask: prompt on stdout, echo turned off around the read (without a terminal, each
    `stty` call complains on stderr), newline on stdout; EOF reads as an empty answer."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    tty = sys.stdin.isatty()
    if not tty:
        sys.stderr.write("stty: 'standard input': Inappropriate ioctl for device\n")
    old = None
    if tty:
        import termios

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        line = sys.stdin.readline()
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old)
        else:
            sys.stderr.write("stty: 'standard input': Inappropriate ioctl for device\n")
    sys.stdout.write("\n")
    sys.stdout.flush()
    return line.rstrip("\n").rstrip("\r")


def read_password_interactive(name: str) -> str:
    p1 = _speakeasy_ask(f"Password of {name}: ")
    if not p1:
        raise bad_args("empty password")
    p2 = _speakeasy_ask(f"Type password of {name} again for confirmation: ")
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
    if len(ctx.args) != 1:
        raise bad_args("user add command requires user name as its argument")
    arg = ctx.args[0]
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


def run_delete(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("user delete command requires user name as its argument")
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_delete(ctx.args[0], timeout=None))
    show(s.printer.user_delete, ctx.args[0], resp)
    return 0


def run_get(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("user get command requires user name as its argument")
    name = ctx.args[0]
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
        rresp = request(lambda: c.auth.role_get(role, timeout=None))
        show(s.printer.role_get, role, rresp)
        sys.stdout.buffer.flush()
    return 0


def run_list(ctx: Context) -> int:
    if ctx.args:
        raise bad_args("user list command requires no arguments")
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_list(timeout=None))
    show(s.printer.user_list, resp)
    return 0


def run_passwd(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("user passwd command requires user name as its argument")
    name = ctx.args[0]
    password = read_password_interactive(name) if ctx.get("interactive") else scan_word()
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_change_password(name, password, timeout=None))
    show(s.printer.user_change_password, resp)
    return 0


def run_grant(ctx: Context) -> int:
    if len(ctx.args) != 2:
        raise bad_args("user grant command requires user name and role name as its argument")
    user, role = ctx.args
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_grant_role(user, role, timeout=None))
    show(s.printer.user_grant_role, user, role, resp)
    return 0


def run_revoke(ctx: Context) -> int:
    if len(ctx.args) != 2:
        raise bad_args("user revoke-role requires user name and role name as its argument")
    user, role = ctx.args
    s = session(ctx)
    resp = request(lambda: s.client().auth.user_revoke_role(user, role, timeout=None))
    show(s.printer.user_revoke_role, user, role, resp)
    return 0
