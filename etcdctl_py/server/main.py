"""`etcd-py`: start a single-member etcd-compatible server from etcd's flags and ETCD_* variables."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from concurrent import futures

from etcdctl_py.server import config as cfgmod
from etcdctl_py.server.identity import ConfigError, Member, derive_cluster, parse_urls
from etcdctl_py.server.zaplog import log


def _bind_host(url: str) -> tuple[str, int, str]:
    """(host, port, scheme) to listen on for a client URL (Go's url.URL.Host; query, path and userinfo aside)."""
    from etcdctl_py.server.identity import url_host

    scheme = url.split("://", 1)[0].lower()
    host, _, port = url_host(url).rpartition(":")
    host = host.strip("[]")
    if host in ("localhost", ""):
        host = "127.0.0.1"  # never resolve names
    return host, int(port), scheme


def _listen(url: str) -> socket.socket:
    """A listening socket for a client URL, bound before the data dir is touched (etcd binds its listeners first:
    a busy port fails start-up with nothing created)."""
    from etcdctl_py.storage.fileutil import go_errno_text

    host, port, _ = _bind_host(url)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as e:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        raise ConfigError(f"listen tcp {shown}:{port}: bind: {go_errno_text(e)}") from None
    return sock


class QuorumError(ConfigError):
    """Other voting members in the cluster: etcd-py runs no raft, so alone it can never be their quorum."""


def _foreign_voters_text(ids: list[int], fresh: bool) -> str:
    names = ", ".join(f"{i:x}" for i in ids)
    if fresh:
        return (f"--initial-cluster names {len(ids)} other voting member(s) ({names}): etcd-py runs a single member "
                "and no raft, so it could never reach their quorum; give only this member in --initial-cluster")
    return (f"the cluster in this data dir has {len(ids)} other voting member(s) ({names}): etcd-py runs a single "
            "member and no raft, so it would serve without their quorum (split brain); start once with "
            "--force-new-cluster to make this member a one-member cluster (the others are removed), or remove "
            "them from the cluster first")


class Server:
    """Everything one etcd-py process runs; `start()` then `wait()`; `stop()` from a signal."""

    def __init__(self, flags: cfgmod.Flags) -> None:
        self.flags = flags
        self.level = flags.get("log-level")
        self.stop_ev = threading.Event()
        self.fronts = []
        self.sockets: list[tuple[str, socket.socket]] = []  # bound before the data dir is touched
        self.grpc_server = None
        self.created: str | None = None
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
        # TLS files and client ports first, as etcd configures its listeners: a refusal here creates nothing
        ssl_ctx = None
        if f.get("cert-file") and f.get("key-file") and any(_bind_host(u)[2] == "https" for u in listen_client):
            from etcdctl_py.server.frontend import server_ssl_context  # http-only URLs ignore the files, as etcd

            ssl_ctx = server_ssl_context(f.get("cert-file"), f.get("key-file"), f.get("trusted-ca-file"),
                                         f.bool("client-cert-auth"))
        for url in listen_client:
            self.sockets.append((url, _listen(url)))
        persister = Persister(data_dir)
        # what this start creates, removed again if it fails (etcd leaves no half-made data dir behind)
        self.created = next((p for p in (data_dir, persister.member_dir) if not os.path.exists(p)), None)
        self.persister = persister
        scfg = ServerConfig(name=f.get("name"), data_dir=data_dir,
                            quota_backend_bytes=cfgmod.backend_quota(f),
                            snapshot_count=cfgmod.snapshot_count(f),
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
                core.membership.rebuild(snap_members, persister.applied_conf_changes)
            core.auth.restore(persister.backend.buckets)
            self._restore_state(core, persister)
            # the next entry follows the last one in the WAL (a restored dir ends at its member count, not at 4)
            core.raft_index = core.applied_index = max(ci, persister.wal.last_index)
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
                changes_meta.append(Change(b"meta", b"term", struct.pack(">Q", persister.term)))
                persister.backend.apply(changes_meta)
                persister.pending.append((0, e.Index, changes_meta))
            # the replayed entries reach the db before anything is served: a disk still full fails start-up here
            persister.lock = core.lock
            persister.commit()
            log("info", "recovered from data dir", self.level, **{"data-dir": data_dir,
                                                                  "consistent-index": ci,
                                                                  "replayed-entries": len(entries)})
        else:
            cid, members, mid = derive_cluster(f.get("name"), f.get("initial-cluster"), adv_peer,
                                               f.get("initial-cluster-token"), client_urls)
            others = sorted(m.id for m in members if m.id != mid)
            if others:
                raise QuorumError(_foreign_voters_text(others, fresh=True))
            scfg.cluster_id, scfg.members, scfg.member_id = cid, members, mid
            core = EtcdCore(scfg, persister)
            self.core = core
            self._attach_auth(core)
            persister.bootstrap(mid, cid, members, client_urls, core.idgen, [])
            core.raft_index = core.applied_index = len(members) + 3
        core.membership.warn = lambda msg, **kv: log("warn", msg, self.level, **kv)
        force = f.bool("force-new-cluster")
        if core.membership.foreign_voters() and not force:
            raise QuorumError(_foreign_voters_text(core.membership.foreign_voters(), fresh=False))
        core.lessor.promote()
        persister.snapshot_count = cfgmod.snapshot_count(f)
        persister.max_snapshots = f.int("max-snapshots")
        persister.max_wals = f.int("max-wals")
        persister.snap_source = lambda: snapshot_v2_store(core)
        persister.start(core.lock)
        if force and core.membership.others():
            # etcd's restartAsStandaloneNode: every other member removed through the log, this one left alone
            removed = core.membership.force_new_cluster()
            log("info", "forcing restart member", self.level,
                **{"cluster-id": f"{core.cfg.cluster_id:x}", "local-member-id": f"{core.cfg.member_id:x}",
                   "commit-index": core.raft_index, "removed-member-ids": [f"{i:x}" for i in removed]})

        from etcdctl_py.server.auth import GrpcAuth

        gauth = GrpcAuth(core.auth, client_cert_auth=f.bool("client-cert-auth"))
        self.gauth = gauth

        max_request_bytes = f.int("max-request-bytes")
        core.cfg.max_request_bytes = max_request_bytes  # proposals above it: "etcdserver: request is too large"
        # grpcio's own size limits are off: services.MessageLimits enforces grpc-go's, with grpc-go's texts
        opts = [("grpc.max_receive_message_length", -1),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0)]
        self.executor = futures.ThreadPoolExecutor(max_workers=512)  # stop() waits for its handlers
        gs = grpc.server(self.executor, options=opts, maximum_concurrent_rpcs=None,
                         interceptors=[services.MessageLimits(max_request_bytes + services.GRPC_OVERHEAD_BYTES)])
        pbg.add_KVServicer_to_server(services.KVService(core, gauth), gs)
        pbg.add_WatchServicer_to_server(services.WatchService(
            core, gauth, f.duration("experimental-watch-progress-notify-interval")), gs)
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
        from etcdctl_py.server.grpclink import GrpcLink

        self.link = GrpcLink.bind(gs, data_dir)  # grpcio listens only on a unix socket in a private 0700 dir
        gs.start()
        self.grpc_server = gs

        from etcdctl_py.server.frontend import FrontListener, HttpApp

        v2 = None
        if f.bool("enable-v2"):
            v2 = load_v2(core, f.get("initial-cluster-token"))
        app = HttpApp(core, v2)
        for url, sock in self.sockets:
            host, port, scheme = _bind_host(url)
            ctx = ssl_ctx if scheme == "https" else None
            fl = FrontListener(host, port, self.link, app, ctx, on_peer_cn=gauth.set_peer_cn, sock=sock)
            fl.start()
            self.fronts.append(fl)
        self.sockets = []  # owned by the listeners now

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
        """--auto-compaction-*: etcd's v3compactor (etcdctl_py/server/compactor.py)."""
        from etcdctl_py.server import compactor

        compactor.run(self.core, self.flags, self.stop_ev)

    def stop(self) -> None:
        """etcd's Etcd.Close: client connections end at once (open watches and unanswered requests see their
        socket close, as with etcd), then nothing more is appended to the log, the handlers and loops that were
        mid-request finish, and only then is the log synced, committed and closed: every acknowledged write, and
        every write that was appended, is durable when the process exits."""
        self.stop_ev.set()
        for _, sock in self.sockets:  # bound, but start() failed before a listener took them over
            sock.close()
        self.sockets = []
        for fl in self.fronts:
            fl.stop()
        if self.grpc_server is not None:
            self.grpc_server.stop(None).wait(5)  # cancels every RPC still open
        if self.core is not None:
            with self.core.lock:  # core.propose checks `stopped` under this lock: no append after this point
                self.core.stopped.set()
        self._finish_in_flight(5.0)
        if getattr(self, "link", None) is not None:
            self.link.remove()  # the private socket dir goes with the server
        if self.persister is not None and self.core is not None:
            self.persister.close()

    def abandon(self) -> None:
        """After a failed start: stop what runs and remove the data dir (or member/) this start created."""
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - a half-started server: the start-up error is what gets reported
            pass
        if self.created is not None:
            import shutil

            shutil.rmtree(self.created, ignore_errors=True)
            self.created = None

    def _finish_in_flight(self, timeout: float) -> None:
        """Wait (bounded) for gRPC handlers and the lease/compaction loops still inside a proposal: one of them
        may be waiting for its WAL sync, which must not race the persister closing the WAL."""
        executor = getattr(self, "executor", None)
        waiters = []
        if executor is not None:
            waiters.append(threading.Thread(target=executor.shutdown, daemon=True, name="drain-grpc"))
            waiters[-1].start()
        deadline = time.monotonic() + timeout
        loops = [t for t in threading.enumerate() if t.name in ("lease-expiry", "auto-compaction")]
        for t in waiters + loops:
            t.join(max(0.0, deadline - time.monotonic()))


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


def services_auth(core, gauth):
    from etcdctl_py.server.auth import AuthService

    return AuthService(core, gauth)


def load_v2(core, token: str = "etcd-cluster"):
    """The v2 API (`--enable-v2`) with this server's identity; the front listener awaits its serve()."""
    from etcdctl_py.server.v2.mount import mount

    return mount(core, token)


# Go's os.Signal names, as etcd logs them
_SIGNAL_NAMES = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupt"}


def shut_down(srv: Server, signum: int | None) -> int:
    """etcd's interrupt handling (osutil.HandleInterrupts around Etcd.Close): the same log lines, then the process
    ends by the signal it got (a shell sees 143 for SIGTERM, 130 for SIGINT), as etcd re-raises it."""
    f = srv.flags
    if signum is not None:
        log("info", "received signal; shutting down", srv.level, signal=_SIGNAL_NAMES.get(signum, str(signum)))
    fields = {"name": f.get("name"), "data-dir": f.get("data-dir"),
              "advertise-peer-urls": _url_list(f.get("initial-advertise-peer-urls")),
              "advertise-client-urls": _url_list(f.get("advertise-client-urls"))}
    log("info", "closing etcd server", srv.level, **fields)
    _log_leadership_transfer(srv)
    try:
        srv.stop()
    except Exception as e:  # noqa: BLE001 - a failure while closing is logged, never a traceback
        log("error", "failed to close etcd server", srv.level, error=str(e))
    log("info", "closed etcd server", srv.level, **fields)
    if signum is None or os.getpid() == 1:  # etcd as pid 1 exits 0: the kernel would not deliver the signal
        return 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum  # not reached: the default action ends the process


def _url_list(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def _log_leadership_transfer(srv: Server) -> None:
    """EtcdServer.Stop's leadership transfer: a lone voter skips it; with voters that never run (etcd-py has no
    raft peers) there is no connected transferee, which etcd reports as an unhealthy cluster."""
    core = srv.core
    if core is None:
        return
    mid = f"{core.cfg.member_id:x}"
    if len(core.membership.voters) <= 1:
        log("info", "skipped leadership transfer for single voting member cluster", srv.level,
            **{"local-member-id": mid, "current-leader-member-id": mid})
    else:
        log("warn", "leadership transfer failed", srv.level,
            **{"local-member-id": mid, "error": "etcdserver: unhealthy cluster"})


def main(argv: list[str] | None = None) -> int:
    """etcd's startEtcdOrProxyV2 for one member: flags, ETCD_* and --config-file read and checked as etcd does
    (config.py), etcd's start-up checks, then serve until SIGTERM/SIGINT."""
    prog = sys.argv[0] if argv is None else "etcd-py"
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags = cfgmod.parse(argv)
    except cfgmod.FlagError as e:
        return _refuse_flags(e, [prog, *argv])
    if flags.version:
        print("etcd Version: 3.5.1\nGit SHA: etcd-py\nGo Version: go1.16.3\nGo OS/Arch: linux/amd64")
        return 0
    log("info", "Running: ", flags.level, args=[prog, *argv])
    for level, msg, fields in flags.notes:
        log(level, msg, flags.level, **fields)
    try:
        cfgmod.check_startup(flags)
    except cfgmod.ListenerError as e:
        log("fatal", "listener failed", "debug", error=str(e))
        return 1
    except ConfigError as e:
        return _refuse_start(flags.level, str(e))
    srv = Server(flags)
    try:
        srv.start()
    except (ConfigError, cfgmod.FlagError, OSError, ValueError) as e:
        srv.abandon()
        if isinstance(e, QuorumError):
            log("fatal", "etcd-py cannot serve this cluster alone", "debug", error=str(e))
            return 1
        if isinstance(e, ConfigError):
            return _refuse_start(flags.level, str(e))
        from etcdctl_py.server.frontend import TLSConfigError

        log("fatal", "listener failed" if isinstance(e, TLSConfigError) else "failed to start etcd-py", "debug",
            error=str(e))
        return 1
    except Exception as e:  # noqa: BLE001 - e.g. a damaged data dir: one fatal log line, never a traceback
        srv.abandon()
        log("fatal", "failed to start etcd-py", "debug", error=f"{type(e).__name__}: {e}")
        return 1

    received: list[int] = []

    def on_signal(signum, frame) -> None:
        received.append(signum)  # a second signal during shutdown changes nothing, as in etcd
        srv.stop_ev.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not srv.stop_ev.wait(1.0):
        pass
    return shut_down(srv, received[0] if received else None)


def _refuse_flags(e: Exception, args: list[str]) -> int:
    """What etcd prints, and its exit code, for a command line it does not start with."""
    if isinstance(e, cfgmod.HelpRequested):
        sys.stderr.write(cfgmod.usage())
        sys.stdout.write(cfgmod.help_text())
        return 0
    if isinstance(e, cfgmod.UsageError):  # Go's flag package: the error, then the usage text
        sys.stderr.write(f"{e}\n{cfgmod.usage()}")
        return 2
    if isinstance(e, cfgmod.GoPanic):
        sys.stderr.write(f"panic: {e}\n")
        return 2
    if isinstance(e, cfgmod.PlainFatal):
        sys.stderr.write(f"{e}\n")
        return 1
    if isinstance(e, cfgmod.EnvConflict):
        log("fatal", "conflicting environment variable is shadowed by corresponding command-line flag (either unset "
            "environment variable or disable flag))", "debug", **{"environment-variable": str(e)})
        return 1
    level = e.level if isinstance(e, cfgmod.VerifyError) else "info"
    log("info", "Running: ", level, args=args)
    log("warn", "failed to verify flags", level, error=str(e))
    if isinstance(e, cfgmod.VerifyError) and e.unset_advertise:
        log("warn", "advertise client URLs are not set", level, error=str(e))
    return 1


def _refuse_start(level: str, error: str) -> int:
    """etcd's start-up failure: "failed to start etcd", then the fatal "discovery failed", exit 1."""
    log("warn", "failed to start etcd", level, error=error)
    log("fatal", "discovery failed", "debug", error=error)
    return 1


if __name__ == "__main__":
    sys.exit(main())
