"""The private hand-off from the front listener to the internal grpcio server.

etcd serves gRPC only on the configured client URLs. etcd-py terminates TLS and sniffs HTTP/2 in
frontend.FrontListener and passes gRPC connections on to grpcio; that hand-off is a unix socket in a
directory of mode 0700 that this process creates, so no other user can reach grpcio without going
through the configured URLs (and their TLS and client-certificate checks).

Each spliced connection connects from its own freshly bound path in the same directory. grpcio's
context.peer() names that path ("unix:<path>", percent-encoded), and only this process can create
paths there, so the TLS identity the front listener registers for a path (GrpcAuth.set_peer) cannot be
claimed by any other connection; a connection from an unbound or unknown path has no identity.

The directory is <data-dir>/member/etcd-py-grpc (member/ is etcd's private dir), so a killed server's
leftovers are found and replaced at the next start. A unix socket path holds at most 107 bytes; for a
longer data dir the sockets are reached through /proc/self/fd/<an open fd of the directory>/. Only when
member/ is not private to us (or /proc is missing) is a fresh tempfile.mkdtemp() directory used instead.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import stat
import tempfile
from urllib.parse import quote, unquote

DIR_NAME = "etcd-py-grpc"  # inside <data-dir>/member, removed on stop and when found stale at start
SERVER_NAME = "grpc.sock"
MAX_SUN_PATH = 107  # sockaddr_un.sun_path is 108 bytes with the terminating NUL
_CLIENT_NAME_LEN = 1 + 16 + 1 + 20  # "c" + 16 hex + "-" + a counter: the longest client socket name


def _fits(directory: str) -> bool:
    """True when the longest socket path in `directory` fits in sun_path."""
    return len(os.fsencode(directory)) + 1 + _CLIENT_NAME_LEN <= MAX_SUN_PATH


def _private_to_us(path: str) -> bool:
    """A real directory (not a symlink) owned by this user that nobody else can write into."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _make_private_dir(path: str) -> bool:
    """(Re)create `path` as an empty 0700 directory; a stale one from a killed server is removed first."""
    try:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask: never wider, but make it exact
    except OSError:
        return False
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o700


class GrpcLink:
    """A private 0700 directory holding grpcio's unix socket and the front listener's client sockets."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.base = directory if _fits(directory) else f"/proc/self/fd/{self.fd}"  # sockets' paths start here
        self.server_path = os.path.join(self.base, SERVER_NAME)
        self._prefix = "c" + secrets.token_hex(8) + "-"
        self._seq = itertools.count(1)

    @property
    def target(self) -> str:
        """grpcio's address for the server socket (grpcio percent-decodes unix: targets)."""
        return "unix:" + quote(self.server_path, safe="/")

    @classmethod
    def bind(cls, grpc_server, data_dir: str) -> GrpcLink:
        """Make the private directory, bind grpcio's socket in it and return the link.

        <data-dir>/member/etcd-py-grpc when member/ is ours, else a fresh tempfile.mkdtemp() directory."""
        for link in cls._candidates(data_dir):
            try:
                bound = grpc_server.add_insecure_port(link.target)
            except RuntimeError:
                bound = 0
            if bound:
                return link
            link.remove()
        raise OSError("cannot bind the internal gRPC unix socket in a private directory")

    @classmethod
    def _candidates(cls, data_dir: str):
        member = os.path.join(os.path.abspath(data_dir), "member")
        path = os.path.join(member, DIR_NAME)
        if _private_to_us(member) and _make_private_dir(path):
            yield cls(path)
        yield cls(tempfile.mkdtemp(prefix="etcd-py-grpc-"))  # mkdtemp makes it 0700

    def client_socket(self) -> tuple[socket.socket, str]:
        """A non-blocking unix socket bound to a new unique path in the private directory."""
        path = os.path.join(self.base, f"{self._prefix}{next(self._seq)}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock, path

    @staticmethod
    def release(path: str) -> None:
        """Remove a client socket's path once its connection is closed."""
        try:
            os.unlink(path)
        except OSError:
            pass

    def remove(self) -> None:
        """Delete the directory with its sockets (on stop; a killed server's is removed at the next start)."""
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def peer_key(path: str) -> str:
    """The identity key of a client socket path: grpcio's context.peer() for it, decoded."""
    return "unix:" + path


def key_of_peer(peer: str) -> str:
    """Decode grpcio's context.peer() ("unix:" + percent-encoded path) into a peer_key."""
    return unquote(peer)
