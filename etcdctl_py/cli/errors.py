"""One place for etcdctl's exit codes, for mapping every failure to its `Error: ...` text and exit code, and for
ending the process as etcdctl ends.

The exit codes are the one table for every command line here: etcdctl v3 (and etcdutl, which shares its codes),
and etcdctl v2.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

# etcdctl v3 and etcdutl (etcd's pkg/cobrautl)
EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_INVALID_INPUT = 3  # txn, watch
EXIT_BAD_FEATURE = 4  # a valid flag with an unsupported value
EXIT_INTERRUPTED = 5
EXIT_IO = 6
EXIT_BAD_ARGS = 128  # v2 too: etcdctl 3.5's v2 commands exit 128 for bad arguments as well
EXIT_PROMPT_INTERRUPTED = 255  # a signal during a password prompt: speakeasy's os.Exit(-1)
# stdout's reader went away (EPIPE): Go's runtime kills a program that writes to a broken stdout with SIGPIPE, so the
# console entries end by that signal (a shell shows 141); in-process callers of main() get this number
EXIT_SIGPIPE = 128 + 13

# etcdctl v2's own names (ctlv2/command/error.go) for two of the numbers above
EXIT_SERVER_ERROR = 4
EXIT_CLUSTER_NOT_HEALTHY = 5


class ExitError(Exception):
    """Ends the command: `Error: <message>` on stderr (unless message is None) and exit `code`."""

    def __init__(self, code: int, message: str | None):
        super().__init__(message)
        self.code = code
        self.message = message


def flush_quietly(*streams: TextIO) -> None:
    """Flush what is left to print before the process ends; a reader that has gone (EPIPE) or a closed stream can be
    told nothing more, so neither is a failure at this point."""
    for stream in streams:
        try:
            stream.flush()
        except (OSError, ValueError):  # BrokenPipeError is an OSError; ValueError: the stream is closed
            pass


def die_by_signal(sig: int) -> None:
    """End as etcdctl ends on SIGINT/SIGTERM, for which it has no handler: killed by the signal (a shell shows
    130/143), after flushing what was printed."""
    import signal  # only when dying by a signal: keeps start-up lean

    flush_quietly(sys.stdout, sys.stderr)
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)


def die_by_sigpipe() -> None:
    """End as a Go program ends when its stdout reader has gone: killed by SIGPIPE."""
    import signal

    die_by_signal(signal.SIGPIPE)


def bad_args(message: str) -> ExitError:
    """Argument validation failures: exit 128 (ExitBadArgs)."""
    return ExitError(EXIT_BAD_ARGS, message)


def bad_feature(message: str) -> ExitError:
    """Unsupported formats, sort orders, consistency values: exit 4 (ExitBadFeature)."""
    return ExitError(EXIT_BAD_FEATURE, message)


def from_exception(err: BaseException, code: int = EXIT_ERROR) -> ExitError:
    """Translate a client/printer exception into etcdctl's error line and exit code.

    `code` is what the verb uses for request failures (1 for most, 2 for lease
    timetolive/list/keep-alive, 5 for snapshot save); printer and config errors carry their own.
    """
    from etcdctl_py.client.errors import AuthenticationFailed, ConfigError, EtcdError
    from etcdctl_py.output.printer import UnsupportedFormat

    if isinstance(err, ExitError):
        return err
    if isinstance(err, UnsupportedFormat):
        return ExitError(err.code, err.message)
    if isinstance(err, AuthenticationFailed):
        return ExitError(EXIT_BAD_CONNECTION, str(err))
    if isinstance(err, ConfigError):
        return ExitError(EXIT_BAD_ARGS, str(err))
    if isinstance(err, EtcdError):
        return ExitError(code, str(err))
    if isinstance(err, UnicodeEncodeError) and isinstance(err.object, str):
        return ExitError(code, NOT_UTF8)
    return ExitError(code, str(err) or err.__class__.__name__)


# protobuf's string fields carry UTF-8 only, where Go sends any bytes (docs/compatibility.md, "Deliberate
# differences"); the value itself is not shown: it may be a password
NOT_UTF8 = "a user name, role name or password is not UTF-8: etcdctl-py can send only UTF-8 text there"
