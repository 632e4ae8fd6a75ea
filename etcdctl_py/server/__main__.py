"""`python -m etcdctl_py.server`: the etcd-py server."""

import sys

from etcdctl_py.server.main import main

sys.exit(main())
