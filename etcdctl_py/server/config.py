"""etcd 3.5 command-line flags and ETCD_* environment variables (Go `flag` package syntax).

`-name x`, `--name x`, `--name=x`; booleans as `--flag` or `--flag=false`; every flag also as
ETCD_<FLAG_WITH_UNDERSCORES> (a flag given on the command line wins, as in etcd).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BOOL_FLAGS = {"client-cert-auth", "enable-v2", "peer-client-cert-auth", "auto-tls", "peer-auto-tls",
              "strict-reconfig-check", "enable-pprof", "force-new-cluster", "debug",
              "experimental-enable-lease-checkpoint", "logger-stdout", "enable-grpc-gateway",
              "pre-vote", "unsafe-no-fsync", "experimental-initial-corrupt-check"}

DEFAULTS: dict[str, str] = {
    "name": "default",
    "data-dir": "",
    "wal-dir": "",
    "listen-client-urls": "http://localhost:2379",
    "advertise-client-urls": "http://localhost:2379",
    "listen-peer-urls": "http://localhost:2380",
    "initial-advertise-peer-urls": "http://localhost:2380",
    "initial-cluster": "",
    "initial-cluster-token": "etcd-cluster",
    "initial-cluster-state": "new",
    "auto-compaction-mode": "periodic",
    "auto-compaction-retention": "0",
    "quota-backend-bytes": "0",
    "snapshot-count": "100000",
    "cert-file": "",
    "key-file": "",
    "trusted-ca-file": "",
    "client-cert-auth": "false",
    "log-level": "info",
    "logger": "zap",
    "log-outputs": "default",
    "enable-v2": "false",
    "heartbeat-interval": "100",
    "election-timeout": "1000",
    "max-txn-ops": "128",
    "max-request-bytes": "1572864",
    "auth-token": "simple",
    "bcrypt-cost": "10",
    "auth-token-ttl": "300",
    "experimental-watch-progress-notify-interval": "10m0s",
    "listen-metrics-urls": "",
    "peer-cert-file": "", "peer-key-file": "", "peer-trusted-ca-file": "", "peer-client-cert-auth": "false",
    "auto-tls": "false", "peer-auto-tls": "false", "strict-reconfig-check": "true", "enable-pprof": "false",
    "force-new-cluster": "false", "debug": "false", "discovery": "", "proxy": "off",
    "max-snapshots": "5", "max-wals": "5", "cors": "", "host-whitelist": "*",
    "experimental-enable-lease-checkpoint": "false", "logger-stdout": "false",
    "enable-grpc-gateway": "true", "pre-vote": "false", "unsafe-no-fsync": "false",
    "experimental-initial-corrupt-check": "false", "grpc-keepalive-min-time": "5s",
    "grpc-keepalive-interval": "2h0m0s", "grpc-keepalive-timeout": "20s",
    "cipher-suites": "", "client-crl-file": "", "peer-crl-file": "",
}


class FlagError(Exception):
    pass


@dataclass
class Flags:
    values: dict[str, str]

    def get(self, name: str) -> str:
        return self.values[name]

    def bool(self, name: str) -> bool:
        return self.values[name].lower() in ("1", "t", "true")

    def int(self, name: str) -> int:
        v = self.values[name]
        try:
            return int(v)
        except ValueError:
            raise FlagError(f'invalid value "{v}" for flag -{name}: parse error') from None


def parse(argv: list[str], environ: dict[str, str] | None = None) -> Flags:
    env = os.environ if environ is None else environ
    given: dict[str, str] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        if not a.startswith("-") or a == "-":
            raise FlagError(f"'{a}' is not a valid flag")
        name = a.lstrip("-")
        val = None
        if "=" in name:
            name, val = name.split("=", 1)
        if name in ("h", "help"):
            raise FlagError("help")
        if name == "version":
            given["version"] = "true"
            i += 1
            continue
        if name not in DEFAULTS:
            raise FlagError(f"flag provided but not defined: -{name}")
        if val is None:
            if name in BOOL_FLAGS:
                val = "true"
            else:
                if i + 1 >= len(argv):
                    raise FlagError(f"flag needs an argument: -{name}")
                i += 1
                val = argv[i]
        given[name] = val
        i += 1
    values = dict(DEFAULTS)
    for name in DEFAULTS:
        ev = "ETCD_" + name.upper().replace("-", "_")
        if ev in env and name not in given:
            values[name] = env[ev]
    values.update(given)
    if not values["data-dir"]:
        values["data-dir"] = f"{values['name']}.etcd"
    if not values["initial-cluster"]:
        # etcd (etcdmain) derives it from --name and --initial-advertise-peer-urls.
        values["initial-cluster"] = ",".join(
            f"{values['name']}={u.strip()}" for u in values["initial-advertise-peer-urls"].split(",") if u.strip())
    return Flags(values)
