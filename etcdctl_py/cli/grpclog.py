"""Keep grpc-core's own log lines off etcdctl-py's stderr.

grpc-core writes `I1125 ... Handshake failed ...` lines to stderr (a wrong CA, a plain server on a TLS
endpoint), where etcdctl prints only its zap warning and `Error:` line. grpc reads GRPC_VERBOSITY once, when it
is imported, so the CLI sets it before any command runs, unless the user asked for grpc logs themselves, and
takes it out again of the environment given to the commands it runs (`lock -- cmd`, `watch -- cmd`), so those
see the user's environment unchanged.
"""

from __future__ import annotations

import os

_VAR = "GRPC_VERBOSITY"
_set_by_us = False


def silence() -> None:
    """Before grpc is imported: grpc-core logs nothing unless GRPC_VERBOSITY is already set."""
    global _set_by_us
    if _VAR not in os.environ:
        os.environ[_VAR] = "NONE"
        _set_by_us = True


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` without the GRPC_VERBOSITY that silence() added."""
    if _set_by_us:
        env = {k: v for k, v in env.items() if k != _VAR}
    return env
