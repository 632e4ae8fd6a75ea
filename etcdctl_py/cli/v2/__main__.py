"""`python -m etcdctl_py.cli.v2 ...` runs the v2 CLI directly (used by tests)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
