"""Entry point of `etcdctl-py`: ETCDCTL_API dispatch, then the v3 (or v2) command tree.

Every failure ends as etcdctl's `Error: ...` line and exit code; a Python traceback never
reaches the user (an unexpected exception is reported as one `Error:` line, exit 1).
"""

from __future__ import annotations

import os
import sys

from etcdctl_py import API_VERSION, ETCD_VERSION
from etcdctl_py.cli.errors import EXIT_SIGPIPE
from etcdctl_py.stdio import open_missing_std_streams


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    open_missing_std_streams()
    # Go writes a message's bytes as they are: an argument or stdin byte that is not UTF-8 (held as a surrogate
    # since Python decoded it) goes back out as that byte, not as `\udcff`
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    api = os.environ.pop("ETCDCTL_API", "")
    try:
        if api in ("", "3"):
            code = _v3(argv)
        elif api == "2":
            code = _v2(argv)
        else:
            sys.stderr.write(f"unsupported API version: {api}\n")
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = EXIT_SIGPIPE
        _quiet_stdout()
    except Exception as e:  # noqa: BLE001 - last line of defence: no traceback for users
        sys.stderr.write(f"Error: {e}\n")
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_SIGPIPE
        _quiet_stdout()
    except ValueError:
        pass  # stdout closed: nothing more can be printed
    return code


def _v3(argv: list[str]) -> int:
    from etcdctl_py.cli import grpclog
    from etcdctl_py.cli.cobra import execute

    grpclog.silence()
    from etcdctl_py.cli.root import build_root

    return execute(build_root(), argv, version=ETCD_VERSION, api_version=API_VERSION)


def _v2(argv: list[str]) -> int:
    from etcdctl_py.cli.v2 import main as v2_main

    return v2_main(argv)


def _quiet_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass  # no /dev/null or no stdout fd: the final flush may complain, nothing else is lost


def run() -> None:
    """Console entry: run, flush, and leave without the interpreter's teardown.

    Every verb has finished its work when main() returns (files fsynced and closed, children
    waited for, leases revoked), so unwinding modules, grpc's channels and the garbage collector
    only costs time: about 12 ms of a ~110 ms `get`. Output is flushed first.
    """
    from etcdctl_py.cli.errors import die_by_sigpipe, flush_quietly

    code = main()
    flush_quietly(sys.stdout, sys.stderr)
    if code == EXIT_SIGPIPE:
        die_by_sigpipe()
    os._exit(code)


if __name__ == "__main__":
    run()
