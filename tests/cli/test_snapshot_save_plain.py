"""snapshot save over our own plain-TCP HTTP/2 connection (etcdctl_py.snapshot_wire.open_plain) instead of grpc.

Against real etcd 3.5.1 and etcd-py: the chunks equal grpc's, the file equals real etcdctl's byte for byte, and
grpc is never imported. Through a TCP proxy that breaks the stream (connection cut, RST_STREAM, a slow link past
--command-timeout) the output is real etcdctl's and no part file is left; an auth error before the first chunk
comes from the grpc fallback, as real etcdctl prints it."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import pytest

from etcdctl_py.client import Client
from etcdctl_py.client.maintenance import open_snapshot
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.snapshot_wire import Unreachable, Unsupported, _status_200, dial, open_plain, plain_target
from tests import difftest, etcdproc

ETCDCTL = etcdproc.distro_bin("etcdctl")


def _fill(endpoint: str, keys: int = 3000) -> None:
    value = os.urandom(500).hex().encode()
    with Client([endpoint]) as c:
        for start in range(0, keys, 100):
            c.kv.txn(
                success=[
                    rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k%06d" % i, value=value))
                    for i in range(start, min(start + 100, keys))
                ]
            )


@pytest.fixture(scope="module")
def member(tmp_path_factory, etcd_bin):
    """One real etcd with about 3 MB of keys."""
    with etcdproc.scratch_dir(tmp_path_factory, "plain") as scratch:
        srv = etcdproc.make_server(etcd_bin, str(scratch), name="plain")
        srv.start()
        _fill(srv.endpoint)
        yield srv
        srv.stop()


def _save(argv0: list[str], endpoint: str, path, *extra: str) -> difftest.Result:
    return difftest.run([*argv0, "--endpoints", endpoint, *extra, "snapshot", "save", str(path)])


def _masked(r: difftest.Result, tmp_path, *ports: int) -> tuple[int, bytes, bytes]:
    def norm(b: bytes) -> bytes:
        for name in ("real", "ours"):
            b = b.replace(str(tmp_path / name).encode(), b"DIR")
        return difftest.mask_stderr(b, ports)

    return r.rc, norm(r.stdout), norm(r.stderr)


# -- which endpoints the plain path takes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint,expected",
    [
        ("127.0.0.1:2379", (socket.AF_INET, "127.0.0.1", 2379, "127.0.0.1:2379")),
        ("http://127.0.0.1:2379", (socket.AF_INET, "127.0.0.1", 2379, "127.0.0.1:2379")),
        ("[::1]:2379", (socket.AF_INET6, "::1", 2379, "[::1]:2379")),
        ("https://127.0.0.1:2379", None),
        ("localhost:2379", None),  # a host name: grpc resolves it
        ("unix://sock", None),
        ("127.0.0.1", None),
        ("127.0.0.1:0", None),
        ("127.0.0.1:99999", None),
        ("127.0.0.1:23/x", None),
    ],
)
def test_plain_target(endpoint, expected):
    assert plain_target(endpoint) == expected


@pytest.mark.parametrize(
    "block,ok",
    [
        (b"\x88\x5f\x8b", True),  # :status 200, then content-type
        (b"\x20\x88", True),  # after a dynamic table size update
        (b"\x3f\xe1\x1f\x88", True),  # after a multi-byte size update (4096)
        (b"\x89", False),  # :status 204
        (b"\x48\x03404", False),  # :status 404 as a literal
        (b"", False),
    ],
)
def test_status_200(block, ok):
    assert _status_200(block) is ok


def test_tls_endpoints_are_dial_targets_only():
    assert plain_target("https://127.0.0.1:2379") is None
    assert plain_target("https://127.0.0.1:2379", ("http://", "https://")) == (
        socket.AF_INET,
        "127.0.0.1",
        2379,
        "127.0.0.1:2379",
    )
    assert plain_target("unix://sock", ("http://", "https://")) is None


def test_dial_gives_up_at_the_deadline_with_gos_dial_error():
    port = etcdproc.free_port()
    with pytest.raises(Unreachable) as e:
        dial((socket.AF_INET, "127.0.0.1", port, f"127.0.0.1:{port}"), time.monotonic() + 0.3)
    assert e.value.text == f"dial tcp 127.0.0.1:{port}: connect: connection refused"


def test_dial_connects_to_a_listener_that_comes_late():
    """Refused attempts are made again until the deadline: a listener that appears meanwhile is connected to."""
    late = socket.socket()
    late.bind(("127.0.0.1", 0))
    port = late.getsockname()[1]
    threading.Timer(0.3, late.listen, args=(1,)).start()
    try:
        sock = dial((socket.AF_INET, "127.0.0.1", port, f"127.0.0.1:{port}"), time.monotonic() + 30)
        sock.close()
    finally:
        late.close()


def test_refused_connection_is_unsupported():
    port = etcdproc.free_port()
    with pytest.raises(Unsupported):
        open_plain((socket.AF_INET, "127.0.0.1", port, f"127.0.0.1:{port}"), deadline=None, connect_timeout=1)


# -- against real servers --------------------------------------------------------------------------------------


def test_plain_chunks_equal_grpc_chunks(member):
    plain = [
        (bytes(c.blob), c.remaining_bytes)
        for c in open_plain(plain_target(member.endpoint), deadline=None, connect_timeout=2)
    ]
    with Client([member.endpoint]) as c:
        grpc_chunks = [(bytes(x.blob), x.remaining_bytes) for x in open_snapshot(c, timeout=30, raw=True)]
    assert len(plain) > 50 and plain == grpc_chunks


def test_save_imports_no_grpc_and_matches_etcdctl(member, tmp_path):
    """The CLI takes the plain path (grpc and protobuf stay unimported) and writes real etcdctl's bytes."""
    ours = tmp_path / "ours.db"
    code = (
        "import sys; from etcdctl_py.cli.main import main; rc = main(sys.argv[1:]); "
        "print(sorted(m for m in ('grpc', 'google.protobuf') if m in sys.modules), rc)"
    )
    r = difftest.run([sys.executable, "-c", code, "--endpoints", member.endpoint, "snapshot", "save", str(ours)])
    assert r.stdout.splitlines()[-1] == b"[] 0", r
    real = _save([ETCDCTL], member.endpoint, tmp_path / "real.db")
    assert real.rc == 0
    assert ours.read_bytes() == (tmp_path / "real.db").read_bytes()


def test_against_etcd_py(tmp_path):
    """etcd-py (grpc C-core's HTTP/2 and HPACK) through the plain path: the same bytes as real etcdctl gets."""
    srv = etcdproc.make_server(etcdproc.etcd_py_wrapper(str(tmp_path)), str(tmp_path), name="py")
    srv.start()
    try:
        _fill(srv.endpoint, 300)
        real = _save([ETCDCTL], srv.endpoint, tmp_path / "real.db")
        mine = _save(difftest.ETCDCTL_PY, srv.endpoint, tmp_path / "ours.db")
    finally:
        srv.stop()
    assert real.rc == mine.rc == 0, mine
    assert (tmp_path / "ours.db").read_bytes() == (tmp_path / "real.db").read_bytes()


def test_auth_error_before_first_chunk_like_etcdctl(tmp_path, etcd_bin):
    """With auth on and no --user the member refuses the call at once: the grpc fallback reports it."""
    srv = etcdproc.make_server(etcd_bin, str(tmp_path), name="auth")
    srv.start()
    try:
        ctl = [ETCDCTL, "--endpoints", srv.endpoint]
        for args in (["user", "add", "root:pw"], ["auth", "enable"]):
            assert difftest.run([*ctl, *args]).rc == 0
        (tmp_path / "real").mkdir()
        (tmp_path / "ours").mkdir()
        real = _save([ETCDCTL], srv.endpoint, tmp_path / "real" / "a.db")
        mine = _save(difftest.ETCDCTL_PY, srv.endpoint, tmp_path / "ours" / "a.db")
    finally:
        srv.stop()
    assert real.rc != 0

    def order_free(r: difftest.Result) -> tuple[int, bytes, list[bytes]]:
        # etcdctl logs "fetching snapshot" from its main goroutine and the receive failure from the stream's own:
        # either comes first, run to run; compare the lines as a set, the Error line last
        rc, out, err = _masked(r, tmp_path, srv.client_port)
        lines = err.splitlines(keepends=True)
        return rc, out, sorted(lines[:-1]) + lines[-1:]

    assert order_free(mine) == order_free(real)
    assert os.listdir(tmp_path / "ours") == []


# -- a proxy that breaks the stream ----------------------------------------------------------------------------


class Proxy:
    """Loopback TCP proxy to `upstream`. For the first `sick` connections the server-to-client direction is
    broken as `mode` says: "cut" closes after `limit` bytes, "rst" replaces the rest of the stream with an
    RST_STREAM after `limit` bytes of frames, "slow" passes `limit` bytes a second."""

    def __init__(self, upstream: str, mode: str, limit: int, sick: int = 1) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.mode, self.limit, self.sick = mode, limit, sick
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.endpoint = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.connections += 1
            mode = self.mode if self.connections <= self.sick else "pass"
            threading.Thread(target=self._pump, args=(client, upstream, "pass"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, mode), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, mode: str) -> None:
        sent = 0
        pending = b""
        try:
            while not self.stop.is_set() and (data := src.recv(65536)):
                if mode == "cut" and sent + len(data) >= self.limit:
                    dst.sendall(data[: self.limit - sent])
                    dst.shutdown(socket.SHUT_WR)  # a clean FIN (closing with unread input would send RST)
                    src.close()
                    return
                if mode == "rst":
                    pending += data
                    while len(pending) >= 9 and len(pending) >= 9 + int.from_bytes(pending[:3], "big"):
                        n = 9 + int.from_bytes(pending[:3], "big")
                        if sent + n > self.limit:  # from here on, only an RST_STREAM (CANCEL) for stream 1
                            dst.sendall(b"\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x08")
                            self.stop.wait(5)
                            return
                        dst.sendall(pending[:n])
                        pending = pending[n:]
                        sent += n
                    continue
                if mode == "slow":
                    time.sleep(len(data) / self.limit)
                dst.sendall(data)
                sent += len(data)
        except OSError:
            # the other side is gone: read what is still coming until its end, then close without an RST
            try:
                while src.recv(65536):
                    pass
            except OSError:
                pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.mark.parametrize(
    "mode,limit,extra",
    [
        ("cut", 1_000_000, []),
        ("slow", 2_000_000, ["--command-timeout", "1s"]),
    ],
    ids=["cut", "deadline"],
)
def test_broken_stream_like_etcdctl(member, tmp_path, mode, limit, extra):
    """The connection breaks (or the deadline passes) mid-stream: etcdctl's warn line, error and exit code."""
    results = []
    for name, argv0 in (("real", [ETCDCTL]), ("ours", difftest.ETCDCTL_PY)):
        (tmp_path / name).mkdir()
        proxy = Proxy(member.endpoint, mode, limit)
        try:
            results.append(_save(argv0, proxy.endpoint, tmp_path / name / "b.db", *extra))
        finally:
            proxy.close()
        port = int(proxy.endpoint.rsplit(":", 1)[1])
        results[-1] = _masked(results[-1], tmp_path, port)
        assert os.listdir(tmp_path / name) == []  # no part file
    real, mine = results
    assert real[0] == 5
    assert mine == real


def test_rst_stream_mid_stream_is_fetched_again_through_grpc(member, tmp_path):
    """The member resets our stream after 1 MB: the snapshot is fetched again (through grpc) and the file is
    whole; stdout and stderr are those of a plain successful save."""
    proxy = Proxy(member.endpoint, "rst", 1_000_000)
    try:
        mine = _save(difftest.ETCDCTL_PY, proxy.endpoint, tmp_path / "ours.db")
        assert proxy.connections == 2
    finally:
        proxy.close()
    real = _save([ETCDCTL], member.endpoint, tmp_path / "real.db")
    assert mine.rc == real.rc == 0, mine
    assert (tmp_path / "ours.db").read_bytes() == (tmp_path / "real.db").read_bytes()
    assert len(mine.stderr.splitlines()) == 6 and b"warn" not in mine.stderr
    assert sorted(os.listdir(tmp_path)) == ["ours.db", "real.db"]


def test_slow_writer_holds_the_receiver_back(member, tmp_path, monkeypatch, capsys):
    """With a tiny backlog allowance the receiver keeps waiting for the writer; the file is still etcdctl's."""
    from etcdctl_py.cli import main as cli_main
    from etcdctl_py.cli import snapshot_save

    monkeypatch.setattr(snapshot_save, "_BACKLOG", 1)
    sleeps = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (sleeps.append(s), real_sleep(s)))
    assert cli_main.main(["--endpoints", member.endpoint, "snapshot", "save", str(tmp_path / "ours.db")]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().out == f"Snapshot saved at {tmp_path / 'ours.db'}\n"
    assert sleeps  # it did wait for the writer
    assert _save([ETCDCTL], member.endpoint, tmp_path / "real.db").rc == 0
    assert (tmp_path / "ours.db").read_bytes() == (tmp_path / "real.db").read_bytes()
