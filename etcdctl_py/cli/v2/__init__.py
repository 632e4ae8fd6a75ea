"""`ETCDCTL_API=2 etcdctl`: the v2 command tree (urfave/cli v1.22 semantics) over the v2 HTTP API.

Entry point: `main(argv)` where argv excludes the program name; returns the exit code.
"""

from __future__ import annotations

from etcdctl_py.cli.errors import EXIT_SIGPIPE

from . import auth_cmds, backup_cmd, cluster_cmds, keys_cmds
from .app import App, Exit
from .flags import Flag

SECOND = 1_000_000_000  # durations are nanoseconds, as Go's time.Duration


def global_flags() -> list[Flag]:
    return [
        Flag("debug", "bool", "output cURL commands which can be used to reproduce the request"),
        Flag("no-sync", "bool", "don't synchronize cluster information before sending request"),
        Flag("output, o", "string", "output response in the given format (`simple`, `extended` or `json`)", "simple"),
        Flag("discovery-srv, D", "string", "domain name to query for SRV records describing cluster endpoints"),
        Flag("insecure-discovery", "bool", "accept insecure SRV records describing cluster endpoints"),
        Flag("peers, C", "string", 'DEPRECATED - "--endpoints" should be used instead', ""),
        Flag("endpoint", "string", 'DEPRECATED - "--endpoints" should be used instead', ""),
        Flag(
            "endpoints",
            "string",
            "a comma-delimited list of machine addresses in the cluster (default: "
            '"http://127.0.0.1:2379,http://127.0.0.1:4001")',
            "",
        ),
        Flag("cert-file", "string", "identify HTTPS client using this SSL certificate file", ""),
        Flag("key-file", "string", "identify HTTPS client using this SSL key file", ""),
        Flag("ca-file", "string", "verify certificates of HTTPS-enabled servers using this CA bundle", ""),
        Flag("username, u", "string", "provide username[:password] and prompt if password is not supplied.", ""),
        Flag("timeout", "duration", "connection timeout per request", 2 * SECOND),
        Flag("total-timeout", "duration", "timeout for the command execution (except watch)", 5 * SECOND),
    ]


def build_app() -> App:
    cmds = [
        backup_cmd.command(),
        *cluster_cmds.commands(),
        *keys_cmds.commands(),
        cluster_cmds.member_command(),
        *auth_cmds.commands(),
    ]
    return App("etcdctl", "A simple command line client for etcd.", global_flags(), cmds)


def main(argv: list[str]) -> int:
    """Run `etcdctl <argv...>` in v2 mode; never raises (bad input gets etcdctl's text and code)."""
    try:
        return build_app().run(list(argv))
    except Exit as e:
        return e.code
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return EXIT_SIGPIPE


__all__ = ["main"]
