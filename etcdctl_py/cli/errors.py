"""One place that maps every failure to etcdctl's `Error: ...` text and exit code."""

from __future__ import annotations

from etcdctl_py.cli.cobra import (  # noqa: F401 - re-exported for verb modules
    EXIT_BAD_ARGS,
    EXIT_BAD_CONNECTION,
    EXIT_BAD_FEATURE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    EXIT_IO,
    EXIT_SUCCESS,
    ExitError,
)


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
