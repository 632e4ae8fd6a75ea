"""The one table of etcd-py's command-line flags: every flag etcd 3.5.1 defines, with its Go kind and default.

etcd-py accepts exactly etcd's flag set (so a command line that etcd takes is taken here, and one etcd refuses is
refused the same way); `acts` says whether etcd-py does something with the value or only checks it as etcd would.
The help words are ours. config.py parses with these definitions, docgen and `etcd-py --help` list them.
"""

from __future__ import annotations

from dataclasses import dataclass

# kinds: the Go flag.Value behind each flag, which decides how a value is parsed and what error it gives
#   bool, string, uint, uint64, int, int64, duration  - Go's flag package types
#   urls     - etcd's UniqueURLs (types.NewURLs; `exceptions` are taken verbatim)
#   choice   - etcd's SelectiveStringValue (one of `choices`)
#   choices  - etcd's SelectiveStringsValue (comma-separated, each one of `choices`, accumulates)
#   strings  - etcd's StringsValue / UniqueStringsValue (comma-separated, never fails)
#   ignored  - etcd's IgnoredFlag for long-removed flags (boolean syntax, any value, no effect)
BOOL_KINDS = ("bool", "ignored")

CLIENT_TLS = "client-transport-security"
PEER_TLS = "peer-transport-security"


@dataclass(frozen=True)
class FlagDef:
    name: str
    kind: str
    default: str
    help: str
    section: str
    acts: bool = False  # etcd-py uses the value (else: accepted and validated only)
    choices: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    shown: str | None = None  # the default as the listing shows it, when not the raw default
    yaml: tuple[str, ...] | None = None  # key path in a --config-file; () = not settable there
    gotype: str = ""  # the Go type a --config-file value decodes into (for json's error text)
    values: tuple[str, ...] = ()  # the values its help names, for completions (parsing checks only `choices`)

    @property
    def is_bool(self) -> bool:
        return self.kind in BOOL_KINDS

    @property
    def listed_default(self) -> str:
        """The default as --help, the man page and the completions show it."""
        return self.default if self.shown is None else self.shown

    @property
    def known_values(self) -> tuple[str, ...]:
        return self.choices or self.values

    @property
    def yaml_path(self) -> tuple[str, ...]:
        return (self.name,) if self.yaml is None else self.yaml

    @property
    def yaml_type(self) -> str:
        if self.gotype:
            return self.gotype
        return {
            "duration": "time.Duration",
            "urls": "string",
            "choice": "string",
            "choices": "string",
            "strings": "[]string",
        }.get(self.kind, self.kind)


NO_EFFECT = " Checked as etcd checks it; etcd-py does not use it."


def _f(name: str, kind: str, default: str, help: str, section: str, **kw) -> FlagDef:
    if not kw.get("acts") and kind != "ignored":
        help += NO_EFFECT
    return FlagDef(name, kind, default, help, section, **kw)


_TLS_BOOLS = ("client-cert-auth", "auto-tls")


def _tls(name: str, help: str, acts: bool = False) -> FlagDef:
    """A flag that is also a key of the config file's client- or peer-transport-security section: `peer-X` is X
    under peer-transport-security, any other name is itself under client-transport-security."""
    key = name.removeprefix("peer-")
    section = PEER_TLS if name.startswith("peer-") else CLIENT_TLS
    kind, default = ("bool", "false") if key in _TLS_BOOLS else ("string", "")
    return _f(name, kind, default, help, S, acts=acts, yaml=(section, key))


G, M, C, S, A, P, L, T, X2, E, U, IGN = (
    "General",
    "Member",
    "Clustering",
    "Security",
    "Auth",
    "Profiling and Monitoring",
    "Logging",
    "Experimental distributed tracing",
    "v2 Proxy (to be deprecated in v3.6)",
    "Experimental feature",
    "Unsafe feature",
    "Ignored (flags of old etcd releases)",
)
LOCAL_URLS = ("",)  # etcd's URL flags take an empty value without changing the list

FLAGS: tuple[FlagDef, ...] = (
    _f(
        "config-file",
        "string",
        "",
        "Read the whole configuration from this YAML file (etcd's keys); every other "
        "flag and ETCD_* variable is then ignored. Also read from ETCD_CONFIG_FILE.",
        G,
        acts=True,
        yaml=(),
    ),
    _f("version", "bool", "false", "Print etcd-py's version (as etcd's) and exit.", G, acts=True, yaml=()),
    # ---- member
    _f(
        "name",
        "string",
        "default",
        "Name of this member; names the default data directory and the member in --initial-cluster.",
        M,
        acts=True,
    ),
    _f(
        "data-dir",
        "string",
        "",
        "Where the member keeps its data (member/snap/db, member/snap/*.snap, member/wal).",
        M,
        acts=True,
        shown="${name}.etcd",
    ),
    _f("wal-dir", "string", "", "A separate directory for the write-ahead log.", M),
    _f(
        "snapshot-count",
        "uint64",
        "100000",
        "Applied entries between two .snap files (0 means the default).",
        M,
        acts=True,
    ),
    _f("heartbeat-interval", "uint", "100", "Raft heartbeat period in milliseconds.", M),
    _f(
        "election-timeout",
        "uint",
        "1000",
        "Raft election timeout in milliseconds; at least five heartbeats and at most 50000.",
        M,
    ),
    _f("initial-election-tick-advance", "bool", "true", "Skip most of the first election timeout on boot.", M),
    _f(
        "listen-peer-urls",
        "urls",
        "http://localhost:2380",
        "Comma-separated URLs for peer traffic (an IP or localhost); etcd-py has no peers and listens on none of them.",
        M,
        exceptions=LOCAL_URLS,
    ),
    _f(
        "listen-client-urls",
        "urls",
        "http://localhost:2379",
        "Comma-separated URLs to serve clients on (an IP or localhost; https needs --cert-file and --key-file).",
        M,
        acts=True,
        exceptions=LOCAL_URLS,
    ),
    _f("max-snapshots", "uint", "5", "How many .snap files to keep (0 keeps all).", M, acts=True),
    _f("max-wals", "uint", "5", "How many WAL files to keep (0 keeps all).", M, acts=True),
    _f(
        "quota-backend-bytes",
        "int64",
        "0",
        "Backend size at which writes stop and the NOSPACE alarm is raised; "
        "0 means 2 GiB, a negative value turns the quota off.",
        M,
        acts=True,
    ),
    _f("backend-bbolt-freelist-type", "string", "", "bbolt freelist kind (array or map).", M, shown="map"),
    _f("backend-batch-interval", "duration", "0s", "Longest time a backend transaction stays open.", M),
    _f("backend-batch-limit", "int", "0", "Most operations in one backend transaction.", M),
    _f("max-txn-ops", "uint", "128", "Most operations accepted in one transaction.", M, acts=True),
    _f("max-request-bytes", "uint", "1572864", "Largest client request accepted, in bytes.", M, acts=True),
    _f("grpc-keepalive-min-time", "duration", "5s", "Shortest interval a client may ping the server at.", M),
    _f(
        "grpc-keepalive-interval",
        "duration",
        "2h0m0s",
        "How often the server pings an idle connection (0 disables).",
        M,
    ),
    _f(
        "grpc-keepalive-timeout",
        "duration",
        "20s",
        "How long a ping may go unanswered before the connection is closed (0 disables).",
        M,
    ),
    _f(
        "enable-grpc-gateway", "bool", "true", "Serve the JSON gateway to the gRPC API (/v3/...) on the client URLs.", M
    ),
    _f("socket-reuse-port", "bool", "false", "Set SO_REUSEPORT on the listeners.", M, yaml=()),
    _f("socket-reuse-address", "bool", "false", "Set SO_REUSEADDR on the listeners.", M, yaml=()),
    _f("raft-read-timeout", "duration", "5s", "Read timeout of peer connections (never below 5s).", M, yaml=()),
    _f("raft-write-timeout", "duration", "5s", "Write timeout of peer connections (never below 5s).", M, yaml=()),
    # ---- clustering
    _f(
        "initial-advertise-peer-urls",
        "urls",
        "http://localhost:2380",
        "This member's peer URLs; with --name and the token they decide the member and cluster IDs, as in etcd.",
        C,
        acts=True,
        exceptions=LOCAL_URLS,
    ),
    _f(
        "initial-cluster",
        "string",
        "default=http://localhost:2380",
        "Bootstrap membership as name=peerURL,...; "
        "when left at its default and --name is not 'default', it becomes --name=<advertised peer URLs>.",
        C,
        acts=True,
    ),
    _f(
        "initial-cluster-state",
        "choice",
        "new",
        "'new' bootstraps a cluster; 'existing' joins one, which a "
        "single etcd-py member cannot do, so it only restarts an existing data directory.",
        C,
        acts=True,
        choices=("new", "existing"),
    ),
    _f(
        "initial-cluster-token",
        "string",
        "etcd-cluster",
        "Token mixed into the member and cluster IDs at bootstrap.",
        C,
        acts=True,
    ),
    _f(
        "advertise-client-urls",
        "urls",
        "http://localhost:2379",
        "Client URLs this member announces (member "
        "list, endpoint status); required when --listen-client-urls is given.",
        C,
        acts=True,
        exceptions=LOCAL_URLS,
    ),
    _f("discovery", "string", "", "Discovery service URL to bootstrap from.", C),
    _f(
        "discovery-fallback",
        "choice",
        "proxy",
        "What to do when discovery fails ('exit' or 'proxy').",
        C,
        choices=("exit", "proxy"),
    ),
    _f("discovery-proxy", "string", "", "HTTP proxy for the discovery service.", C),
    _f("discovery-srv", "string", "", "DNS domain whose SRV records list the cluster.", C),
    _f("discovery-srv-name", "string", "", "Suffix of the SRV names looked up with --discovery-srv.", C),
    _f("strict-reconfig-check", "bool", "true", "Refuse membership changes that would lose quorum.", C),
    _f("pre-vote", "bool", "true", "Run raft's pre-vote phase before an election.", C),
    _f(
        "auto-compaction-retention",
        "string",
        "0",
        "History kept by automatic compaction: a Go duration or a "
        "number of hours (periodic mode), a number of revisions (revision mode); 0 turns it off.",
        C,
        acts=True,
    ),
    _f(
        "auto-compaction-mode",
        "string",
        "periodic",
        "How --auto-compaction-retention is read: 'periodic' or 'revision'.",
        C,
        acts=True,
        values=("periodic", "revision"),
    ),
    _f("enable-v2", "bool", "false", "Also serve the v2 keys API over HTTP.", C, acts=True),
    _f("experimental-enable-v2v3", "string", "", "Prefix under which v2 requests would be served from v3.", C),
    _f(
        "v2-deprecation",
        "choices",
        "",
        "v2 store deprecation phase: not-yet, write-only, write-only-drop-data "
        "or gone; write-only and later cannot be combined with --enable-v2.",
        C,
        acts=True,
        choices=("not-yet", "write-only", "write-only-drop-data", "gone"),
        shown="not-yet",
        gotype="config.V2DeprecationEnum",
    ),
    # ---- security
    _tls("cert-file", "Certificate served on https client URLs.", acts=True),
    _tls("key-file", "Private key of --cert-file.", acts=True),
    _tls("client-cert-file", "Client certificate for outgoing client connections."),
    _tls("client-key-file", "Key of --client-cert-file."),
    _tls(
        "client-cert-auth",
        "Require clients on https URLs to present a certificate signed by --trusted-ca-file.",
        acts=True,
    ),
    _f("client-crl-file", "string", "", "Revoked client certificates.", S, yaml=()),
    _f("client-cert-allowed-hostname", "string", "", "Hostname a client certificate must carry.", S, yaml=()),
    _tls("trusted-ca-file", "CA bundle that client certificates are checked against.", acts=True),
    _tls("auto-tls", "Generate a self-signed client certificate."),
    _tls("peer-cert-file", "Certificate for peer URLs."),
    _tls("peer-key-file", "Key of --peer-cert-file."),
    _tls("peer-client-cert-file", "Client certificate for connections to peers."),
    _tls("peer-client-key-file", "Key of --peer-client-cert-file."),
    _tls("peer-client-cert-auth", "Require peers to present a certificate."),
    _tls("peer-trusted-ca-file", "CA bundle that peer certificates are checked against."),
    _tls("peer-auto-tls", "Generate a self-signed peer certificate."),
    _f("peer-cert-allowed-cn", "string", "", "Common name a peer certificate must carry.", S, yaml=()),
    _f("peer-cert-allowed-hostname", "string", "", "Hostname a peer certificate must carry.", S, yaml=()),
    _f("self-signed-cert-validity", "uint", "1", "Validity in years of generated certificates.", S),
    _f("peer-crl-file", "string", "", "Revoked peer certificates.", S, yaml=()),
    _f(
        "cipher-suites",
        "strings",
        "",
        "Comma-separated TLS cipher suite names (Go's names); empty means Go's defaults.",
        S,
    ),
    _f(
        "experimental-peer-skip-client-san-verification",
        "bool",
        "false",
        "Do not check the SAN of peer client certificates.",
        S,
        yaml=(),
    ),
    _f(
        "cors",
        "urls",
        "*",
        "Comma-separated origins allowed for CORS ('*' allows all).",
        S,
        exceptions=("*",),
        gotype="string",
    ),
    _f(
        "host-whitelist",
        "strings",
        "*",
        "Comma-separated host names accepted in plain-HTTP requests ('*' accepts all).",
        S,
        gotype="string",
    ),
    # ---- auth
    _f(
        "auth-token",
        "string",
        "simple",
        "Token type and options: 'simple' or 'jwt,pub-key=...,priv-key=...,sign-method=...'.",
        A,
        acts=True,
        values=("simple", "jwt"),
    ),
    _f("bcrypt-cost", "uint", "10", "bcrypt cost for password hashes (4 to 31; others fall back to 10).", A, acts=True),
    _f("auth-token-ttl", "uint", "300", "Lifetime of a simple token, in seconds.", A, acts=True),
    # ---- profiling and monitoring
    _f("enable-pprof", "bool", "false", "Serve Go's profiling endpoints under /debug/pprof.", P),
    _f("metrics", "string", "basic", "Level of detail of the exported metrics ('basic' or 'extensive').", P),
    _f(
        "listen-metrics-urls",
        "urls",
        "",
        "Extra URLs serving only /metrics and /health.",
        P,
        exceptions=LOCAL_URLS,
        gotype="string",
    ),
    # ---- logging
    _f(
        "logger",
        "string",
        "zap",
        "Logger implementation; only 'zap' exists in etcd 3.5.",
        L,
        acts=True,
        values=("zap",),
    ),
    _f(
        "log-outputs",
        "strings",
        "default",
        "Where log lines go: default, stderr, stdout or file paths (etcd-py always writes to stderr).",
        L,
        acts=True,
        values=("default", "stderr", "stdout"),
    ),
    _f(
        "log-level",
        "string",
        "info",
        "Lowest level logged: debug, info, warn, error, panic or fatal.",
        L,
        acts=True,
        values=("debug", "info", "warn", "error", "panic", "fatal"),
    ),
    _f("enable-log-rotation", "bool", "false", "Rotate the single file given in --log-outputs.", L),
    _f(
        "log-rotation-config-json",
        "string",
        '{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}',
        "Rotation settings as JSON (maxsize in MB, maxage in days, maxbackups, localtime, compress).",
        L,
    ),
    # ---- tracing
    _f("experimental-enable-distributed-tracing", "bool", "false", "Export OpenTelemetry traces.", T),
    _f("experimental-distributed-tracing-address", "string", "localhost:4317", "OpenTelemetry collector address.", T),
    _f("experimental-distributed-tracing-service-name", "string", "etcd", "Service name in the traces.", T),
    _f(
        "experimental-distributed-tracing-instance-id",
        "string",
        "",
        "Instance ID in the traces (unique per member).",
        T,
    ),
    # ---- v2 proxy
    _f(
        "proxy",
        "choice",
        "off",
        "Run as a v2 proxy ('off', 'readonly' or 'on').",
        X2,
        choices=("off", "readonly", "on"),
    ),
    _f("proxy-failure-wait", "uint", "5000", "Milliseconds a failed endpoint stays out of rotation.", X2),
    _f("proxy-refresh-interval", "uint", "30000", "Milliseconds between endpoint refreshes.", X2),
    _f("proxy-dial-timeout", "uint", "1000", "Dial timeout in milliseconds (0 means none).", X2),
    _f("proxy-write-timeout", "uint", "5000", "Write timeout in milliseconds (0 means none).", X2),
    _f("proxy-read-timeout", "uint", "0", "Read timeout in milliseconds (0 means none).", X2),
    # ---- experimental
    _f("experimental-initial-corrupt-check", "bool", "false", "Check the data for corruption before serving.", E),
    _f("experimental-corrupt-check-time", "duration", "0s", "Interval between cluster corruption checks.", E),
    _f("experimental-enable-lease-checkpoint", "bool", "false", "Persist the remaining TTL of leases.", E),
    _f("experimental-compaction-batch-limit", "int", "0", "Most revisions removed per compaction batch.", E),
    _f(
        "experimental-watch-progress-notify-interval",
        "duration",
        "10m0s",
        "Interval of the progress notifications sent to watchers.",
        E,
        acts=True,
    ),
    _f("experimental-downgrade-check-time", "duration", "5s", "Interval between two downgrade status checks.", E),
    _f("experimental-warning-apply-duration", "duration", "100ms", "Warn when applying a request takes longer.", E),
    _f("experimental-memory-mlock", "bool", "false", "Lock etcd's memory pages in RAM.", E),
    _f(
        "experimental-txn-mode-write-with-shared-buffer",
        "bool",
        "true",
        "Let write transactions share the read buffer.",
        E,
    ),
    _f(
        "experimental-bootstrap-defrag-threshold-megabytes",
        "uint",
        "0",
        "Defragment on boot when at least this many MB would be freed (0 never).",
        E,
    ),
    # ---- unsafe
    _f("force-new-cluster", "bool", "false", "Start a new one-member cluster from existing data.", U),
    _f("unsafe-no-fsync", "bool", "false", "Never fsync (data loss on a crash).", U),
    # ---- ignored
    *(
        _f(n, "ignored", "", "Accepted and ignored, as etcd does.", IGN, yaml=())
        for n in (
            "cluster-active-size",
            "cluster-remove-delay",
            "cluster-sync-interval",
            "config",
            "force",
            "max-result-buffer",
            "max-retry-attempts",
            "peer-heartbeat-interval",
            "peer-election-timeout",
            "retry-interval",
            "snapshot",
            "v",
            "vv",
            "test.coverprofile",
            "test.outputdir",
        )
    ),
)

BY_NAME: dict[str, FlagDef] = {f.name: f for f in FLAGS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(f.section for f in FLAGS))

# zap's level names (matched without regard to case; the empty string means info)
LOG_LEVELS = ("debug", "info", "warn", "error", "dpanic", "panic", "fatal")


def zap_level(name: str) -> str | None:
    """zapcore.Level.UnmarshalText: the canonical level for a --log-level value, None when zap refuses it."""
    low = name.lower() or "info"
    return low if low in LOG_LEVELS else None


USAGE = """Usage:

  etcd-py [flags]
    Run a single-member server that speaks etcd 3.5's API and writes etcd's files.

  etcd-py --version
    Print the version and exit.

  etcd-py -h | --help
    Print this text and the list of flags.

  etcd-py --config-file
    Take every setting from a YAML file (etcd's keys); flags and ETCD_* variables are then ignored.
"""


def render_flags() -> str:
    """The flag listing `--help` prints after the usage, in etcd's layout (section, `--flag 'default'`, text)."""
    out: list[str] = [""]
    for section in SECTIONS:
        out.append(f"{section}:")
        for f in (f for f in FLAGS if f.section == section):
            out.append(f"  --{f.name} '{f.listed_default}'" if f.kind != "ignored" else f"  --{f.name}")
            out.append(f"    {f.help}")
        out.append("")
    out.append("Every flag can also be given as an environment variable ETCD_<FLAG> (upper case, '-' as '_'); a")
    out.append("variable that repeats a flag given on the command line is an error, as in etcd.")
    return "\n".join(out) + "\n"


DEFAULTS: dict[str, str] = {f.name: f.default for f in FLAGS}
DEFAULT_INITIAL_CLUSTER = DEFAULTS["initial-cluster"]


# ---- how etcd refuses a command line (main() turns each into etcd's output and exit code) ----------------------
class FlagError(Exception):
    """A command line etcd refuses; main() turns each subclass into etcd's output and exit code."""


class UsageError(FlagError):
    """Go flag package error: message, usage text, exit 2."""


class HelpRequested(FlagError):
    """-h/--help/-help: usage on stderr, flag list on stdout, exit 0."""


class VerifyError(FlagError):
    """etcd's "failed to verify flags" (exit 1), logged at `level`: the --log-level of the logger etcd had built
    by then, else "info" (etcd's default production logger)."""

    def __init__(self, message: str, level: str = "info", unset_advertise: bool = False) -> None:
        super().__init__(message)
        self.level = level
        self.unset_advertise = unset_advertise


class EnvConflict(FlagError):
    """An ETCD_<FLAG> variable set while the flag is on the command line: zap fatal, exit 1."""


class GoPanic(FlagError):
    """etcd panics (exit 2) instead of reporting an error, e.g. on an unknown --log-level."""


class PlainFatal(FlagError):
    """etcd prints a bare line (fmt.Fprintf or log.Fatalf) and exits 1."""
