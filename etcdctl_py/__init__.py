"""etcdctl-py: an etcdctl-compatible client, offline snapshot engine and bundled etcd-compatible server."""

__version__ = "0.1.0"

# The etcd release whose behaviour (and version strings) we reproduce.
ETCD_VERSION = "3.5.1"
API_VERSION = "3.5"
