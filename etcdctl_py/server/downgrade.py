"""Maintenance.Downgrade as etcd 3.5.1 answers it (server/etcdserver/v3_server.go).

What the real 3.5.1 server does, checked side by side over gRPC:
- no admin check: any caller may validate, enable or cancel, also with auth enabled and no token;
- VALIDATE never looks at the token; ENABLE and CANCEL validate first and then propose a request, and
  a proposal checks the token like every other one (an unknown token: "invalid auth token");
- 3.5.1's applier applies that request but never answers its waiter, so ENABLE and CANCEL take
  effect and the caller gets "etcdserver: request timed out" after the request timeout.
"""

from __future__ import annotations

import re
import threading
from typing import NoReturn

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.server import errors

# etcd's ReqTimeout: 5s + 2 x the election timeout (1000ms by default)
REQUEST_TIMEOUT_SECONDS = 5.0 + 2 * 1.0
CLUSTER_VERSION = "3.5.0"
ALLOWED_TARGET = (3, 4)  # membership.AllowedDowngradeVersion: one minor below the cluster version

_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*")
_NUMBER = re.compile(r"[0-9]+")


def go_semver(text: str) -> tuple[int, int, int] | None:
    """coreos/go-semver v0.3.0 Version.Set: MAJOR.MINOR.PATCH[-pre][+meta], None when it refuses."""
    version, _, metadata = text.partition("+")
    version, _, pre = version.partition("-")
    parts = version.split(".", 2)
    if len(parts) != 3 or any(x and not _IDENTIFIER.fullmatch(x) for x in (pre, metadata)):
        return None
    if not all(_NUMBER.fullmatch(p) and int(p) < 1 << 63 for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def cluster_version(text: str) -> tuple[int, int]:
    """convertToClusterVersion: a full version or MAJOR.MINOR, patch dropped."""
    v = go_semver(text) or go_semver(text + ".0")
    if v is None:
        raise errors.WRONG_DOWNGRADE_VERSION_FORMAT
    return v[0], v[1]


def downgrade(core, auth, request: pb.DowngradeRequest, context) -> pb.DowngradeResponse:
    """The Downgrade RPC body; `auth` is the services' Auth (GrpcAuth when auth is wired)."""
    if request.action == pb.DowngradeRequest.CANCEL:
        if not core.downgrade_enabled:
            raise errors.NO_INFLIGHT_DOWNGRADE
        _propose(core, auth, context, False)
    if request.action not in (pb.DowngradeRequest.VALIDATE, pb.DowngradeRequest.ENABLE):
        raise errors.UNKNOWN_METHOD
    if cluster_version(request.version) != ALLOWED_TARGET:
        raise errors.INVALID_DOWNGRADE_TARGET
    if core.downgrade_enabled:
        raise errors.DOWNGRADE_IN_PROCESS
    if request.action == pb.DowngradeRequest.ENABLE:
        _propose(core, auth, context, True)
    return pb.DowngradeResponse(header=core.header(), version=CLUSTER_VERSION)


def _propose(core, auth, context, enabled: bool) -> NoReturn:
    """etcd's raftRequest for DowngradeInfoSet: the token is checked, the change applies, and the
    waiter is never answered (3.5.1), so the caller waits out the request timeout."""
    auth.info(context)  # INVALID_AUTH_TOKEN for an unknown token; a CN or no identity is fine
    core.downgrade_enabled = enabled
    done = threading.Event()
    if context.add_callback(done.set):  # set when the caller gives up or the server stops
        done.wait(REQUEST_TIMEOUT_SECONDS)
    raise errors.REQUEST_TIMEOUT
