"""Descriptions of etcd-py's command-line flags for its man page, reference page and completions.

etcd-py parses etcd's Go-flag style options (etcdctl_py/server/config.py holds names and defaults, nothing else);
the words here are ours. Flags not described in USED get a generic line, so a flag added to config.py shows up in
the man page and completions the next time docgen runs.
"""

from __future__ import annotations

USED: dict[str, str] = {
    "name": "Human-readable name of this member; also names the default data directory <name>.etcd.",
    "data-dir": "Directory holding the member's data (member/snap/db, member/wal).",
    "listen-client-urls": "Comma-separated URLs to serve clients on (gRPC and HTTP on the same port).",
    "advertise-client-urls": "Client URLs this member reports to clients (member list, endpoint status).",
    "initial-advertise-peer-urls": "Peer URLs recorded for this member; with --name and the token they decide "
                                   "the member and cluster IDs, as in etcd.",
    "initial-cluster": "The bootstrap membership (name=peerURL,...); derived from --name and "
                       "--initial-advertise-peer-urls when empty.",
    "initial-cluster-token": "Token mixed into the cluster ID at bootstrap.",
    "auto-compaction-mode": "How --auto-compaction-retention is read: periodic (a duration) or revision (a count).",
    "auto-compaction-retention": "Keep this much history when compacting automatically (0 turns it off).",
    "quota-backend-bytes": "Size limit of the backend database; past it writes fail and the NOSPACE alarm is "
                           "raised (0 = etcd's default of 2 GiB).",
    "snapshot-count": "Number of applied entries between two .snap files.",
    "cert-file": "TLS certificate served to clients.",
    "key-file": "Private key of --cert-file.",
    "trusted-ca-file": "CA bundle used to verify client certificates.",
    "client-cert-auth": "Require a client certificate signed by --trusted-ca-file.",
    "log-level": "Lowest level logged: debug, info, warn, error, panic or fatal.",
    "enable-v2": "Also serve the v2 keys API over HTTP (for ETCDCTL_API=2).",
    "max-txn-ops": "Largest number of operations accepted in one transaction.",
    "max-request-bytes": "Largest request accepted, in bytes.",
    "bcrypt-cost": "bcrypt cost used to hash user passwords.",
    "debug": "Same as --log-level=debug.",
}

EXTRA = {
    "version": ("bool", "false", "Print the version and exit."),
}

COMPAT_ONLY = "An etcd 3.5 flag, accepted with etcd's syntax and default (see etcd's documentation)."

FILES = {"cert-file", "key-file", "trusted-ca-file", "client-crl-file", "peer-cert-file", "peer-key-file",
         "peer-trusted-ca-file", "peer-crl-file"}
DIRS = {"data-dir", "wal-dir"}

VALUES: dict[str, tuple[str, ...]] = {
    "log-level": ("debug", "info", "warn", "error", "panic", "fatal"),
    "logger": ("zap", "capnslog"),
    "log-outputs": ("default", "stderr", "stdout"),
    "auto-compaction-mode": ("periodic", "revision"),
    "initial-cluster-state": ("new", "existing"),
    "auth-token": ("simple", "jwt"),
    "proxy": ("off", "readonly", "on"),
}
