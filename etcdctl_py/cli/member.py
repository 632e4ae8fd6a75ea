"""`etcdctl member add|remove|update|list|promote`."""

from __future__ import annotations

import sys

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import bad_args
from etcdctl_py.cli.verbkit import parse_hex_u64, request, session, show

BAD_ID = "bad member ID arg ({}), expecting ID in Hex"


def command() -> Command:
    root = Command("member <subcommand>", short="Membership related commands")
    root.add(
        Command(
            "add <memberName> [options]",
            short="Adds a member into the cluster",
            run=run_add,
            flags=[
                Flag.string("peer-urls", "", "comma separated peer URLs for the new member."),
                Flag.bool("learner", False, "indicates if the new member is raft learner"),
            ],
        ),
        Command("remove <memberID>", short="Removes a member from the cluster", run=run_remove),
        Command(
            "update <memberID> [options]",
            short="Updates a member in the cluster",
            run=run_update,
            flags=[
                Flag.string("peer-urls", "", "comma separated peer URLs for the updated member."),
            ],
        ),
        Command(
            "list",
            short="Lists all members in the cluster",
            run=run_list,
            long="When --write-out is set to simple, this command prints out comma-separated member lists for "
            "each endpoint.\nThe items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, "
            "Is Learner.\n",
        ),
        Command(
            "promote <memberID>",
            short="Promotes a non-voting member in the cluster",
            run=run_promote,
            long="Promotes a non-voting learner member to a voting one in the cluster.\n",
        ),
    )
    return root


def _member_id(ctx: Context) -> int:
    if len(ctx.args) != 1:
        raise bad_args("member ID is not provided")
    return parse_hex_u64(ctx.args[0], BAD_ID)


def run_add(ctx: Context) -> int:
    from etcdctl_py.gofmt import quote

    args = ctx.args
    if not args:
        raise bad_args("member name not provided")
    if len(args) > 1:
        ev = "too many arguments"
        for a in args:
            if a.lower().startswith("http"):
                ev += f", did you mean --peer-urls={a}"
        raise bad_args(ev)
    name, peer_urls = args[0], ctx.get("peer-urls")
    if not peer_urls:
        raise bad_args("member peer urls not provided")
    urls = peer_urls.split(",")
    s = session(ctx)
    resp = request(lambda: s.client().cluster.member_add(urls, ctx.get("learner"), timeout=s.command_timeout))
    show(s.printer.member_add, resp)
    if s.printer.name == "simple":
        conf = []
        for m in resp.members:
            for u in m.peerURLs:
                conf.append(f"{name if m.ID == resp.member.ID else m.name}={u}")
        sys.stdout.write(
            f"\nETCD_NAME={quote(name)}\nETCD_INITIAL_CLUSTER={quote(','.join(conf))}\n"
            f"ETCD_INITIAL_ADVERTISE_PEER_URLS={quote(peer_urls)}\n"
            'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
        )
    return 0


def run_remove(ctx: Context) -> int:
    mid = _member_id(ctx)
    s = session(ctx)
    resp = request(lambda: s.client().cluster.member_remove(mid, timeout=s.command_timeout))
    show(s.printer.member_remove, mid, resp)
    return 0


def run_update(ctx: Context) -> int:
    mid = _member_id(ctx)
    if not ctx.get("peer-urls"):
        raise bad_args("member peer urls not provided")
    urls = ctx.get("peer-urls").split(",")
    s = session(ctx)
    resp = request(lambda: s.client().cluster.member_update(mid, urls, timeout=s.command_timeout))
    show(s.printer.member_update, mid, resp)
    return 0


def run_list(ctx: Context) -> int:
    s = session(ctx)
    resp = request(lambda: s.client().cluster.member_list(timeout=s.command_timeout))
    show(s.printer.member_list, resp)
    return 0


def run_promote(ctx: Context) -> int:
    """etcdctl <= 3.5.19 panics on a successful promote with json/protobuf/fields/table; we print what
    3.5.20+ prints (json/protobuf of the response; fields/table are unsupported formats, exit 4)."""
    mid = _member_id(ctx)
    s = session(ctx)
    resp = request(lambda: s.client().cluster.member_promote(mid, timeout=s.command_timeout))
    show(s.printer.member_promote, mid, resp)
    return 0
