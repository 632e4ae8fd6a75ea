"""`python -m etcdctl_py` runs etcdctl-py."""

from etcdctl_py.cli.main import run

run()
