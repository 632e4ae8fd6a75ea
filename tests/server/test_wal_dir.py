"""--wal-dir: the write-ahead log lives in that directory, not in <data-dir>/member/wal, and a restart with the
same flags finds it; real etcd 3.5.1 lays out the same directories."""

from __future__ import annotations

import os

from tests import etcdproc
from tests.server.servertools import Ctl


def _layout(root: str) -> list[str]:
    """The directories under `root` and the kinds of files in each (`*.wal`, `*.snap`, `db`, ...)."""
    out = set()
    for d, _dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        out.add(rel + "/")
        for f in files:
            kind = "*" + os.path.splitext(f)[1] if os.path.splitext(f)[1] else f
            out.add(os.path.join(rel, kind))
    return sorted(out)


def test_wal_dir_holds_the_wal_and_survives_a_restart(server_tmp: str, etcd_py_bin: str) -> None:
    layouts = []
    for binary in (etcdproc.distro_bin("etcd"), etcd_py_bin):
        base = os.path.join(server_tmp, f"waldir-{os.path.basename(binary)}")
        os.makedirs(base)
        data, wal = os.path.join(base, "data"), os.path.join(base, "disk2", "wal")
        srv = etcdproc.make_server(binary, base, name="waldir", data_dir=data, extra=["--wal-dir", wal])
        srv.start()
        try:
            assert Ctl(srv.endpoint)("put", "k", "durable")[0] == 0
            srv.stop()
            assert any(n.endswith(".wal") for n in os.listdir(wal))
            assert not os.path.exists(os.path.join(data, "member", "wal"))
            layouts.append((_layout(data), _layout(wal)))
            srv.start()
            rc, out, _ = Ctl(srv.endpoint)("get", "k", "--print-value-only")
            assert (rc, out) == (0, "durable\n")
        finally:
            srv.stop()
    assert layouts[1] == layouts[0]
