"""Fault injection: a full disk, a disk that fills and frees, SIGKILL during writes, compaction and defrag.

The promise checked, for etcd-py and (as the reference) real etcd 3.5.1 on the same probe: every write the server
acknowledged is there after a restart; a storage fault ends the server with one fatal log line, never a traceback,
never a half-written db that refuses to open. Data dirs live on small tmpfs mounts (root is needed to mount them;
CI runs as root) that are unmounted even when a test fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
from etcdctl_py.proto.etcdserverpb import rpc_pb2_grpc as pbg
from tests import etcdproc

RUNS = 5  # disk-full and transient-full runs per scenario on etcd-py (the "at least 5 runs each")
# etcd's WAL preallocates 64 MB segments, and real etcd also pre-creates the next one: room for both and a db
FS_SIZE = "180M"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs data dir needs root (CI runs as root)")


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[str]:
    """A fresh tmpfs of `size` mounted on a new directory; always unmounted and removed."""
    mnt = tempfile.mkdtemp(prefix="etcd-faults-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", mnt], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


def resize(mnt: str, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", mnt], check=True)


@pytest.fixture(scope="module")
def logs_dir(tmp_path_factory) -> Iterator[str]:
    with etcdproc.scratch_dir(tmp_path_factory, "etcd-faults-logs") as d:
        yield str(d)


@pytest.fixture(scope="module")
def binaries(logs_dir) -> dict[str, str]:
    return {"etcd-py": etcdproc.etcd_py_wrapper(logs_dir), "etcd": etcdproc.distro_bin("etcd")}


def server(binary: str, logs_dir: str, data_dir: str) -> etcdproc.EtcdServer:
    return etcdproc.make_server(binary, logs_dir, name="faults", data_dir=data_dir, extra=["--log-level", "info"])


class Writer:
    """Puts over one gRPC channel, remembering what was acknowledged (key -> sha256 of the value)."""

    def __init__(self, endpoint: str) -> None:
        # a channel of its own: grpc's shared subchannel would still be backing off from the server that died
        self.channel = grpc.insecure_channel(endpoint, options=[("grpc.use_local_subchannel_pool", 1)])
        self.kv = pbg.KVStub(self.channel)
        self.maint = pbg.MaintenanceStub(self.channel)
        self.acked: dict[bytes, bytes] = {}
        self.attempted: dict[bytes, list[bytes]] = {}

    def put(self, key: bytes, value: bytes, timeout: float = 10) -> bool:
        digest = hashlib.sha256(value).digest()
        self.attempted.setdefault(key, []).append(digest)
        try:
            self.kv.Put(pb.PutRequest(key=key, value=value), timeout=timeout)
        except grpc.RpcError:
            return False
        self.acked[key] = digest
        return True

    def close(self) -> None:
        self.channel.close()


def wait_exit(srv: etcdproc.EtcdServer, timeout: float = 30) -> int | None:
    try:
        return srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def assert_one_fatal_line(srv: etcdproc.EtcdServer) -> None:
    log = srv.log()
    assert "Traceback" not in log, log[-3000:]
    fatal = [ln for ln in log.splitlines() if '"level":"fatal"' in ln]
    assert len(fatal) == 1, log[-3000:]


def check_survivors(
    srv: etcdproc.EtcdServer,
    acked: dict[bytes, bytes],
    attempted: dict[bytes, list[bytes]] | None = None,
    *,
    kind: str = "etcd-py",
) -> None:
    """Every acknowledged key holds its acknowledged value, or a later value that was sent (a put in flight at the
    fault may be durable without having been answered).

    Real etcd 3.5.1 is the reference that the probe itself is sound (it fails, restarts, serves), but not held to
    zero loss: 3.5.0-3.5.2 can lose applied writes after a crash (the data-inconsistency bug fixed in 3.5.3), and
    one run in this suite saw it lose 1 of 106 acknowledged puts on a full disk. What it lost is printed."""
    w = Writer(srv.endpoint)
    try:
        missing, wrong = [], []
        for key, digest in acked.items():
            r = w.kv.Range(pb.RangeRequest(key=key), timeout=20)
            if not r.kvs:
                missing.append(key)
                continue
            got = hashlib.sha256(r.kvs[0].value).digest()
            allowed = {digest}
            if attempted is not None:
                sent = attempted[key]
                allowed.update(sent[sent.index(digest) :])
            if got not in allowed:
                wrong.append(key)
        verdict = f"lost {len(missing)} and changed {len(wrong)} of {len(acked)} acknowledged"
        if kind == "etcd":
            print(f"real etcd 3.5.1: {verdict}")
            assert len(missing) + len(wrong) <= max(2, len(acked) // 20), verdict
        else:
            assert not missing and not wrong, verdict
    finally:
        w.close()


def assert_db_opens(binary_dir_db: str) -> None:
    """The db file passes real etcdutl's reading of it (an independent check of the bbolt pages and metas)."""
    p = subprocess.run(
        [etcdproc.distro_bin("etcdutl"), "snapshot", "status", binary_dir_db, "-w", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr


def fill_until_full(w: Writer, size: int, limit: int) -> int:
    rnd = random.Random(size)
    for i in range(limit):
        if not w.put(b"full/%05d" % i, rnd.randbytes(size)):
            return i
    return limit


# ------------------------------------------------------------------------------------------- the disk fills up


@needs_root
@pytest.mark.parametrize("kind,run", [("etcd", 0)] + [("etcd-py", i) for i in range(RUNS)])
def test_disk_full_loses_no_acknowledged_write(binaries, logs_dir, kind, run):
    """512 KiB puts until the disk is full: the server ends with one fatal line; it refuses to start while the disk is
    still full; once the file system is grown it starts and holds every acknowledged put; its db is sound."""
    with tmpfs(FS_SIZE) as mnt:
        data = os.path.join(mnt, "data")
        srv = server(binaries[kind], logs_dir, data).start()
        w = Writer(srv.endpoint)
        try:
            failed_at = fill_until_full(w, 512 * 1024, 600)
            assert failed_at < 600, "the disk never filled"
            assert len(w.acked) > 20
            rc = wait_exit(srv)
            assert rc == 1, f"{kind} still running (rc {rc}) after a failed commit"
            assert_one_fatal_line(srv)
            assert "no space left on device" in srv.log()

            # still full: refused where the replayed entries cannot reach the db; where they fit, it may serve,
            # and then it must already hold every acknowledged put
            srv.start(wait=False)
            try:
                etcdproc.wait_ready(srv.client_url, srv.proc, timeout=30)
            except (RuntimeError, TimeoutError):
                rc = wait_exit(srv, 30)
                assert rc not in (None, 0), "neither served nor exited on a full disk"
            else:
                check_survivors(srv, w.acked, kind=kind)
                srv.stop()
            assert "Traceback" not in srv.log()

            resize(mnt, "400M")
            srv.start()
            check_survivors(srv, w.acked, kind=kind)
        finally:
            w.close()
            srv.stop()
        assert_db_opens(os.path.join(data, "member", "snap", "db"))


@needs_root
@pytest.mark.parametrize("kind,run", [("etcd", 0)] + [("etcd-py", i) for i in range(RUNS)])
def test_transiently_full_disk_loses_no_acknowledged_write(binaries, logs_dir, kind, run):
    """A filler file takes the free space, 60 puts of 100 KB are made, the filler is removed: the puts the server
    acknowledged meanwhile are all there after a restart (etcd-py used to acknowledge them and drop the batch)."""
    with tmpfs(FS_SIZE) as mnt:
        data = os.path.join(mnt, "data")
        srv = server(binaries[kind], logs_dir, data).start()
        w = Writer(srv.endpoint)
        filler = os.path.join(mnt, "filler")
        try:
            for i in range(5):  # some writes that fit, before the disk fills
                assert w.put(b"before/%d" % i, os.urandom(1000))
            with open(filler, "wb") as f:
                chunk = b"\0" * (1 << 20)
                with contextlib.suppress(OSError):
                    while True:
                        f.write(chunk)
                        f.flush()
            rnd = random.Random(run)
            for i in range(60):
                w.put(b"during/%02d" % i, rnd.randbytes(100_000), timeout=5)
            os.unlink(filler)
            rc = wait_exit(srv, 10)
            if rc is None:
                srv.stop()  # it never hit the full disk (nothing needed new space): a clean stop must keep all
            else:
                assert rc == 1
                assert_one_fatal_line(srv)
            srv.start()
            check_survivors(srv, w.acked, kind=kind)
        except BaseException:
            print(srv.log()[-4000:])
            raise
        finally:
            w.close()
            srv.stop()
        assert_db_opens(os.path.join(data, "member", "snap", "db"))


# ------------------------------------------------------------------------------------------------- SIGKILL


def _workload(w: Writer, stop: threading.Event, tag: int, rnd: random.Random) -> None:
    """Puts of a few hundred keys, overwritten in turn (one thread owns each key, so the order of values is known)."""
    i = 0
    while not stop.is_set():
        key = b"kill/%d/%03d" % (tag, i % 300)
        w.put(key, rnd.randbytes(rnd.choice((10, 2000, 40_000))), timeout=5)
        i += 1


def _maintenance(w: Writer, stop: threading.Event, what: str) -> None:
    while not stop.is_set():
        try:
            if what == "compaction":
                rev = w.kv.Range(pb.RangeRequest(key=b"x"), timeout=5).header.revision
                if rev > 20:
                    w.kv.Compact(pb.CompactionRequest(revision=rev - 10, physical=True), timeout=5)
            else:
                w.maint.Defragment(pb.DefragmentRequest(), timeout=10)
        except grpc.RpcError:
            pass
        stop.wait(0.05)


@pytest.mark.parametrize(
    "kind,during,seed",
    [("etcd", "writes", 0), ("etcd", "defrag", 1)]
    + [("etcd-py", d, s) for d in ("writes", "compaction", "defrag") for s in range(3)],
)
def test_sigkill_keeps_acknowledged_writes(binaries, logs_dir, tmp_path, kind, during, seed):
    """SIGKILL at a random moment while two writers put and, maybe, compaction or defrag runs; after a restart every
    acknowledged put holds its value (or a later one that was sent), and the db is sound."""
    rnd = random.Random(seed * 7919 + len(during))
    data = str(tmp_path / "data")
    srv = server(binaries[kind], logs_dir, data).start()
    writers = [Writer(srv.endpoint) for _ in range(2)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_workload, args=(w, stop, n, random.Random(rnd.random())), daemon=True)
        for n, w in enumerate(writers)
    ]
    if during != "writes":
        threads.append(threading.Thread(target=_maintenance, args=(Writer(srv.endpoint), stop, during), daemon=True))
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        want = rnd.randint(60, 300)  # kill after this many acknowledged puts, wherever the writers are then
        while sum(len(w.acked) for w in writers) < want and time.monotonic() < deadline:
            time.sleep(0.01)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
        assert sum(len(w.acked) for w in writers) >= 20
        srv.start()
        for w in writers:
            check_survivors(srv, w.acked, w.attempted, kind=kind)
    finally:
        stop.set()
        for w in writers:
            w.close()
        srv.stop()
    assert "Traceback" not in srv.log()
    assert_db_opens(os.path.join(data, "member", "snap", "db"))
