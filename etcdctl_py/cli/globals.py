"""etcdctl's global flags, the ETCDCTL_* environment variables, and building a client from them.

The order of checks follows etcdctl's clientConfigFromCmd so errors surface in the same order:
environment (warnings / fatal conflict) → --debug dump → endpoints → TLS empty-string checks →
--user/--password → output format → TLS files → authentication.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from etcdctl_py.cli.cobra import Context, Flag
from etcdctl_py.cli.errors import (
    EXIT_BAD_ARGS,
    EXIT_BAD_CONNECTION,
    EXIT_ERROR,
    EXIT_PROMPT_INTERRUPTED,
    ExitError,
    bad_feature,
)

if TYPE_CHECKING:
    from etcdctl_py.client import Client, TLSConfig
    from etcdctl_py.output.printer import Printer

SECOND = 1_000_000_000
NO_TTY = "stty: 'standard input': Inappropriate ioctl for device\n"  # what `stty` says when stdin is no terminal

GLOBAL_FLAGS: list[Flag] = [
    Flag.string_slice("endpoints", ["127.0.0.1:2379"], "gRPC endpoints"),
    Flag.bool("debug", False, "enable client-side debug logging"),
    Flag.string("write-out", "simple", "set the output format (fields, json, protobuf, simple, table)", "w"),
    Flag.bool("hex", False, "print byte strings as hex encoded strings"),
    Flag.duration("dial-timeout", 2 * SECOND, "dial timeout for client connections"),
    Flag.duration("command-timeout", 5 * SECOND, "timeout for short running command (excluding dial timeout)"),
    Flag.duration("keepalive-time", 2 * SECOND, "keepalive time for client connections"),
    Flag.duration("keepalive-timeout", 6 * SECOND, "keepalive timeout for client connections"),
    Flag.bool("insecure-transport", True, "disable transport security for client connections"),
    Flag.bool("insecure-discovery", True, "accept insecure SRV records describing cluster endpoints"),
    Flag.bool(
        "insecure-skip-tls-verify",
        False,
        "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)",
    ),
    Flag.string("cert", "", "identify secure client using this TLS certificate file"),
    Flag.string("key", "", "identify secure client using this TLS key file"),
    Flag.string("cacert", "", "verify certificates of TLS-enabled secure servers using this CA bundle"),
    Flag.string("user", "", "username[:password] for authentication (prompt if password is not supplied)"),
    Flag.string(
        "password", "", "password for authentication (if this option is used, --user option shouldn't include password)"
    ),
    Flag.string("discovery-srv", "", "domain name to query for SRV records describing cluster endpoints", "d"),
    Flag.string("discovery-srv-name", "", "service name to query when using DNS discovery"),
]


def flag_to_env(name: str) -> str:
    return "ETCDCTL_" + name.upper().replace("-", "_")


# ---------------------------------------------------------------- zap-style log lines


def zap_epoch_line(level: str, caller: str, msg: str, **fields: str) -> str:
    """A zap production JSON line with an epoch-seconds `ts` (what etcdctl 3.5.1's own logger prints)."""
    import json
    import time

    parts = [f'"level":"{level}"', f'"ts":{repr(time.time())}', f'"caller":"{caller}"', f'"msg":{json.dumps(msg)}']
    parts += [f'"{k}":{json.dumps(v, ensure_ascii=False)}' for k, v in fields.items()]
    return "{" + ",".join(parts) + "}\n"


def iso_ts() -> str:
    """zap's ISO8601 time as the etcd client logger prints it (local time, ms, `Z` or `+hhmm`)."""
    import datetime

    now = datetime.datetime.now().astimezone()
    off = now.strftime("%z")
    zone = "Z" if off in ("+0000", "-0000") else off
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}" + zone


def client_warn_line(
    go_error: str,
    authority: str,
    attempt: int = 0,
    *,
    ts: str | None = None,
    logger: str = "etcd-client",
    ptr: str | None = None,
) -> None:
    """The Go client's `retrying of unary invoker failed` warning that precedes etcdctl's `Error:` line: ISO time
    and the "etcd-client" logger by default; `endpoint health`'s clients log epoch seconds as "client"."""
    import json

    if ptr is None:
        ptr = "0xc000%06x" % (os.getpid() * 0x80 % 0xFFFF80 + 0x100000 & 0xFFFF80)
    stamp = ts if ts is not None else '"' + iso_ts() + '"'
    line = (
        '{"level":"warn","ts":' + stamp + ',"logger":"' + logger + '","caller":"v3/retry_interceptor.go:62",'
        '"msg":"retrying of unary invoker failed","target":"etcd-endpoints://'
        + ptr
        + "/"
        + authority
        + '","attempt":'
        + str(attempt)
        + ',"error":'
        + json.dumps(go_error, ensure_ascii=False)
        + "}\n"
    )
    sys.stderr.write(line)
    sys.stderr.flush()


# ---------------------------------------------------------------- environment


def apply_env(ctx: Context, extra_known: tuple[str, ...] = ()) -> None:
    """etcdctl's SetPflagsFromEnv over the command's inherited (global) flags.

    A non-empty ETCDCTL_X sets flag x unless x was given on the command line, in which case the
    process dies with the zap `fatal` line (exit 1). Unparsable values are silently ignored.
    Unknown ETCDCTL_* variables each get a `warn` line.
    """
    inherited = [f.name for f in ctx.cmd.inherited_flags()] + list(extra_known)
    already = {flag_to_env(n) for n in inherited if ctx.changed(n)}
    used: set[str] = set()
    for name in sorted(inherited):
        key = flag_to_env(name)
        if key in already:
            continue
        val = os.environ.get(key, "")
        if val:
            used.add(key)
            if name in ctx.flags:
                try:
                    ctx.set_from_text(name, val)
                except ValueError:
                    pass  # etcdctl ignores a value its flag cannot parse: the default stays
    from etcdctl_py.client.client import TRANSPORT_ENV  # ours, not a flag: never "unrecognized"

    for env_key, env_val in os.environ.items():
        if env_key in used or env_key == TRANSPORT_ENV:
            continue
        if env_key in already:
            sys.stderr.write(
                zap_epoch_line(
                    "fatal",
                    "flags/flag.go:85",
                    "conflicting environment variable is shadowed by corresponding command-line flag "
                    "(either unset environment variable or disable flag))",
                    **{"environment-variable": env_key},
                )
            )
            raise ExitError(EXIT_ERROR, None)
        if env_key.startswith("ETCDCTL_"):
            sys.stderr.write(
                zap_epoch_line(
                    "warn",
                    "flags/flag.go:93",
                    "unrecognized environment variable",
                    **{"environment-variable": f"{env_key}={env_val}"},
                )
            )


# ---------------------------------------------------------------- session


class Session:
    """Everything a verb needs once global flags are settled: the printer and a client factory."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.printer: Printer = None  # type: ignore[assignment]
        self._client: Client | None = None

    @property
    def command_timeout(self) -> float:
        return self.ctx.get("command-timeout") / SECOND

    def client(self) -> Client:
        if self._client is None:
            self._client = _new_client(self.ctx)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def setup(ctx: Context, *, extra_env: tuple[str, ...] = ()) -> Session:
    """Apply env, --debug, TLS/auth checks and the printer, like etcdctl's clientConfigFromCmd."""
    apply_env(ctx, extra_env)
    if ctx.get("debug"):
        for f in sorted(ctx.cmd.inherited_flags(), key=lambda f: f.name):
            sys.stderr.write(f"{flag_to_env(f.name)}={f.render(ctx.get(f.name))}\n")
        for name in extra_env:
            sys.stderr.write(f"{flag_to_env(name)}=\n")
    _endpoints(ctx)
    for flag in ("cert", "key", "cacert"):
        if ctx.changed(flag) and ctx.get(flag) == "":
            raise ExitError(EXIT_BAD_ARGS, f"empty string is passed to --{flag} option")
    _auth(ctx)
    s = Session(ctx)
    from etcdctl_py.output import new_printer

    p = new_printer(ctx.get("write-out"), ctx.get("hex"))
    if p is None:
        raise bad_feature("unsupported output format")
    s.printer = p
    return s


def _endpoints(ctx: Context) -> list[str]:
    if ctx.get("discovery-srv"):
        # DNS SRV discovery would send queries off this machine; we refuse it clearly instead of
        # resolving (etcdctl prints its resolver's error in the same shape).
        domain = ctx.get("discovery-srv")
        raise ExitError(
            EXIT_ERROR,
            f"dns lookup errors: DNS SRV discovery of {domain!s} is not supported by "
            "etcdctl-py; pass --endpoints instead",
        )
    return [e.strip() for e in ctx.get("endpoints")]


def _auth(ctx: Context) -> None:
    user = ctx.get("user")
    if not user:
        ctx.values["_auth"] = None
        return
    password = ctx.get("password")
    if password == "":
        name, sep, pw = user.partition(":")
        if not sep:
            pw = ask_password("Password: ")
        user, password = name, pw
    ctx.values["_auth"] = (user, password)


def ask_password(prompt: str) -> str:
    """speakeasy.Ask: the prompt on stdout, the answer read with echo off, a newline on stdout; EOF reads as "".

    A signal during the prompt ends the process with exit 255 and no message, as speakeasy's os.Exit(-1) does."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    try:
        with _echo_off():
            line = sys.stdin.readline()
    except KeyboardInterrupt:
        raise ExitError(EXIT_PROMPT_INTERRUPTED, None) from None
    except OSError as e:
        raise ExitError(EXIT_ERROR, str(e)) from None
    sys.stdout.write("\n")
    sys.stdout.flush()
    return line.rstrip("\r\n")


@contextlib.contextmanager
def _echo_off() -> Iterator[None]:
    """speakeasy's `stty -echo` before the read and `stty echo` after it; without a terminal, each complains."""
    if not sys.stdin.isatty():
        sys.stderr.write(NO_TTY)
        try:
            yield
        finally:
            sys.stderr.write(NO_TTY)
        return
    import termios

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    new = termios.tcgetattr(fd)
    new[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def tls_config(ctx: Context) -> TLSConfig | None:
    """etcdctl's newClientCfg: a TLS configuration when a file is named or --insecure-transport=false. Which
    endpoints use it (or TLS without it, for https:// and unixs://) is the client's business, as in clientv3."""
    from etcdctl_py.client import TLSConfig

    if ctx.get("cert") or ctx.get("key") or ctx.get("cacert") or not ctx.get("insecure-transport"):
        return TLSConfig(
            ca_file=ctx.get("cacert"),
            cert_file=ctx.get("cert"),
            key_file=ctx.get("key"),
            insecure_skip_verify=ctx.get("insecure-skip-tls-verify"),
        )
    return None


def check_tls_files(ctx: Context) -> None:
    """Read the TLS files now, as etcdctl's newClientCfg does before any client exists (bad ones: exit 128)."""
    from etcdctl_py.client import ConfigError

    tls = tls_config(ctx)
    if tls is not None:
        try:
            tls.read()
        except ConfigError as e:
            raise ExitError(EXIT_BAD_ARGS, str(e)) from None


def _new_client(ctx: Context) -> Client:
    from etcdctl_py.client import AuthenticationFailed, Client, ConfigError, DeadlineExceeded, NoAvailableEndpoints

    tls = tls_config(ctx)
    auth = ctx.values.get("_auth")
    try:
        return Client(
            _endpoints(ctx),
            dial_timeout=ctx.get("dial-timeout") / SECOND,
            command_timeout=ctx.get("command-timeout") / SECOND,
            keepalive_time=ctx.get("keepalive-time") / SECOND,
            keepalive_timeout=ctx.get("keepalive-timeout") / SECOND,
            tls=tls,
            user=auth[0] if auth else None,
            password=auth[1] if auth else None,
            warn_logger=client_warn_line,
        )
    except ConfigError as e:
        raise ExitError(EXIT_BAD_ARGS, str(e)) from None
    except (AuthenticationFailed, DeadlineExceeded, NoAvailableEndpoints) as e:
        raise ExitError(EXIT_BAD_CONNECTION, str(e)) from None
