"""Standard streams for a process started with some of them closed (`cmd >&-`, a daemon without a terminal).

Python then has None for sys.stdout (or stdin, stderr), and the first print raises. Go writes to the closed
descriptor and ignores the failure, so etcdctl, etcdutl and etcd run on, their output lost. Ours do the same.
"""

from __future__ import annotations

import os
import sys


def open_missing_std_streams() -> None:
    """Give each standard stream that is None /dev/null. Opened in descriptor order, each takes the lowest free
    descriptor, which is its own closed one (0, 1 or 2): children and direct descriptor writes see it too."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115 - lives as long as the process
