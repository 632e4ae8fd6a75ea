"""v2 auth commands: user add/get/list/remove/grant/revoke/passwd, role add/get/list/remove/grant/revoke,
auth enable/disable (ctlv2 user_commands.go, role_commands.go, auth_commands.go)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ...v2client import AuthAPI, Deadline, V2Error
from ...v2client.keys import canonical_url_path
from .app import Command, Context, Exit, Out
from .flags import Flag
from .util import ask_password, fail, must_new_client, total_deadline, username_password

T = TypeVar("T")


def _api(c: Context) -> AuthAPI:
    hc = must_new_client(c)
    if c.g("debug"):
        Out.err(f"Cluster-Endpoints: {', '.join(hc.endpoints)}\n")
    return AuthAPI(hc)


def _named_api(c: Context, missing: str) -> tuple[AuthAPI, str]:
    """The one user or role name argument (`missing` when not exactly one), then the client."""
    if len(c.args) != 1:
        fail(missing)
    return _api(c), c.args[0]


def _user_api(c: Context) -> tuple[AuthAPI, str]:
    return _named_api(c, "Please provide a username")


def _role_api(c: Context) -> tuple[AuthAPI, str]:
    return _named_api(c, "Please provide a role name")


def _no_args_api(c: Context) -> AuthAPI:
    if c.args:
        fail("No arguments accepted")
    return _api(c)


def _must(call: Callable[[], T]) -> T:
    """One auth API call; its error ends the command as etcdctl's `fmt.Fprintln(os.Stderr, err); os.Exit(1)`."""
    try:
        return call()
    except V2Error as e:
        fail(str(e))


def _list(c: Context, lister: Callable[[AuthAPI, Deadline], list[str]]) -> None:
    api = _no_args_api(c)
    names = _must(lambda: lister(api, total_deadline(c)))
    Out.out("".join(f"{n}\n" for n in names))


def user_list(c: Context) -> None:
    _list(c, AuthAPI.list_users)


def role_list(c: Context) -> None:
    _list(c, AuthAPI.list_roles)


def user_add(c: Context) -> None:
    api, arg = _user_api(c)
    dl = total_deadline(c)
    user = arg.split(":", 1)[0]
    _, pw = username_password("New password: ", arg)
    _must(lambda: api.add_user(user, pw, dl))
    Out.out(f"User {user} created\n")


def user_remove(c: Context) -> None:
    api, user = _user_api(c)
    _must(lambda: api.remove_user(user, total_deadline(c)))
    Out.out(f"User {user} removed\n")


def user_passwd(c: Context) -> None:
    api, user = _user_api(c)
    dl = total_deadline(c)
    pw = ask_password("New password: ")
    _must(lambda: api.change_password(user, pw, dl))
    Out.out("Password updated\n")


def _user_grant_revoke(c: Context, grant: bool) -> None:
    roles = c.f("roles")
    if not roles:
        fail("No roles specified; please use `--roles`")
    dl = total_deadline(c)
    api, user = _user_api(c)
    _must(lambda: api.grant_user(user, roles, dl) if grant else api.revoke_user(user, roles, dl))
    Out.out(f"User {user} updated\n")


def user_get(c: Context) -> None:
    api, name = _user_api(c)
    u = _must(lambda: api.get_user(name, total_deadline(c)))
    Out.out(f"User: {u.user}\nRoles: {' '.join(u.roles)}\n")


def role_add(c: Context) -> None:
    api, role = _role_api(c)
    dl = total_deadline(c)
    try:
        api.get_role(role, dl)
        exists = True
    except V2Error:
        exists = False
    if exists:
        Out.err(f"Role {role} already exists\n")
        raise Exit(1)
    _must(lambda: api.add_role(role, dl))
    Out.out(f"Role {role} created\n")


def role_remove(c: Context) -> None:
    api, role = _role_api(c)
    _must(lambda: api.remove_role(role, total_deadline(c)))
    Out.out(f"Role {role} removed\n")


def _role_grant_revoke(c: Context, grant: bool) -> None:
    path = c.f("path")
    if not path:
        fail("No path specified; please use `--path`")
    canon = canonical_url_path(path)
    if canon != path:
        fail(f"Not canonical path; please use `--path={canon}`")
    perms = [k for k in ("read", "write", "readwrite") if c.f(k)]
    if len(perms) != 1:
        fail("Please specify exactly one of --read, --write or --readwrite")
    perm = {"read": "read", "write": "write", "readwrite": "rw"}[perms[0]]
    api, role = _role_api(c)
    dl = total_deadline(c)
    current = _must(lambda: api.get_role(role, dl))
    new = _must(lambda: api.grant_role(role, [path], perm, dl) if grant else api.revoke_role(role, [path], perm, dl))
    if new.same(current):
        Out.out("Role unchanged; already granted" if grant else "Role unchanged; already revoked")
    Out.out(f"Role {role} updated\n")


def role_get(c: Context) -> None:
    api, name = _role_api(c)
    r = _must(lambda: api.get_role(name, total_deadline(c)))
    s = f"Role: {r.role}\nKV Read:\n" + "".join(f"\t{p}\n" for p in r.read)
    s += "KV Write:\n" + "".join(f"\t{p}\n" for p in r.write)
    Out.out(s)


def _auth(c: Context, enable: bool) -> None:
    api = _no_args_api(c)
    _must(lambda: api.enable(total_deadline(c)) if enable else api.disable(total_deadline(c)))
    Out.out("Authentication Enabled\n" if enable else "Authentication Disabled\n")


def _roles_flag() -> Flag:
    return Flag("roles", "stringArray", "List of roles to grant or revoke")


def _perm_flags(grant: bool) -> list[Flag]:
    done, read, write = (
        ("granted", "Grant read-only", "Grant write-only") if grant else ("revoked", "Revoke read", "Revoke write")
    )
    verb = "Grant" if grant else "Revoke"
    return [
        Flag("path", "string", f"Path {done} for the role to access"),
        Flag("read", "bool", f"{read} access"),
        Flag("write", "bool", f"{write} access"),
        Flag("readwrite, rw", "bool", f"{verb} read-write access"),
    ]


def _grant_revoke(
    noun: str, what: str, flags: Callable[[bool], list[Flag]], act: Callable[[Context, bool], None]
) -> list[Command]:
    """`user`'s or `role`'s pair `grant`/`revoke` of `what`: one action (and flag set) told which of the two it is."""
    return [
        Command(
            "grant", f"grant {what} to an etcd {noun}", f"<{noun}>", flags=flags(True), action=lambda c: act(c, True)
        ),
        Command(
            "revoke",
            f"revoke {what} for an etcd {noun}",
            f"<{noun}>",
            flags=flags(False),
            action=lambda c: act(c, False),
        ),
    ]


def commands() -> list[Command]:
    user = Command(
        "user",
        "user add, grant and revoke subcommands",
        subcommands=[
            Command("add", "add a new user for the etcd cluster", "<user>", action=user_add),
            Command("get", "get details for a user", "<user>", action=user_get),
            Command("list", "list all current users", "<user>", action=user_list),
            Command("remove", "remove a user for the etcd cluster", "<user>", action=user_remove),
            *_grant_revoke("user", "roles", lambda grant: [_roles_flag()], _user_grant_revoke),
            Command("passwd", "change password for a user", "<user>", action=user_passwd),
        ],
    )
    role = Command(
        "role",
        "role add, grant and revoke subcommands",
        subcommands=[
            Command("add", "add a new role for the etcd cluster", "<role> ", action=role_add),
            Command("get", "get details for a role", "<role>", action=role_get),
            Command("list", "list all roles", " ", action=role_list),
            Command("remove", "remove a role from the etcd cluster", "<role>", action=role_remove),
            *_grant_revoke("role", "path matches", _perm_flags, _role_grant_revoke),
        ],
    )
    auth = Command(
        "auth",
        "overall auth controls",
        subcommands=[
            Command("enable", "enable auth access controls", " ", action=lambda c: _auth(c, True)),
            Command("disable", "disable auth access controls", " ", action=lambda c: _auth(c, False)),
        ],
    )
    return [user, role, auth]
