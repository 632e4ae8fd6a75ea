"""Starts that must not happen: a busy client port or a bad TLS file leaves no data dir behind (etcd binds its
listeners first), and etcd-py refuses to serve a cluster that has other voting members (it runs no raft: alone it is
no quorum, and serving would be a split brain) until `--force-new-cluster` makes it a one-member cluster, with
etcd's meaning of that flag (every other member removed through the log, the cluster ID kept).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess

import pytest

from tests import difftest, etcdproc

TOKEN = "unsafe-start"


def ctl(srv: etcdproc.EtcdServer, *args: str) -> difftest.Result:
    return difftest.run([etcdproc.distro_bin("etcdctl"), f"--endpoints={srv.endpoint}", *args], timeout=20)


def run_until_exit(srv: etcdproc.EtcdServer, timeout: float = 30) -> int:
    srv.start(wait=False)
    try:
        return srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        srv.stop()
        raise AssertionError(f"{srv.argv[0]} kept running:\n{srv.log()[-2000:]}") from None


def last_error(log: str) -> tuple[str, str]:
    """(msg, error) of the last JSON log line, the port masked."""
    rec = json.loads([ln for ln in log.splitlines() if ln.startswith("{")][-1])
    return rec["msg"], re.sub(r":\d+", ":PORT", rec.get("error", ""))


@pytest.fixture
def bins(tmp_path) -> dict[str, str]:
    return {"etcd": etcdproc.distro_bin("etcd"), "etcd-py": etcdproc.etcd_py_wrapper(str(tmp_path))}


def test_busy_client_port_creates_nothing(bins, tmp_path):
    """etcd and etcd-py alike: exit 1 with `listen tcp ...: bind: address already in use`, no data dir."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        seen = {}
        for kind, binary in bins.items():
            srv = etcdproc.make_server(binary, str(tmp_path), name=f"busy-{kind}", token=TOKEN)
            for flag in ("--listen-client-urls", "--advertise-client-urls"):
                srv.argv[srv.argv.index(flag) + 1] = f"http://127.0.0.1:{busy.getsockname()[1]}"
            assert run_until_exit(srv) == 1
            assert not os.path.exists(srv.data_dir), f"{kind} left {os.listdir(srv.data_dir)}"
            assert "Traceback" not in srv.log()
            seen[kind] = last_error(srv.log())
        assert (
            seen["etcd-py"]
            == seen["etcd"]
            == ("discovery failed", "listen tcp 127.0.0.1:PORT: bind: address already in use")
        )
    finally:
        busy.close()


def test_bad_tls_file_creates_nothing(bins, tmp_path):
    """Both refuse a missing cert file with exit 1; real etcd has bootstrapped the data dir by then, etcd-py has
    not touched it (its TLS context is built before the data dir, like the listeners)."""
    for kind, binary in bins.items():
        srv = etcdproc.make_server(
            binary,
            str(tmp_path),
            name=f"tls-{kind}",
            token=TOKEN,
            extra=["--cert-file", str(tmp_path / "none.crt"), "--key-file", str(tmp_path / "none.key")],
        )
        for flag in ("--listen-client-urls", "--advertise-client-urls"):
            i = srv.argv.index(flag) + 1
            srv.argv[i] = srv.argv[i].replace("http://", "https://")
        assert run_until_exit(srv) == 1
        assert last_error(srv.log())[0] == "listener failed"
        assert "Traceback" not in srv.log()
        if kind == "etcd-py":
            assert not os.path.exists(srv.data_dir)


def test_fresh_cluster_with_other_voters_is_refused(bins, tmp_path):
    """--initial-cluster naming two more members: real etcd starts and waits for them forever (never serving);
    etcd-py refuses at once with one fatal line and creates nothing."""
    srv = etcdproc.make_server(bins["etcd-py"], str(tmp_path), name="m1", token=TOKEN)
    i = srv.argv.index("--initial-cluster") + 1
    srv.argv[i] += f",m2=http://127.0.0.1:{etcdproc.free_port()},m3=http://127.0.0.1:{etcdproc.free_port()}"
    assert run_until_exit(srv) == 1
    log = srv.log()
    assert "Traceback" not in log and not os.path.exists(srv.data_dir)
    msg, err = last_error(log)
    assert msg == "etcd-py cannot serve this cluster alone"
    assert "2 other voting member(s)" in err and "--initial-cluster" in err


def _restored_three_member_dir(tmp_path, source: etcdproc.EtcdServer) -> tuple[str, list[str], str]:
    """A data dir `etcdutl snapshot restore` makes for member m1 of a three-member cluster, from `source`."""
    snap = str(tmp_path / "snap.db")
    assert ctl(source, "snapshot", "save", snap).rc == 0
    peers = [f"http://127.0.0.1:{etcdproc.free_port()}" for _ in range(3)]
    cluster = ",".join(f"m{i + 1}={u}" for i, u in enumerate(peers))
    data = str(tmp_path / "m1.etcd")
    p = subprocess.run(
        [
            etcdproc.distro_bin("etcdutl"),
            "snapshot",
            "restore",
            snap,
            "--name",
            "m1",
            "--initial-cluster",
            cluster,
            "--initial-cluster-token",
            TOKEN,
            "--initial-advertise-peer-urls",
            peers[0],
            "--data-dir",
            data,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return data, peers, cluster


def _on(binary: str, tmp_path, data: str, peers: list[str], cluster: str, name: str) -> etcdproc.EtcdServer:
    srv = etcdproc.make_server(binary, str(tmp_path), name="m1", token=TOKEN, data_dir=data)
    srv.argv[srv.argv.index("--initial-advertise-peer-urls") + 1] = peers[0]
    srv.argv[srv.argv.index("--initial-cluster") + 1] = cluster
    srv.log_path = str(tmp_path / f"{name}.log")
    return srv


def test_restored_member_of_three_refused_until_force_new_cluster(bins, tmp_path):
    """A member restored for a three-member cluster: etcd-py refuses; with --force-new-cluster it serves the keys
    as a one-member cluster with the same cluster ID, as real etcd does with the flag on a copy of the same dir;
    without the flag afterwards it starts normally, and real etcd 3.5.1 starts on what etcd-py left."""
    source = etcdproc.make_server(bins["etcd"], str(tmp_path), name="src", token=TOKEN).start()
    try:
        assert ctl(source, "put", "/app/a", "1").rc == 0
        assert ctl(source, "put", "/app/b", "2").rc == 0
        data, peers, cluster = _restored_three_member_dir(tmp_path, source)
    finally:
        source.stop()
    real_copy = str(tmp_path / "m1-real.etcd")
    subprocess.run(["cp", "-a", data, real_copy], check=True)

    ours = _on(bins["etcd-py"], tmp_path, data, peers, cluster, "ours")
    assert run_until_exit(ours) == 1
    msg, err = last_error(ours.log())
    assert msg == "etcd-py cannot serve this cluster alone" and "--force-new-cluster" in err
    assert "Traceback" not in ours.log()

    real = _on(bins["etcd"], tmp_path, real_copy, peers, cluster, "real")
    ours.argv.append("--force-new-cluster")
    real.argv.append("--force-new-cluster")
    try:
        ours.start()
        real.start()
        for args in (["member", "list", "-w", "json"], ["get", "/app", "--prefix", "-w", "json"]):
            o, r = json.loads(ctl(ours, *args).stdout), json.loads(ctl(real, *args).stdout)
            for d in (o, r):
                d["header"].pop("raft_term", None)
                d["header"].pop("revision", None)
                for m in d.get("members", []):
                    m.pop("clientURLs", None)
            assert o == r
        assert len(json.loads(ctl(ours, "member", "list", "-w", "json").stdout)["members"]) == 1
    finally:
        ours.stop()
        real.stop()

    ours.argv.remove("--force-new-cluster")  # once is enough: a plain restart serves
    try:
        ours.start()
        assert ctl(ours, "get", "/app/b", "--print-value-only").stdout == b"2\n"
    finally:
        ours.stop()
    after = _on(bins["etcd"], tmp_path, data, peers, cluster, "real-after")
    try:
        after.start()
        assert ctl(after, "get", "/app/a", "--print-value-only").stdout == b"1\n"
        assert len(json.loads(ctl(after, "member", "list", "-w", "json").stdout)["members"]) == 1
    finally:
        after.stop()
