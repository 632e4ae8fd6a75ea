"""etcd 3.5.1's command line, ETCD_* variables and --config-file, read the way etcd reads them.

Go's `flag` package syntax (`-name x`, `--name=x`, booleans only as `-flag` or `-flag=value`, parsing stops at
the first non-flag word or `--`), each value parsed by its Go type (strconv.ParseBool, ParseInt/ParseUint with base
prefixes, time.ParseDuration, etcd's URL rules), then etcd's environment rules and etcd's config checks, with
etcd's error texts and exit codes:

- a bad flag: the error, the usage text, exit 2 (`UsageError`); -h/--help: usage and flag list, exit 0
- a bad ETCD_* value, a stray word, a failed check: a zap `warn` line "failed to verify flags", exit 1
  (`VerifyError`); an ETCD_* variable repeating a given flag: a zap `fatal` line, exit 1 (`EnvConflict`)
- an unknown --log-level: a Go panic, exit 2 (`GoPanic`)

The flag definitions themselves are in flagdefs.py; the YAML file is read by configfile.py.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass, field

from etcdctl_py import gofmt
from etcdctl_py.server.flagdefs import (  # the errors are defined there; re-exported for main()
    BY_NAME,
    DEFAULT_INITIAL_CLUSTER,
    DEFAULTS,
    FLAGS,
    USAGE,
    EnvConflict,
    FlagDef,
    FlagError,
    GoPanic,
    HelpRequested,
    PlainFatal,  # noqa: F401 - re-exported: main() catches cfgmod.PlainFatal
    UsageError,
    VerifyError,
    render_flags,
    zap_level,
)
from etcdctl_py.server.identity import ConfigError, parse_urls, url_host

BOOL_FLAGS: set[str] = {f.name for f in FLAGS if f.is_bool}  # flags that take no separate value
MIN_RAFT_TIMEOUT_NS = 5 * 1000_000_000
MAX_ELECTION_MS = 50000
DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
DEFAULT_SNAPSHOT_COUNT = 100000
RECOMMENDED_MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Go 1.16's tls.CipherSuites() and tls.InsecureCipherSuites() names, plus the two aliases etcd's tlsutil adds
CIPHER_SUITES = frozenset(
    (
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    )
)
V2_DEPRECATION_ORDER = ("not-yet", "write-only", "write-only-drop-data", "gone")


class ListenerError(ConfigError):
    """A client listener etcd cannot serve once started (zap fatal "listener failed", exit 1)."""


@dataclass
class Flags:
    """Parsed flag values as canonical strings (booleans "true"/"false", integers in decimal, durations in Go's
    format, URL lists canonical, sorted and comma-joined), plus what main() logs after etcd's "Running:" line."""

    values: dict[str, str]
    is_set: set[str] = field(default_factory=set)
    notes: list[tuple[str, str, dict]] = field(default_factory=list)
    version: bool = False

    @property
    def level(self) -> str:
        return self.values.get("log-level", "info")

    def get(self, name: str) -> str:
        return self.values[name]

    def bool(self, name: str) -> bool:
        return gofmt.parse_bool(self.values[name])

    def int(self, name: str) -> int:
        v = self.values[name]
        try:
            return int(v)
        except ValueError:
            raise FlagError(f'invalid value "{v}" for flag -{name}: parse error') from None

    def uint(self, name: str) -> builtins.int:  # `int` here is the method above
        return self.int(name)

    def duration(self, name: str) -> float:
        """A duration flag in seconds."""
        return gofmt.parse_duration(self.values[name]) / 1e9

    def urls(self, name: str) -> list[str]:
        v = self.values[name]
        return v.split(",") if v else []

    def strings(self, name: str) -> list[str]:
        v = self.values[name]
        return v.split(",") if v else []


# ----------------------------------------------------------------------------------------- flag values


def set_value(fd: FlagDef, raw: str, current: str) -> str:
    """Go's flag.Value.Set for one flag: the new canonical value, or ValueError with the Value's own error text
    (what follows "invalid value ... for flag -x: ")."""
    k = fd.kind
    if k == "ignored":
        return ""
    if k == "string":
        return raw
    if k == "bool":
        try:
            return "true" if gofmt.parse_bool(raw) else "false"
        except ValueError:
            raise ValueError("parse error") from None
    if k in ("uint", "uint64", "int", "int64"):
        try:
            return str(gofmt.parse_int(raw, 0, 64, signed=k.startswith("int")))
        except ValueError as e:
            raise ValueError("value out of range" if "out of range" in str(e) else "parse error") from None
    if k == "duration":
        try:
            return gofmt.format_duration(gofmt.parse_duration(raw))
        except ValueError:
            raise ValueError("parse error") from None
    if k == "urls":
        if raw in current.split(","):
            return current  # etcd's UniqueURLs: a value it already holds changes nothing
        if raw in fd.exceptions:
            return current if raw == "" else raw
        try:
            return ",".join(parse_urls(raw))
        except ConfigError as e:
            raise ValueError(str(e)) from None
    if k == "choice":
        if raw not in fd.choices:
            raise ValueError("invalid value")
        return raw
    if k == "choices":
        picked = [v for v in current.split(",") if v]
        for v in raw.split(","):
            if v not in fd.choices:
                raise ValueError(f"invalid value {gofmt.quote(v)}")
            picked.append(v)
        return ",".join(sorted(picked))
    if k == "strings":
        return raw
    raise AssertionError(f"unknown flag kind {k}")


def env_key(name: str) -> str:
    """etcd's flags.FlagToEnv: ETCD_ + upper case, '-' as '_'."""
    return "ETCD_" + name.upper().replace("-", "_")


def _parse_argv(argv: list[str], values: dict[str, str], is_set: set[str]) -> list[str]:
    """Go's FlagSet.Parse over etcd's flags; returns the words left after the flags."""
    args = list(argv)
    while args:
        s = args[0]
        if len(s) < 2 or s[0] != "-":
            break
        minuses = 2 if s[1] == "-" else 1
        if s == "--":
            args.pop(0)
            break
        name = s[minuses:]
        if not name or name[0] in "-=":
            raise UsageError(f"bad flag syntax: {s}")
        args.pop(0)
        value, has_value = "", False
        if "=" in name[1:]:
            i = name.index("=", 1)
            name, value, has_value = name[:i], name[i + 1 :], True
        fd = BY_NAME.get(name)
        if fd is None:
            if name in ("help", "h"):
                raise HelpRequested()
            raise UsageError(f"flag provided but not defined: -{name}")
        if fd.is_bool:
            try:
                values[name] = set_value(fd, value if has_value else "true", values[name])
            except ValueError as e:
                raise UsageError(f"invalid boolean value {gofmt.quote(value)} for -{name}: {e}") from None
        else:
            if not has_value:
                if not args:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args.pop(0)
            try:
                values[name] = set_value(fd, value, values[name])
            except ValueError as e:
                raise UsageError(f"invalid value {gofmt.quote(value)} for flag -{name}: {e}") from None
        is_set.add(name)
    return args


def _from_env(values: dict[str, str], is_set: set[str], environ: dict[str, str]) -> None:
    """etcd's flags.SetFlagsFromEnv: unset flags from non-empty ETCD_<FLAG> (the last bad one is the error),
    then every ETCD_* variable that repeats a given flag is fatal and every other unused one is warned about."""
    from etcdctl_py.server.zaplog import log

    already = {env_key(n) for n in is_set}
    used: set[str] = set()
    err = ""
    for fd in sorted(FLAGS, key=lambda f: f.name):
        key = env_key(fd.name)
        val = environ.get(key, "")
        if key in already or val == "":
            continue
        used.add(key)
        try:
            values[fd.name] = set_value(fd, val, values[fd.name])
        except ValueError as e:
            err = f"invalid value {gofmt.quote(val)} for {key}: {e}"
            continue
        is_set.add(fd.name)
        log("info", "recognized and used environment variable", "info", **{"variable-name": key, "variable-value": val})
    for key, val in environ.items():
        if key in used:
            continue
        if key in already:
            raise EnvConflict(key)
        if f"{key}={val}".startswith("ETCD_"):
            log("warn", "unrecognized environment variable", "info", **{"environment-variable": f"{key}={val}"})
    if err:
        raise VerifyError(err)


def parse(argv: list[str], environ: dict[str, str] | None = None) -> Flags:
    """etcd's newConfig + config.parse: the command line, then --config-file (ETCD_CONFIG_FILE) or ETCD_* and
    etcd's checks; raises a FlagError subclass for everything etcd refuses."""
    env = dict(os.environ if environ is None else environ)
    values = dict(DEFAULTS)
    is_set: set[str] = set()
    rest = _parse_argv(argv, values, is_set)
    if rest:
        raise VerifyError(f"'{rest[0]}' is not a valid flag")
    if values["version"] == "true":
        return Flags(values, is_set, version=True)
    path = values["config-file"] or env.get("ETCD_CONFIG_FILE", "")
    if path:
        from etcdctl_py.server import configfile

        values = configfile.load(path, validate)
        is_set = set()
        _canonical_level(values)
        from etcdctl_py.server.zaplog import log

        log(
            "info",
            "loaded server configuration, other configuration command line flags and environment "
            "variables will be ignored if provided",
            values["log-level"],
            path=path,
        )
    else:
        _from_cmdline(values, is_set, env)
    flags = Flags(values, is_set)
    _finish(flags)
    return flags


def _from_cmdline(values: dict[str, str], is_set: set[str], env: dict[str, str]) -> None:
    """etcdmain's configFromCmdLine after the flags: environment, raft timeout floors, URL defaults, checks."""
    from etcdctl_py.server.zaplog import log

    version = env.get("ETCD_VERSION", "")
    if version:  # etcd unsets it (an empty one stays, and is then just an unknown variable)
        del env["ETCD_VERSION"]
        log("warn", "cannot set special environment variable", "info", key="ETCD_VERSION", value=version)
    _from_env(values, is_set, env)
    for name in ("raft-read-timeout", "raft-write-timeout"):
        if gofmt.parse_duration(values[name]) < MIN_RAFT_TIMEOUT_NS:
            values[name] = gofmt.format_duration(MIN_RAFT_TIMEOUT_NS)
            log("info", f"{name} increased to minimum value: {values[name]}", "info")
    if "listen-client-urls" in is_set and "advertise-client-urls" not in is_set and not may_be_proxy(values):
        values["advertise-client-urls"] = ""
        advertise_unset = True
    else:
        advertise_unset = False
    if any(values[n] for n in ("discovery", "discovery-srv", "discovery-srv-name")) and "initial-cluster" not in is_set:
        values["initial-cluster"] = ""
    validate(values, advertise_unset=advertise_unset)


def may_be_proxy(values: dict[str, str]) -> bool:
    """etcdmain's mayBeProxy: a v2 proxy, or a discovery that may fall back to one."""
    return values["proxy"] != "off" or (values["discovery"] != "" and values["discovery-fallback"] == "proxy")


def _canonical_level(values: dict[str, str]) -> None:
    values["log-level"] = zap_level(values["log-level"]) or values["log-level"]


def _finish(flags: Flags) -> None:
    """What etcd settles after parsing: the initial cluster named after --name, the default data dir."""
    v = flags.values
    _canonical_level(v)
    if v["name"] != "default" and v["initial-cluster"] == DEFAULT_INITIAL_CLUSTER:
        name = v["name"] or "default"
        v["initial-cluster"] = ",".join(f"{name}={u}" for u in flags.urls("initial-advertise-peer-urls"))
    if not v["data-dir"]:
        v["data-dir"] = f"{v['name']}.etcd"
        flags.notes.append(("warn", "'data-dir' was empty; using default", {"data-dir": v["data-dir"]}))


# ----------------------------------------------------------------------------------------- etcd's checks


def validate(values: dict[str, str], advertise_unset: bool = False, from_file: bool = False) -> None:
    """embed.Config.Validate (plus etcdmain's proxy exception): raises VerifyError/GoPanic with etcd's texts."""
    zlevel = _check_logging(values)
    level = "info" if from_file else zlevel  # a file's errors predate its logger

    def fail(msg: str, unset: bool = False) -> VerifyError:
        return VerifyError(msg, level=level, unset_advertise=unset)

    for name in ("listen-peer-urls", "listen-client-urls", "listen-metrics-urls"):
        for u in _urls(values[name]):
            if not _bind_ok(u):
                raise fail(f"expected IP in URL for binding ({u})")
    for name in ("initial-advertise-peer-urls", "advertise-client-urls"):
        for u in _urls(values[name]):
            if url_host(u).rsplit(":", 1)[0].strip("[]") == "":
                raise fail(f'--{name} {gofmt.quote(values[name])} must be "host:port" (unexpected empty host ({u}))')
    if values["initial-cluster-state"] not in ("new", "existing"):
        raise fail(f"unexpected clusterState {gofmt.quote(values['initial-cluster-state'])}")
    if sum(1 for n in ("discovery", "initial-cluster", "discovery-srv") if values[n]) > 1:
        raise fail(
            'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" '
            'or "discovery-srv"'
        )
    tick, election = int(values["heartbeat-interval"]), int(values["election-timeout"])
    if tick == 0:
        raise fail(f"--heartbeat-interval must be >0 (set to {tick}ms)")
    if election == 0:
        raise fail(f"--election-timeout must be >0 (set to {election}ms)")
    if 5 * tick > election:
        raise fail(f"--election-timeout[{election}ms] should be at least as 5 times as --heartbeat-interval[{tick}ms]")
    if election > MAX_ELECTION_MS:
        raise fail(f"--election-timeout[{election}ms] is too long, and should be set less than {MAX_ELECTION_MS}ms")
    if advertise_unset and not may_be_proxy(values):
        raise fail("--advertise-client-urls is required when --listen-client-urls is set explicitly", unset=True)
    if values["auto-compaction-mode"] not in ("", "periodic", "revision"):
        raise fail(f"unknown auto-compaction-mode {gofmt.quote(values['auto-compaction-mode'])}")


def _check_logging(values: dict[str, str]) -> str:
    """embed's setupLogging: logger name, --log-outputs, rotation target, then the level (a panic in etcd);
    returns zap's canonical level."""
    logger = values["logger"]
    if logger == "capnslog":
        raise VerifyError("--logger=capnslog is removed in v3.5")
    if logger != "zap":
        raise VerifyError(f"unknown logger option {gofmt.quote(logger)}")
    outputs = log_outputs(values)
    if len(outputs) > 1 and "default" in outputs:
        raise VerifyError('multi logoutput for "default" is not supported yet')
    if values["enable-log-rotation"] == "true":
        files = sum(1 for o in outputs if o not in ("default", "stderr", "stdout"))
        if (len(outputs) == 1 and files == 0) or files > 1:
            raise VerifyError("--log-outputs requires a single file path when --log-rotate-config-json is defined")
    level = zap_level(values["log-level"])
    if level is None:
        raise GoPanic(f"unrecognized level: {gofmt.quote(values['log-level'])}")
    return level


def log_outputs(values: dict[str, str]) -> list[str]:
    """--log-outputs as etcd's UniqueStringsValue holds it (sorted, unique; empty means default)."""
    v = values["log-outputs"]
    return sorted(set(v.split(","))) if v else ["default"]


def _urls(text: str) -> list[str]:
    return text.split(",") if text else []


def _bind_ok(url: str) -> bool:
    """etcd's checkBindURLs for one URL: unix sockets, localhost or an IP literal."""
    import ipaddress

    if url.startswith(("unix:", "unixs:")):
        return True
    host = url_host(url).rsplit(":", 1)[0]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    if "%" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------- start-up checks


def member_initialized(flags: Flags) -> bool:
    """etcd's isMemberInitialized: the WAL directory holds a .wal file."""
    wal = flags.get("wal-dir") or os.path.join(flags.get("data-dir"), "member", "wal")
    try:
        return any(n.endswith(".wal") for n in os.listdir(wal))
    except OSError:
        return False


def check_startup(flags: Flags) -> None:
    """The checks etcd makes while starting (embed.StartEtcd, NewServer) that need no data dir, in etcd's order:
    cipher suites, peer then client TLS, the bootstrap cluster, the compaction retention, joining an existing
    cluster, v2 vs --v2-deprecation. Raises ConfigError (etcd: "failed to start etcd" then the fatal "discovery
    failed", exit 1); logs etcd's warnings about ignored TLS files and an oversized request limit."""
    from etcdctl_py.server.zaplog import log

    def warn(msg: str, **kv) -> None:
        log("warn", msg, flags.level, **kv)

    for name in flags.strings("cipher-suites"):
        if name not in CIPHER_SUITES:
            raise ConfigError(f"unexpected TLS cipher suite {gofmt.quote(name)}")
    _check_listeners(flags, "peer", warn)
    _check_listeners(flags, "client", warn)
    initialized = member_initialized(flags)
    if not initialized:
        _check_bootstrap(flags)
    _check_retention(flags)
    _warn_request_limit(flags, warn)
    if not initialized and flags.get("initial-cluster-state") == "existing":
        raise ConfigError(
            "cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs"
        )
    phase = flags.get("v2-deprecation") or "not-yet"
    if flags.bool("enable-v2") and phase in V2_DEPRECATION_ORDER[1:]:
        raise ConfigError(f"--enable-v2 and --v2-deprecation={phase} are mutually exclusive")
    cert, key = flags.get("cert-file"), flags.get("key-file")
    secure = any(u.startswith(("https:", "unixs:")) for u in flags.urls("listen-client-urls"))
    if secure and bool(cert) != bool(key):  # etcd finds it serving the first TLS connection setup
        raise ListenerError(f"KeyFile and CertFile must both be present[key: {key}, cert: {cert}]")


def _check_retention(flags: Flags) -> None:
    """embed's parseCompactionRetention must read --auto-compaction-retention."""
    from etcdctl_py.server.compactor import parse_retention

    try:
        parse_retention(flags.get("auto-compaction-mode"), flags.get("auto-compaction-retention") or "0")
    except ValueError as e:
        raise ConfigError(f"error parsing CompactionRetention: {e}") from None


def _warn_request_limit(flags: Flags, warn) -> None:
    """NewServer's warning for a --max-request-bytes above 10 MiB (sizes as go-humanize writes them)."""
    mrb = flags.uint("max-request-bytes")
    if mrb > RECOMMENDED_MAX_REQUEST_BYTES:
        from etcdctl_py.humanize import go_bytes

        warn(
            "exceeded recommended request limit",
            **{
                "max-request-bytes": mrb,
                "max-request-size": go_bytes(mrb),
                "recommended-request-bytes": RECOMMENDED_MAX_REQUEST_BYTES,
                "recommended-request-size": go_bytes(RECOMMENDED_MAX_REQUEST_BYTES),
            },
        )


def _check_listeners(flags: Flags, which: str, warn) -> None:
    """embed's configurePeerListeners/configureClientListeners before they bind: https needs a key and cert."""
    prefix = "peer-" if which == "peer" else ""
    cert, key = flags.get(prefix + "cert-file"), flags.get(prefix + "key-file")
    tls_given = bool(cert or key)
    auto = flags.bool(prefix + "auto-tls")
    bound: list[str] = []  # client addresses etcd has bound when a later URL fails (it closes them, logging it)
    for u in flags.urls("listen-peer-urls" if which == "peer" else "listen-client-urls"):
        scheme = u.split(":", 1)[0]
        if scheme == "http" or (which == "client" and scheme == "unix"):
            if tls_given or auto:
                warn(
                    "scheme is HTTP while key and cert files are present; ignoring key and cert files",
                    **{f"{which}-url": u},
                )
            if flags.bool(prefix + "client-cert-auth"):
                warn(
                    f"scheme is HTTP while --{prefix}client-cert-auth is enabled; ignoring client cert auth for "
                    "this URL",
                    **{f"{which}-url": u},
                )
        if scheme not in ("https", "unixs") or tls_given or (auto and which == "peer"):
            if url_host(u) not in bound:
                bound.append(url_host(u))
            continue
        if auto:
            error = (
                f"etcd-py cannot generate certificates (--auto-tls): give --cert-file and --key-file for client url {u}"
            )
        elif which == "peer":
            raise ConfigError(f"cannot listen on TLS for {url_host(u)}: KeyFile and CertFile are not presented")
        else:
            error = f"TLS key/cert (--cert-file, --key-file) must be provided for client url {u} with HTTPS scheme"
        for addr in reversed(bound):
            warn("closing peer listener", address=addr, error=error)
        raise ConfigError(error)


def _check_bootstrap(flags: Flags) -> None:
    """embed's PeerURLsMapAndToken for a new member: the initial cluster must parse. What etcd-py cannot do for a
    new member (a v2 proxy, discovery, DNS SRV) is refused in its own words: it never resolves or dials out."""
    from etcdctl_py.storage.membership import MembershipError, parse_initial_cluster

    if flags.get("proxy") != "off":
        raise ConfigError(f"etcd-py cannot run as a v2 proxy (--proxy {flags.get('proxy')})")
    if flags.get("discovery") or flags.get("discovery-srv"):
        which = "--discovery" if flags.get("discovery") else "--discovery-srv"
        raise ConfigError(
            f"error setting up initial cluster: etcd-py does not bootstrap through {which}; give --initial-cluster"
        )
    try:
        parse_initial_cluster(flags.get("initial-cluster"))
    except MembershipError as e:
        raise ConfigError(f"error setting up initial cluster: {e}") from None


def backend_quota(flags: Flags) -> int:
    """The backend quota etcd enforces: 0 is etcd's 2 GiB default, a negative value disables the quota."""
    q = flags.int("quota-backend-bytes")
    if q < 0:
        return 1 << 62
    return q or DEFAULT_QUOTA_BYTES


def snapshot_count(flags: Flags) -> int:
    """--snapshot-count as etcd applies it: 0 means the default (100000)."""
    return flags.uint("snapshot-count") or DEFAULT_SNAPSHOT_COUNT


# ----------------------------------------------------------------------------------------- output


def usage() -> str:
    return USAGE


def help_text() -> str:
    return render_flags()
