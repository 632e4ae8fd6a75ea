"""v2 cluster commands: cluster-health and member list/add/remove/update."""

from __future__ import annotations

import json
import time

from etcdctl_py.cli.errors import EXIT_CLUSTER_NOT_HEALTHY, EXIT_SERVER_ERROR
from etcdctl_py.gofmt import quote

from ...v2client import Deadline, Member, MembersAPI, Transport, V2Error
from ...v2client.transport import Request
from .app import Command, Context, Exit, Out
from .flags import Flag
from .util import exit_on_sigint, fail, get_transport, handle_error, must_new_client, total_deadline


def _go_list(xs: list[str]) -> str:
    return "[" + " ".join(xs) + "]"


def cluster_health(c: Context) -> None:
    forever = c.f("forever")
    if forever:
        exit_on_sigint()
    try:
        tr = get_transport(c)
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    cln = must_new_client(c, sync=False)
    try:
        ms = MembersAPI(cln).list(Deadline(None))
    except V2Error as e:
        Out.out("cluster may be unhealthy: failed to list members\n")
        handle_error(c, EXIT_SERVER_ERROR, e)
    while True:
        healthy = sum(_member_healthy(tr, m) for m in ms)
        if healthy == len(ms):
            Out.out("cluster is healthy\n")
        elif healthy == 0:
            Out.out("cluster is unavailable\n")
        else:
            Out.out("cluster is degraded\n")
        if not forever:
            raise Exit(0 if healthy == len(ms) else EXIT_CLUSTER_NOT_HEALTHY)
        Out.out("\nnext check after 10 second...\n\n")
        time.sleep(10)


def _member_healthy(tr: Transport, m: Member) -> bool:
    """GET /health on the member's client URLs until one answers; what each attempt found is printed."""
    if not m.client_urls:
        Out.out(f"member {m.id} is unreachable: no available published client urls\n")
        return False
    for url in m.client_urls:
        try:
            resp = tr.round_trip(url, Request("GET", "/health"), Deadline(None))
        except V2Error as e:
            Out.out(f'failed to check the health of member {m.id} on {url}: Get "{url}/health": {e}\n')
            continue
        try:
            d = json.loads(resp.body)
        except ValueError:
            Out.out(
                f"failed to check the health of member {m.id} on {url}: "
                f"invalid character looking for beginning of value\n"
            )
            continue
        h = d.get("health") if isinstance(d, dict) else None
        if h == "true" or h is True:
            Out.out(f"member {m.id} is healthy: got healthy result from {url}\n")
            return True
        Out.out(f"member {m.id} is unhealthy: got unhealthy result from {url}\n")
        return False
    Out.out(f"member {m.id} is unreachable: {_go_list(m.client_urls)} are all unreachable\n")
    return False


def member_list(c: Context) -> None:
    if c.args:
        fail("No arguments accepted")
    api = MembersAPI(must_new_client(c))
    dl = total_deadline(c)
    try:
        members = api.list(dl)
    except V2Error as e:
        fail(str(e))
    try:
        leader = api.leader(dl)
    except V2Error as e:
        fail(f"Failed to get leader:  {e}")
    for m in members:
        if not m.name:
            Out.out(f"{m.id}[unstarted]: peerURLs={','.join(m.peer_urls)}\n")
        else:
            is_leader = "true" if m.id == leader.id else "false"
            Out.out(
                f"{m.id}: name={m.name} peerURLs={','.join(m.peer_urls)} clientURLs={','.join(m.client_urls)} "
                f"isLeader={is_leader}\n"
            )


def member_add(c: Context) -> None:
    if len(c.args) != 2:
        fail("Provide a name and a single member peerURL")
    api = MembersAPI(must_new_client(c))
    dl = total_deadline(c)
    try:
        m = api.add(c.args[1], dl)
    except V2Error as e:
        fail(str(e))
    new_name = c.args[0]
    Out.out(f"Added member named {new_name} with ID {m.id} to cluster\n")
    try:
        members = api.list(dl)
    except V2Error as e:
        fail(str(e))
    conf = []
    for mb in members:
        for u in mb.peer_urls:
            conf.append(f"{new_name if mb.id == m.id else mb.name}={u}")
    Out.out(
        f"\nETCD_NAME={quote(new_name)}\nETCD_INITIAL_CLUSTER={quote(','.join(conf))}\n"
        'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
    )


def member_remove(c: Context) -> None:
    if len(c.args) != 1:
        fail("Provide a single member ID")
    rid = c.args[0]
    api = MembersAPI(must_new_client(c))
    dl = total_deadline(c)
    try:
        members = api.list(dl)
    except V2Error as e:
        fail(f"Error while verifying ID against known members: {e}")
    found = False
    for m in members:
        if m.id == rid:
            found = True
        if m.name == rid:
            Out.err(
                f"Found a member named {m.name}; if this is correct, please use its ID, eg:\n"
                f"\tetcdctl member remove {m.id}\n"
            )
            Out.err(
                "For more details, read the documentation at https://github.com/etcd-io/etcd/blob/main/"
                "Documentation/runtime-configuration.md#remove-a-member\n\n"
            )
    if not found:
        fail(f"Couldn't find a member in the cluster with an ID of {rid}.")
    try:
        api.remove(rid, dl)
    except V2Error as e:
        Out.err(f"Received an error trying to remove member {rid}: {e}")
        raise Exit(1) from None
    Out.out(f"Removed member {rid} from cluster\n")


def member_update(c: Context) -> None:
    if len(c.args) != 2:
        fail("Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)")
    api = MembersAPI(must_new_client(c))
    mid, urls = c.args
    try:
        api.update(mid, urls.split(","), total_deadline(c))
    except V2Error as e:
        fail(str(e))
    Out.out(f"Updated member with ID {mid} in cluster\n")


def commands() -> list[Command]:
    return [
        Command(
            "cluster-health",
            "check the health of the etcd cluster",
            " ",
            action=cluster_health,
            flags=[Flag("forever, f", "bool", "forever check the health every 10 second until CTRL+C")],
        ),
    ]


def member_command() -> Command:
    return Command(
        "member",
        "member add, remove and list subcommands",
        subcommands=[
            Command("list", "enumerate existing cluster members", " ", action=member_list),
            Command("add", "add a new member to the etcd cluster", "<name> <peerURL>", action=member_add),
            Command("remove", "remove an existing member from the etcd cluster", "<memberID>", action=member_remove),
            Command(
                "update", "update an existing member in the etcd cluster", "<memberID> <peerURLs>", action=member_update
            ),
        ],
    )
