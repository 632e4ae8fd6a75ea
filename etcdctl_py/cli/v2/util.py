"""Shared pieces of the v2 commands: building the client from global flags/env (etcdctl's
ctlv2/command/util.go), error printing with v2 exit codes, and the response printer."""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import NoReturn

from etcdctl_py.cli.errors import EXIT_BAD_CONNECTION, EXIT_ERROR, EXIT_SERVER_ERROR

from ...v2client import Client, ClusterError, Deadline, PlainError, Response, TLSConfig, Transport, V2Error
from ...v2client.transport import DEFAULT_DIAL_TIMEOUT
from .app import Context, Exit, Out

DEFAULT_ENDPOINTS = "http://127.0.0.1:2379,http://127.0.0.1:4001"


def handle_error(c: Context, code: int, err: BaseException) -> NoReturn:
    """`Error:  <err>` (Println with a label ending in a space), cluster detail, exit."""
    Out.err(f"Error:  {err}\n")
    if isinstance(err, ClusterError):
        Out.err(err.detail() + "\n")
    raise Exit(code)


def fail(msg: str, code: int = EXIT_ERROR) -> NoReturn:
    """fmt.Fprintln(os.Stderr, msg); os.Exit(code)."""
    Out.err(msg + "\n")
    raise Exit(code)


def seconds(c: Context, name: str) -> float:
    """A global duration flag (nanoseconds, as Go's time.Duration) in seconds."""
    return float(c.g(name)) / 1e9


def total_deadline(c: Context) -> Deadline:
    return Deadline(seconds(c, "total-timeout"))


def exit_on_sigint() -> None:
    """CTRL+C ends a watch loop with exit 0, as etcdctl's watchers do (signal.Notify, then os.Exit(0))."""

    def handler(signum: int, frame: object) -> None:
        os._exit(0)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (in-process use): leave the default
        pass


def _peers(c: Context) -> list[str]:
    s = c.g("endpoints") or os.environ.get("ETCDCTL_ENDPOINTS", "")
    s = s or c.g("endpoint") or os.environ.get("ETCDCTL_ENDPOINT", "")
    s = s or c.g("peers") or os.environ.get("ETCDCTL_PEERS", "")
    return (s or DEFAULT_ENDPOINTS).split(",")


def _go_url(ep: str) -> str:
    """url.Parse + default scheme http + String(), with Go's parse errors."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", ep)
    scheme = m.group(1) if m else ""
    if not scheme:
        if ep.startswith(":"):
            raise PlainError(f'parse "{ep}": missing protocol scheme')
        first = ep.split("/", 1)[0]
        if ":" in first and not ep.startswith("//"):
            raise PlainError(f'parse "{ep}": first path segment in URL cannot contain colon')
        if ep.startswith("//"):
            return "http:" + ep
        return "http:" + ep if ep else "http:"
    return ep


def get_endpoints(c: Context) -> list[str]:
    if c.g("discovery-srv") or os.environ.get("ETCDCTL_DISCOVERY_SRV"):
        # SRV discovery needs DNS; etcdctl-py never resolves host names.
        raise PlainError("SRV discovery is not supported by etcdctl-py; pass --endpoints")
    return [_go_url(e) for e in _peers(c)]


def _tls(c: Context) -> TLSConfig:
    return TLSConfig(
        ca_file=c.g("ca-file") or os.environ.get("ETCDCTL_CA_FILE", ""),
        cert_file=c.g("cert-file") or os.environ.get("ETCDCTL_CERT_FILE", ""),
        key_file=c.g("key-file") or os.environ.get("ETCDCTL_KEY_FILE", ""),
    )


def get_transport(c: Context, header_timeout: float = 0.0) -> Transport:
    tls = _tls(c)
    for f in (tls.ca_file, tls.cert_file, tls.key_file):
        if f and not os.path.exists(f):
            raise PlainError(f"open {f}: no such file or directory")
    if (tls.cert_file and not tls.key_file) or (tls.key_file and not tls.cert_file):
        raise PlainError(f"KeyFile and CertFile must both be present[key: {tls.key_file}, cert: {tls.cert_file}]")
    dial = DEFAULT_DIAL_TIMEOUT
    total = seconds(c, "total-timeout")
    if total and total < dial:
        dial = total
    t = Transport(tls, dial, header_timeout)
    if tls.ca_file or tls.cert_file:
        try:
            t._ssl_context()
        except Exception as e:  # noqa: BLE001 - report like Go's tls loader, never a traceback
            raise PlainError(f"tls: failed to load key pair: {e}") from None
    return t


def ask_password(prompt: str) -> str:
    """speakeasy.Ask: prompt on stdout, `/bin/stty -echo`, read a line, `/bin/stty echo`, newline.

    stty runs with our stdin/stdout/stderr like speakeasy's ForkExec, so its complaints about a
    non-terminal stdin reach stderr exactly as they do with etcdctl.
    """
    import subprocess

    Out.out(prompt)

    def stty(arg: str) -> None:
        try:
            subprocess.run(
                ["stty", arg],
                executable="/bin/stty",
                stdin=sys.stdin,
                stdout=sys.stdout,
                stderr=sys.stderr,
                check=False,
            )
        except OSError:  # no stty: the password is read with echo on rather than not at all
            pass

    stty("-echo")
    try:
        raw = sys.stdin.buffer.readline() if hasattr(sys.stdin, "buffer") else sys.stdin.readline().encode()
    finally:
        stty("echo")
    line = raw.decode("utf-8", "surrogateescape")
    Out.out("\n")
    return line.rstrip("\n").rstrip("\r")


def username_password(prompt: str, flag: str) -> tuple[str, str]:
    if ":" not in flag:
        return flag, ask_password(prompt)
    u, p = flag.split(":", 1)
    return u, p


def new_client(c: Context) -> Client:
    eps = get_endpoints(c)
    tr = get_transport(c, seconds(c, "timeout"))
    uflag = c.g("username") or os.environ.get("ETCDCTL_USERNAME", "")
    user = pw = ""
    if uflag:
        user, pw = username_password("Password: ", uflag)
    return Client(eps, tr, user, pw)


def must_new_client(c: Context, sync: bool = True) -> Client:
    try:
        hc = new_client(c)
    except V2Error as e:
        fail(str(e))
    debug = bool(c.g("debug"))
    if not sync:
        if debug:
            Out.err(f"Cluster-Endpoints: {', '.join(hc.endpoints)}\n")
            hc.debug = True
        return hc
    hc.debug = debug
    if not c.g("no-sync"):
        if debug:
            Out.err(f"start to sync cluster using endpoints({','.join(hc.endpoints)})\n")
        try:
            hc.sync(total_deadline(c))
        except V2Error as e:
            if str(e) == "client: no endpoints available":
                Out.err("etcd cluster has no published client endpoints.\n")
                Out.err(
                    f"Try '--no-sync' if you want to access non-published client endpoints({','.join(hc.endpoints)}).\n"
                )
                handle_error(c, EXIT_SERVER_ERROR, e)
            if e.connection:
                handle_error(c, EXIT_BAD_CONNECTION, e)
        if debug:
            Out.err(f"got endpoints({','.join(hc.endpoints)}) after sync\n")
    if debug:
        Out.err(f"Cluster-Endpoints: {', '.join(hc.endpoints)}\n")
    return hc


def arg_or_stdin(args: list[str], i: int) -> str | None:
    if i < len(args):
        return args[i]
    try:
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    except (OSError, ValueError):
        return None
    if not data:
        return None
    return data.decode("utf-8", "surrogateescape")


def print_response_key(resp: Response, fmt: str) -> None:
    """printResponseKey: simple / extended / json."""
    node = resp.node
    if fmt == "simple":
        if resp.action != "delete":
            Out.out((node.value if node else "") + "\n")
        else:
            Out.out(f"PrevNode.Value: {resp.prev_node.value if resp.prev_node else ''}\n")
    elif fmt == "extended":
        assert node is not None
        s = f"Key: {node.key}\nCreated-Index: {node.created_index}\nModified-Index: {node.modified_index}\n"
        if resp.prev_node is not None:
            s += f"PrevNode.Value: {resp.prev_node.value}\n"
        s += f"TTL: {node.ttl}\nIndex: {resp.index}\n"
        if resp.action != "delete":
            s += f"\n{node.value}\n"
        Out.out(s)
    elif fmt == "json":
        Out.out(resp.to_json() + "\n")
    else:
        Out.err(f"Unsupported output format: {fmt}\n")
