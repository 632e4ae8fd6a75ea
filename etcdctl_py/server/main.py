"""`etcd-py`: start a single-member etcd-compatible server from etcd's flags and ETCD_* variables."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import sys
import threading
import time
from concurrent import futures
from typing import TYPE_CHECKING

from etcdctl_py.server import config as cfgmod
from etcdctl_py.server.identity import ConfigError, QuorumError
from etcdctl_py.server.zaplog import log
from etcdctl_py.stdio import open_missing_std_streams

if TYPE_CHECKING:  # imported when the server starts: `--version` and refused flags need none of them
    from etcdctl_py.server.core import EtcdCore
    from etcdctl_py.server.frontend import FrontListener
    from etcdctl_py.server.persist import Persister


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


class Server:
    """Everything one etcd-py process runs; `start()` then `wait()`; `stop()` from a signal."""

    def __init__(self, flags: cfgmod.Flags) -> None:
        self.flags = flags
        self.level = flags.get("log-level")
        self.stop_ev = threading.Event()
        self.fronts: list[FrontListener] = []
        self.sockets: list[tuple[str, socket.socket]] = []  # bound before the data dir is touched
        self.grpc_server = None
        self.created: str | None = None
        self.core: EtcdCore | None = None
        self.persister: Persister | None = None

    def start(self) -> None:
        """etcd's StartEtcd for one member, in its order: client listeners bound first (a busy port or a bad TLS
        file creates nothing), then the data dir recovered or bootstrapped (server/bootstrap.py), then gRPC, then
        the listeners serve."""
        ssl_ctx = self._bind_client_listeners()
        core = self._open_data_dir()
        self._start_grpc(core)
        self._serve_clients(core, ssl_ctx)
        self._start_loops(core)
        log("info", "ready to serve client requests", self.level)
        log(
            "info",
            "serving client traffic insecurely; this is strongly discouraged!",
            self.level,
            address=",".join(_url_list(self.flags.get("listen-client-urls"))),
        )

    def _bind_client_listeners(self) -> ssl.SSLContext | None:
        """TLS files and client ports first, as etcd configures its listeners: a refusal here creates nothing."""
        f = self.flags
        listen_client = _url_list(f.get("listen-client-urls"))
        ssl_ctx = None
        if f.get("cert-file") and f.get("key-file") and any(_bind_host(u)[2] == "https" for u in listen_client):
            from etcdctl_py.server.frontend import server_ssl_context  # http-only URLs ignore the files, as etcd

            ssl_ctx = server_ssl_context(
                f.get("cert-file"),
                f.get("key-file"),
                f.get("trusted-ca-file"),
                f.bool("client-cert-auth"),
                log_level=self.level,
            )
        for url in listen_client:
            self.sockets.append((url, _listen(url)))
        return ssl_ctx

    def _open_data_dir(self) -> EtcdCore:
        """The data dir recovered or bootstrapped; what this start creates is removed again if it fails (etcd
        leaves no half-made data dir behind)."""
        from etcdctl_py.server import bootstrap

        self.persister = bootstrap.new_persister(self.flags)
        self.created = next(
            (p for p in (self.persister.data_dir, self.persister.member_dir) if not os.path.exists(p)), None
        )
        self.core = bootstrap.open_core(self.flags, self.persister)
        return self.core

    def _start_grpc(self, core: EtcdCore) -> None:
        """Every v3 service on a grpcio server that listens only on a unix socket in a private 0700 dir (the front
        listeners relay to it); grpcio's own size limits are off: services.MessageLimits enforces grpc-go's."""
        import grpc

        from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
        from etcdctl_py.server import concurrency, election, services
        from etcdctl_py.server.auth import AuthService, GrpcAuth
        from etcdctl_py.server.core import GRPC_OVERHEAD_BYTES
        from etcdctl_py.server.grpclink import GrpcLink

        f = self.flags
        if core.auth is None:  # bootstrap gives every core it opens its auth store
            raise ValueError("the core has no auth store")
        self.gauth = gauth = GrpcAuth(core.auth, client_cert_auth=f.bool("client-cert-auth"))
        opts = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1), ("grpc.so_reuseport", 0)]
        self.executor = futures.ThreadPoolExecutor(max_workers=512)  # stop() waits for its handlers
        limits = services.MessageLimits(core.cfg.max_request_bytes + GRPC_OVERHEAD_BYTES)
        gs = grpc.server(self.executor, options=opts, maximum_concurrent_rpcs=None, interceptors=[limits])
        pbg.add_KVServicer_to_server(services.KVService(core, gauth), gs)
        pbg.add_WatchServicer_to_server(
            services.WatchService(core, gauth, f.duration("experimental-watch-progress-notify-interval")), gs
        )
        pbg.add_LeaseServicer_to_server(services.LeaseService(core, gauth), gs)
        pbg.add_ClusterServicer_to_server(services.ClusterService(core, gauth), gs)
        pbg.add_MaintenanceServicer_to_server(services.MaintenanceService(core, gauth), gs)
        pbg.add_AuthServicer_to_server(AuthService(core, gauth), gs)
        concurrency.register(gs, core, gauth)
        election.register(gs, core, gauth)
        self.link = GrpcLink.bind(gs, core.cfg.data_dir)
        gs.start()
        self.grpc_server = gs

    def _serve_clients(self, core: EtcdCore, ssl_ctx: ssl.SSLContext | None) -> None:
        """The bound client sockets start serving (gRPC relayed to the link, HTTP: health, version, v2)."""
        from etcdctl_py.server.frontend import Access, FrontListener, HttpApp

        v2 = None
        if self.flags.bool("enable-v2"):
            from etcdctl_py.server.v2.mount import mount

            v2 = mount(core, self.flags.get("initial-cluster-token"))
        gateway = None
        if self.flags.bool("enable-grpc-gateway"):
            from etcdctl_py.server.gateway import Gateway

            auth = core.auth
            gateway = Gateway(
                self.link.target, lambda: bool(auth and auth.enabled), self.flags.bool("client-cert-auth")
            )
        access = Access.from_flags(self.flags.get("cors"), self.flags.get("host-whitelist"))
        app = HttpApp(core, v2, gateway, access)
        for url, sock in self.sockets:
            host, port, scheme = _bind_host(url)
            ctx = ssl_ctx if scheme == "https" else None
            fl = FrontListener(host, port, self.link, app, ctx, on_peer_cn=self.gauth.set_peer_cn, sock=sock)
            fl.start()
            self.fronts.append(fl)
        self.sockets = []  # owned by the listeners now

    def _start_loops(self, core: EtcdCore) -> None:
        threading.Thread(target=self._lease_loop, args=(core,), daemon=True, name="lease-expiry").start()
        threading.Thread(target=self._compaction_loop, args=(core,), daemon=True, name="auto-compaction").start()

    def _lease_loop(self, core: EtcdCore) -> None:
        while not self.stop_ev.wait(0.5):
            try:
                core.expire_leases()
            except Exception as e:  # noqa: BLE001
                log("warn", "lease expiry failed", self.level, error=str(e))

    def _compaction_loop(self, core: EtcdCore) -> None:
        """--auto-compaction-*: etcd's v3compactor (etcdctl_py/server/compactor.py)."""
        from etcdctl_py.server import compactor

        compactor.run(core, self.flags, self.stop_ev)

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
        if self.persister is not None:
            self.persister.close()

    def abandon(self) -> None:
        """After a failed start: stop what runs and remove the data dir (or member/) this start created."""
        try:
            self.stop()
        except Exception as e:  # noqa: BLE001 - a half-started server: the start-up error is reported after this
            log("warn", "failed to stop after a failed start", self.level, error=f"{type(e).__name__}: {e}")
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


# Go's os.Signal names, as etcd logs them
_SIGNAL_NAMES: dict[int, str] = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupt"}


def shut_down(srv: Server, signum: int | None) -> int:
    """etcd's interrupt handling (osutil.HandleInterrupts around Etcd.Close): the same log lines, then the process
    ends by the signal it got (a shell sees 143 for SIGTERM, 130 for SIGINT), as etcd re-raises it."""
    f = srv.flags
    if signum is not None:
        log("info", "received signal; shutting down", srv.level, signal=_SIGNAL_NAMES.get(signum, str(signum)))
    fields = {
        "name": f.get("name"),
        "data-dir": f.get("data-dir"),
        "advertise-peer-urls": _url_list(f.get("initial-advertise-peer-urls")),
        "advertise-client-urls": _url_list(f.get("advertise-client-urls")),
    }
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
        except (OSError, ValueError):  # closed, or a pipe nobody reads: the exit status still tells
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
        log(
            "info",
            "skipped leadership transfer for single voting member cluster",
            srv.level,
            **{"local-member-id": mid, "current-leader-member-id": mid},
        )
    else:
        log(
            "warn",
            "leadership transfer failed",
            srv.level,
            **{"local-member-id": mid, "error": "etcdserver: unhealthy cluster"},
        )


def main(argv: list[str] | None = None) -> int:
    """etcd's startEtcdOrProxyV2 for one member: flags, ETCD_* and --config-file read and checked as etcd does
    (config.py), etcd's start-up checks, then serve until SIGTERM/SIGINT."""
    prog = sys.argv[0] if argv is None else "etcd-py"
    argv = sys.argv[1:] if argv is None else argv
    open_missing_std_streams()
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

        log(
            "fatal",
            "listener failed" if isinstance(e, TLSConfigError) else "failed to start etcd-py",
            "debug",
            error=str(e),
        )
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
        log(
            "fatal",
            "conflicting environment variable is shadowed by corresponding command-line flag (either unset "
            "environment variable or disable flag))",
            "debug",
            **{"environment-variable": str(e)},
        )
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
