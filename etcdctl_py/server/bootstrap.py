"""A ready EtcdCore from a data dir, as etcd's bootstrap builds its server (server/etcdserver/bootstrap.go).

An existing data dir is recovered: the persister reads the WAL, loads the db and names the newest .snap
(`Persister.recover`), the core restores its state from them (`EtcdCore.restore`) and replays the WAL entries the
db lacks, which are committed to the db before anything is served. A missing one is bootstrapped from the flags
(`--initial-cluster` etc.) with the entries a fresh etcd writes. Either way the membership is checked last: etcd-py
runs no raft, so other voting members are refused, unless --force-new-cluster removes them through the log.
"""

from __future__ import annotations

import json

from etcdctl_py.server import config as cfgmod
from etcdctl_py.server.auth_jwt import token_provider
from etcdctl_py.server.auth_store import AuthStore
from etcdctl_py.server.core import EtcdCore, ServerConfig
from etcdctl_py.server.identity import ConfigError, Member, QuorumError, cluster_id, derive_cluster, parse_urls
from etcdctl_py.server.membership import snapshot_membership
from etcdctl_py.server.persist import Persister, Recovered
from etcdctl_py.server.zaplog import log


def foreign_voters_text(ids: list[int], fresh: bool) -> str:
    names = ", ".join(f"{i:x}" for i in ids)
    if fresh:
        return (
            f"--initial-cluster names {len(ids)} other voting member(s) ({names}): etcd-py runs a single member "
            "and no raft, so it could never reach their quorum; give only this member in --initial-cluster"
        )
    return (
        f"the cluster in this data dir has {len(ids)} other voting member(s) ({names}): etcd-py runs a single "
        "member and no raft, so it would serve without their quorum (split brain); start once with "
        "--force-new-cluster to make this member a one-member cluster (the others are removed), or remove "
        "them from the cluster first"
    )


def new_persister(flags: cfgmod.Flags) -> Persister:
    """The persister of --data-dir (and --wal-dir) with the snapshot and purge settings (--snapshot-count,
    --max-*)."""
    return Persister(
        flags.get("data-dir"),
        snapshot_count=cfgmod.snapshot_count(flags),
        max_snapshots=flags.int("max-snapshots"),
        max_wals=flags.int("max-wals"),
        wal_dir=flags.get("wal-dir") or None,
    )


def open_core(flags: cfgmod.Flags, persister: Persister) -> EtcdCore:
    """Recover the data dir or bootstrap a new one, check the membership, then start persisting: the core is ready
    to serve. Raises QuorumError (other voters), ConfigError (bad flags) or what a damaged data dir raises."""
    core = _recover(flags, persister) if persister.exists() else _bootstrap(flags, persister)
    core.membership.warn = lambda msg, **kv: log("warn", msg, flags.level, **kv)
    force = flags.bool("force-new-cluster")
    if core.membership.foreign_voters() and not force:
        raise QuorumError(foreign_voters_text(core.membership.foreign_voters(), fresh=False))
    core.lessor.promote()
    persister.start(core.lock, lambda: snapshot_v2_store(core))
    if force and core.membership.others():
        _force_new_cluster(core, flags.level)
    return core


def _server_config(flags: cfgmod.Flags, cid: int, mid: int, members: list[Member]) -> ServerConfig:
    return ServerConfig(
        name=flags.get("name"),
        data_dir=flags.get("data-dir"),
        cluster_id=cid,
        member_id=mid,
        members=members,
        quota_backend_bytes=cfgmod.backend_quota(flags),
        max_txn_ops=flags.int("max-txn-ops"),
        max_request_bytes=flags.int("max-request-bytes"),
    )


def _new_core(flags: cfgmod.Flags, persister: Persister, cfg: ServerConfig) -> EtcdCore:
    """A core with its auth store: it must exist before WAL replay, auth entries are replayed like any other."""
    core = EtcdCore(cfg, persister)
    auth = core.auth = AuthStore(
        core, bcrypt_cost=flags.int("bcrypt-cost"), token_ttl=float(flags.int("auth-token-ttl"))
    )
    try:
        tokens = token_provider(
            flags.get("auth-token"), lambda: auth.revision, lambda msg, keys: log("warn", msg, flags.level, keys=keys)
        )
    except ConfigError as e:
        log("warn", "failed to create token provider", flags.level, error=str(e))
        raise
    if tokens is not None:  # None: simple tokens, the store's default
        auth.tokens = tokens
    return core


def _bootstrap(flags: cfgmod.Flags, persister: Persister) -> EtcdCore:
    """A new data dir: the cluster as --initial-cluster describes it, which must be this member alone."""
    client_urls = parse_urls(flags.get("advertise-client-urls"))
    cid, members, mid = derive_cluster(
        flags.get("name"),
        flags.get("initial-cluster"),
        parse_urls(flags.get("initial-advertise-peer-urls")),
        flags.get("initial-cluster-token"),
        client_urls,
    )
    others = sorted(m.id for m in members if m.id != mid)
    if others:
        raise QuorumError(foreign_voters_text(others, fresh=True))
    core = _new_core(flags, persister, _server_config(flags, cid, mid, members))
    core.set_log_index(persister.bootstrap(mid, cid, members, client_urls, core.idgen))
    return core


def _recover(flags: cfgmod.Flags, persister: Persister) -> EtcdCore:
    """An existing data dir: the db's state restored, then the WAL entries it lacks replayed and committed."""
    rec = persister.recover()
    members = _db_members(rec, flags)
    # the WAL metadata's cluster ID: the members bucket changes with member add/remove, the ID does not
    cid = rec.cluster_id or cluster_id([m.id for m in members])
    core = _new_core(flags, persister, _server_config(flags, cid, rec.member_id, members))
    snap_members = snapshot_membership(persister.snap_dir) if rec.snap_index else None
    core.restore(rec.buckets, snap_members, rec.applied_conf_changes)
    # the next entry follows the last one in the WAL (a restored dir ends at its member count, not at 4)
    core.set_log_index(max(rec.consistent_index, rec.last_index))
    for e in rec.entries:
        changes = core.replay_entry(e)
        if changes is not None:
            persister.replayed(e.Index, changes)
    persister.commit_replayed(core.lock)
    log(
        "info",
        "recovered from data dir",
        flags.level,
        **{
            "data-dir": flags.get("data-dir"),
            "consistent-index": rec.consistent_index,
            "replayed-entries": len(rec.entries),
        },
    )
    return core


def _db_members(rec: Recovered, flags: cfgmod.Flags) -> list[Member]:
    """The db's `members` bucket, sorted by ID; this member takes the name and client URLs it is started with."""
    client_urls = parse_urls(flags.get("advertise-client-urls"))
    members = []
    for value in rec.buckets.get(b"members", {}).values():
        d = json.loads(value)
        m = Member(
            d["id"], d.get("name", ""), d.get("peerURLs", []), d.get("clientURLs", []), d.get("isLearner", False)
        )
        if m.id == rec.member_id:
            m.name, m.client_urls = flags.get("name"), client_urls
        members.append(m)
    return sorted(members, key=lambda m: m.id)


def _force_new_cluster(core: EtcdCore, level: str) -> None:
    """etcd's restartAsStandaloneNode: every other member removed through the log, this one left alone."""
    removed = core.membership.force_new_cluster()
    log(
        "info",
        "forcing restart member",
        level,
        **{
            "cluster-id": f"{core.cfg.cluster_id:x}",
            "local-member-id": f"{core.cfg.member_id:x}",
            "commit-index": core.raft_index,
            "removed-member-ids": [f"{i:x}" for i in removed],
        },
    )


def snapshot_v2_store(core: EtcdCore) -> tuple[bytes, list[int], list[int]]:
    """The v2 store a .snap carries (membership incl. removed IDs and cluster version, like etcd's) and raft's
    voters and learners (an updated learner is listed as a voter but is still a raft learner)."""
    from etcdctl_py.storage import v2store
    from etcdctl_py.storage.membership import Member as SMember

    st = v2store.V2Store.new("/0", "/1")
    ms = core.membership
    for m in ms.members_sorted():
        sm = SMember(m.id, list(m.peer_urls), m.name, list(m.client_urls), m.is_learner)
        v2store.save_member(st, sm)
        if m.name or m.client_urls:  # etcd has no attributes node for a member that never started
            st.create(f"/0/members/{sm.hex_id}/attributes", sm.attributes_json())
    for mid in sorted(ms.removed):
        st.create(f"{v2store.REMOVED_MEMBERS_PREFIX}/{mid:x}", "")  # unsafeDeleteMemberFromStore: empty value
    st.create("/0/version", "3.5.0")
    return st.to_json(), sorted(ms.voters), sorted(ms.learners)
