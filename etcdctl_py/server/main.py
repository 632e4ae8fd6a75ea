"""`etcd-py`: start a single-member etcd-compatible server from etcd's flags and ETCD_* variables."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from concurrent import futures

from etcdctl_py.server import config as cfgmod
from etcdctl_py.server.identity import ConfigError, Member, derive_cluster, parse_urls


def log(level: str, msg: str, min_level: str, **fields) -> None:
    order = {"debug": 0, "info": 1, "warn": 2, "error": 3, "panic": 4, "fatal": 5}
    if order.get(level, 1) < order.get(min_level, 1):
        return
    rec = {"level": level, "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
           "caller": "etcd-py", "msg": msg, **fields}
    sys.stderr.write(json.dumps(rec, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def _bind_host(url: str) -> tuple[str, int, str]:
    scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    host = host.strip("[]")
    if host in ("localhost", ""):
        host = "127.0.0.1"  # never resolve names
    return host, int(port), scheme


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Everything one etcd-py process runs; `start()` then `wait()`; `stop()` from a signal."""

    def __init__(self, flags: cfgmod.Flags) -> None:
        self.flags = flags
        self.level = flags.get("log-level")
        self.stop_ev = threading.Event()
        self.fronts = []
        self.grpc_server = None
        self.core = None
        self.persister = None

    def start(self) -> None:
        import grpc

        from etcdctl_py.proto.etcdserverpb import raft_internal_pb2 as ri
        from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
        from etcdctl_py.server import services
        from etcdctl_py.server.core import EtcdCore, ServerConfig
        from etcdctl_py.server.persist import Persister

        f = self.flags
        client_urls = parse_urls(f.get("advertise-client-urls"))
        adv_peer = parse_urls(f.get("initial-advertise-peer-urls"))
        listen_client = [u.strip() for u in f.get("listen-client-urls").split(",") if u.strip()]
        data_dir = f.get("data-dir")
        persister = Persister(data_dir)
        self.persister = persister
        scfg = ServerConfig(name=f.get("name"), data_dir=data_dir,
                            quota_backend_bytes=f.int("quota-backend-bytes"),
                            snapshot_count=f.int("snapshot-count"),
                            auto_compaction_mode=f.get("auto-compaction-mode"),
                            auto_compaction_retention=f.get("auto-compaction-retention"),
                            max_txn_ops=f.int("max-txn-ops"))
        if persister.exists():
            ci, entries, node_id = persister.recover()
            scfg.member_id = node_id
            members = []
            for k, v in persister.backend.buckets.get(b"members", {}).items():
                d = json.loads(v)
                members.append(Member(d["id"], d.get("name", ""), d.get("peerURLs", []),
                                      d.get("clientURLs", []), d.get("isLearner", False)))
            from etcdctl_py.server.identity import cluster_id

            # the WAL metadata's cluster ID: the members bucket changes with member add/remove, the ID does not
            scfg.cluster_id = persister.cluster_id or cluster_id([m.id for m in members])
            for m in members:
                if m.id == node_id:
                    m.name = f.get("name")
                    m.client_urls = client_urls
            scfg.members = sorted(members, key=lambda m: m.id)
            core = EtcdCore(scfg, persister)
            self.core = core
            self._attach_auth(core)
            core.membership.load_backend(persister.backend.buckets)
            from etcdctl_py.server.membership import snapshot_membership

            snap_members = snapshot_membership(persister.snap_dir) if persister.snap_index else None
            if snap_members is not None or persister.applied_conf_changes:  # etcd's view: .snap + WAL, not the db
                core.membership.rebuild(*(snap_members or ([], set())), persister.applied_conf_changes)
            core.auth.restore(persister.backend.buckets)
            self._restore_state(core, persister)
            core.raft_index = core.applied_index = max(ci, 4)
            for e in entries:
                if e.Type == 1 and e.Data:  # EntryConfChange: a member added/removed/updated/promoted
                    changes = core.replay_conf_change(e.Index, e.Data)
                elif e.Type != 0 or not e.Data:
                    core.raft_index = core.applied_index = e.Index
                    continue
                else:
                    req = ri.InternalRaftRequest()
                    try:
                        req.ParseFromString(e.Data)
                    except Exception:  # noqa: BLE001 - a v2 entry: nothing to apply in v3
                        core.raft_index = core.applied_index = e.Index
                        continue
                    changes = core.replay(e.Index, req)
                changes_meta = [c for c in changes]
                from etcdctl_py.server.mvcc import Change

                changes_meta.append(Change(b"meta", b"consistent_index", struct.pack(">Q", e.Index)))
                changes_meta.append(Change(b"meta", b"term", struct.pack(">Q", 2)))
                persister.backend.apply(changes_meta)
                persister.pending.append((0, e.Index, changes_meta))
            log("info", "recovered from data dir", self.level, **{"data-dir": data_dir,
                                                                  "consistent-index": ci,
                                                                  "replayed-entries": len(entries)})
        else:
            cid, members, mid = derive_cluster(f.get("name"), f.get("initial-cluster"), adv_peer,
                                               f.get("initial-cluster-token"), client_urls)
            scfg.cluster_id, scfg.members, scfg.member_id = cid, members, mid
            core = EtcdCore(scfg, persister)
            self.core = core
            self._attach_auth(core)
            persister.bootstrap(mid, cid, members, client_urls, core.idgen, [])
            core.raft_index = core.applied_index = len(members) + 3
        core.membership.warn = lambda msg, **kv: log("warn", msg, self.level, **kv)
        for mid in core.membership.foreign_voters():
            log("warn", "voting member etcd-py never runs raft with (real etcd on this data dir waits for it)",
                self.level, **{"member-id": f"{mid:x}"})
        core.lessor.promote()
        persister.snapshot_count = f.int("snapshot-count")
        persister.max_snapshots = f.int("max-snapshots")
        persister.max_wals = f.int("max-wals")
        persister.snap_source = lambda: snapshot_v2_store(core)
        persister.start(core.lock)

        from etcdctl_py.server.auth import GrpcAuth

        gauth = GrpcAuth(core.auth, client_cert_auth=f.bool("client-cert-auth"))
        self.gauth = gauth

        opts = [("grpc.max_receive_message_length", f.int("max-request-bytes") + 1024 * 1024),
                ("grpc.max_send_message_length", 2 ** 31 - 1),
                ("grpc.so_reuseport", 0)]
        gs = grpc.server(futures.ThreadPoolExecutor(max_workers=512), options=opts,
                         maximum_concurrent_rpcs=None)
        pbg.add_KVServicer_to_server(services.KVService(core, gauth), gs)
        pbg.add_WatchServicer_to_server(services.WatchService(
            core, gauth, go_duration(f.get("experimental-watch-progress-notify-interval"))), gs)
        pbg.add_LeaseServicer_to_server(services.LeaseService(core, gauth), gs)
        pbg.add_ClusterServicer_to_server(services.ClusterService(core, gauth), gs)
        pbg.add_MaintenanceServicer_to_server(services.MaintenanceService(core, gauth), gs)
        pbg.add_AuthServicer_to_server(services_auth(core, gauth), gs)
        try:
            from etcdctl_py.server import concurrency

            concurrency.register(gs, core, gauth)
        except ImportError:
            pass
        from etcdctl_py.server import election

        election.register(gs, core, gauth)
        gport = gs.add_insecure_port("127.0.0.1:0")
        gs.start()
        self.grpc_server = gs

        from etcdctl_py.server.frontend import FrontListener, HttpApp

        v2 = None
        if f.bool("enable-v2"):
            v2 = load_v2(core, f.get("initial-cluster-token"))
        app = HttpApp(core, v2)
        ssl_ctx = None
        if f.get("cert-file") and f.get("key-file"):
            ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_ctx.load_cert_chain(f.get("cert-file"), f.get("key-file"))
            ssl_ctx.set_alpn_protocols(["h2", "http/1.1"])
            if f.get("trusted-ca-file"):
                ssl_ctx.load_verify_locations(f.get("trusted-ca-file"))
            if f.bool("client-cert-auth"):
                ssl_ctx.verify_mode = ssl.CERT_REQUIRED
        for url in listen_client:
            host, port, scheme = _bind_host(url)
            ctx = ssl_ctx if scheme == "https" else None
            fl = FrontListener(host, port, gport, app, ctx, on_peer_cn=gauth.set_peer_cn)
            fl.start()
            self.fronts.append(fl)

        threading.Thread(target=self._lease_loop, daemon=True, name="lease-expiry").start()
        threading.Thread(target=self._compaction_loop, daemon=True, name="auto-compaction").start()
        log("info", "ready to serve client requests", self.level)
        log("info", "serving client traffic insecurely; this is strongly discouraged!", self.level,
            address=",".join(listen_client))

    def _attach_auth(self, core) -> None:
        """The auth store must exist before WAL replay: auth entries are replayed like any other."""
        from etcdctl_py.server.auth_jwt import token_provider
        from etcdctl_py.server.auth_store import AuthStore

        f = self.flags
        core.auth = AuthStore(core, bcrypt_cost=f.int("bcrypt-cost"), token_ttl=float(f.int("auth-token-ttl")))
        try:
            tokens = token_provider(f.get("auth-token"), lambda: core.auth.revision,
                                    lambda msg, keys: log("warn", msg, self.level, keys=keys))
        except ConfigError as e:
            log("warn", "failed to create token provider", self.level, error=str(e))
            raise
        if tokens is not None:  # None: simple tokens, the store's default
            core.auth.tokens = tokens

    def _restore_state(self, core, persister) -> None:
        """Rebuild MVCC, leases and alarms from the loaded db (etcd's restore on start)."""
        from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
        from etcdctl_py.proto.leasepb import lease_pb2
        from etcdctl_py.server.mvcc import bytes_to_rev

        b = persister.backend.buckets
        meta = b.get(b"meta", {})
        fin = meta.get(b"finishedCompactRev")
        sch = meta.get(b"scheduledCompactRev")
        for k, v in b.get(b"lease", {}).items():
            lease = lease_pb2.Lease.FromString(v)
            l = core.lessor.grant(lease.ID, lease.TTL)
            l.ttl = lease.TTL
        core.store.restore(sorted(b.get(b"key", {}).items()),
                           bytes_to_rev(fin)[0] if fin else None, bytes_to_rev(sch)[0] if sch else None)
        # re-attach keys to leases
        for key, ki in core.store.index.items.items():
            r = ki.get(core.store.current_rev)
            if r is not None:
                from etcdctl_py.server.mvcc import KeyValue

                kv = KeyValue.FromString(core.store.kv[r[0]])
                if kv.lease:
                    core.lessor.attach(kv.lease, key)
        for k in b.get(b"alarm", {}):
            am = pb.AlarmMember.FromString(k)
            core.alarms.append((am.memberID, am.alarm))

    def _lease_loop(self) -> None:
        while not self.stop_ev.wait(0.5):
            try:
                self.core.expire_leases()
            except Exception as e:  # noqa: BLE001
                log("warn", "lease expiry failed", self.level, error=str(e))

    def _compaction_loop(self) -> None:
        """--auto-compaction-mode periodic (retention as hours or Go duration) / revision."""
        f = self.flags
        mode = f.get("auto-compaction-mode")
        ret = f.get("auto-compaction-retention")
        if ret in ("", "0"):
            return
        from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb

        if mode == "revision":
            keep = int(ret)
            while not self.stop_ev.wait(300 if keep > 0 else 1):
                rev = self.core.store.current_rev - keep
                if rev > max(self.core.store.compact_main_rev, 0):
                    try:
                        self.core.compact(pb.CompactionRequest(revision=rev))
                    except Exception:  # noqa: BLE001
                        pass
            return
        period = parse_duration(ret)
        if period <= 0:
            return
        history: list[tuple[float, int]] = []
        interval = period if period < 3600 else period / 10
        while not self.stop_ev.wait(min(interval, 1.0)):
            now = time.monotonic()
            history.append((now, self.core.store.current_rev))
            due = [r for t, r in history if now - t >= period]
            if due:
                rev = due[-1]
                history = [(t, r) for t, r in history if now - t < period]
                if rev > max(self.core.store.compact_main_rev, 0):
                    try:
                        self.core.compact(pb.CompactionRequest(revision=rev))
                    except Exception:  # noqa: BLE001
                        pass

    def stop(self) -> None:
        self.stop_ev.set()
        for fl in self.fronts:
            fl.stop()
        if self.core is not None:
            self.core.stopped.set()
        if self.grpc_server is not None:
            self.grpc_server.stop(0.5).wait(2)
        if self.persister is not None and self.core is not None:
            self.persister.close()


def parse_duration(s: str) -> float:
    """etcd: a plain number is hours; otherwise a Go duration like 30m, 1h30m, 10s."""
    import re

    try:
        return float(int(s)) * 3600
    except ValueError:
        pass
    total = 0.0
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    for num, unit in re.findall(r"([0-9.]+)(ms|us|ns|h|m|s)", s):
        total += float(num) * units[unit]
    return total


def snapshot_v2_store(core) -> tuple[bytes, list[int], list[int]]:
    """The v2 store a .snap carries (membership incl. removed IDs and cluster version, like etcd's) and raft's
    voters and learners (an updated learner is listed as a voter but is still a raft learner)."""
    from etcdctl_py.storage import v2store
    from etcdctl_py.storage.membership import Member as SMember

    st = v2store.V2Store.new("/0", "/1")
    ms = core.membership
    members = sorted(core.members.values(), key=lambda m: m.id)
    for m in members:
        sm = SMember(m.id, list(m.peer_urls), m.name, list(m.client_urls), m.is_learner)
        v2store.save_member(st, sm)
        if m.name or m.client_urls:  # etcd has no attributes node for a member that never started
            st.create(f"/0/members/{sm.hex_id}/attributes", sm.attributes_json())
    for mid in sorted(ms.removed):
        st.create(f"{v2store.REMOVED_MEMBERS_PREFIX}/{mid:x}", "")  # unsafeDeleteMemberFromStore: empty value
    st.create("/0/version", "3.5.0")
    return st.to_json(), sorted(ms.voters), sorted(ms.learners)


def go_duration(s: str) -> float:
    """A Go time.Duration flag value ("10m0s", "1s", "500ms"; a bare "0" is zero)."""
    if s.strip() in ("0", ""):
        return 0.0
    try:
        float(s)
    except ValueError:
        return parse_duration(s)
    raise ValueError(f'invalid duration "{s}"')


def services_auth(core, gauth):
    from etcdctl_py.server.auth import AuthService

    return AuthService(core, gauth)


def load_v2(core, token: str = "etcd-cluster"):
    """The v2 API (`--enable-v2`) with this server's identity; the front listener awaits its serve()."""
    from etcdctl_py.server.v2.mount import mount

    return mount(core, token)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags = cfgmod.parse(argv)
    except cfgmod.FlagError as e:
        if str(e) == "help":
            print("Usage:\n\n  etcd-py [flags]\n    Start an etcd-compatible single-member server.\n")
            return 0
        sys.stderr.write(f"{e}\n")
        return 2
    if flags.values.get("version") == "true":
        print("etcd Version: 3.5.1\nGit SHA: etcd-py\nGo Version: go1.16.3\nGo OS/Arch: linux/amd64")
        return 0
    srv = Server(flags)
    try:
        srv.start()
    except (ConfigError, cfgmod.FlagError, OSError, ValueError) as e:
        log("fatal", "discovery failed" if isinstance(e, ConfigError) else "failed to start etcd-py",
            "debug", error=str(e))
        srv.stop()
        return 1
    except Exception as e:  # noqa: BLE001 - e.g. a damaged data dir: one fatal log line, never a traceback
        log("fatal", "failed to start etcd-py", "debug", error=f"{type(e).__name__}: {e}")
        try:
            srv.stop()
        except Exception:  # noqa: BLE001
            pass
        return 1

    def on_signal(signum, frame) -> None:
        srv.stop_ev.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not srv.stop_ev.wait(1.0):
        pass
    log("info", "received signal; shutting down", srv.level)
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
