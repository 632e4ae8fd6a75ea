"""The client-port front listener: gRPC and HTTP/1.1 on the same port, as etcd serves them.

A connection whose first bytes are the HTTP/2 preface is spliced to the internal grpcio server
(a unix socket in a private 0700 directory, see grpclink: nothing but the configured URLs listens
on TCP); anything else is answered here as HTTP/1.1 (/health, /version, /metrics, /v2/...). With
TLS the handshake happens here and the decrypted stream is sniffed the same way; the verified
client certificate's CN is registered for the internal connection's own socket path so the gRPC
layer can use it as the user name.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable

from etcdctl_py.server.grpclink import GrpcLink, peer_key

PREFACE = b"PRI * HTTP/2.0"


class HttpApp:
    """The HTTP/1.1 endpoints etcd serves on the client port."""

    def __init__(self, core, v2=None) -> None:
        self.core = core
        self.v2 = v2

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        path = target.split("?", 1)[0]
        if path == "/health" or path == "/readyz" or path == "/livez":
            alarms = [a for _, a in self.core.alarms]
            if alarms:
                from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb

                reason = "ALARM " + pb.AlarmType.Name(alarms[0])
                return 503, {"Content-Type": "text/plain; charset=utf-8"}, \
                    json.dumps({"health": "false", "reason": reason}, separators=(",", ":")).encode()
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, b'{"health":"true","reason":""}'
        if path == "/version":
            return 200, {"Content-Type": "application/json"}, b'{"etcdserver":"3.5.1","etcdcluster":"3.5.0"}'
        if path == "/metrics":
            return 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}, self.metrics()
        if (path.startswith("/v2/") or path == "/v2") and self.v2 is not None:
            return self.v2(method, target, headers, body)
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 page not found\n"

    def metrics(self) -> bytes:
        c = self.core
        lines = [
            "# TYPE etcd_server_has_leader gauge", "etcd_server_has_leader 1",
            "# TYPE etcd_server_is_leader gauge", "etcd_server_is_leader 1",
            "# TYPE etcd_mvcc_db_total_size_in_bytes gauge",
            f"etcd_mvcc_db_total_size_in_bytes {c.persister.db_size()}",
            "# TYPE etcd_debugging_mvcc_current_revision gauge",
            f"etcd_debugging_mvcc_current_revision {c.store.current_rev}",
            "# TYPE etcd_server_proposals_applied_total gauge",
            f"etcd_server_proposals_applied_total {c.applied_index}",
            "# TYPE etcd_server_version gauge", 'etcd_server_version{server_version="3.5.1"} 1', "",
        ]
        return "\n".join(lines).encode()


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 307: "Temporary Redirect", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 412: "Precondition Failed", 500: "Internal Server Error",
            503: "Service Unavailable"}


async def _read_chunked(reader: asyncio.StreamReader, buf: bytes) -> tuple[bytes, bytes] | None:
    """Decode a chunked request body that starts in buf: (body, bytes after it), None on EOF/garbage."""
    body = b""
    while True:
        while b"\r\n" not in buf:
            chunk = await reader.read(65536)
            if not chunk or len(buf) > 1 << 16:
                return None
            buf += chunk
        line, buf = buf.split(b"\r\n", 1)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size == 0:
            while True:  # trailer lines up to the empty line
                while b"\r\n" not in buf:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return None
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                if not line:
                    return body, buf
        while len(buf) < size + 2:
            chunk = await reader.read(65536)
            if not chunk:
                return None
            buf += chunk
        body, buf = body + buf[:size], buf[size + 2:]
        if len(body) > 1 << 26:
            return None



class TLSConfigError(ValueError):
    """A client TLS setting etcd refuses at start-up; the text is etcd's (Go's crypto/tls, os)."""


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


def _read(path: str) -> bytes:
    """ioutil.ReadFile with Go's error text."""
    if os.path.isdir(path):
        raise TLSConfigError(f"read {path}: is a directory")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise TLSConfigError(f"open {path}: {(e.strerror or str(e)).lower()}") from None


def _check_key_pair(cert: bytes, key: bytes) -> None:
    """The PEM checks of Go's tls.X509KeyPair, in its order and with its texts."""
    kinds = [m.group(1).decode() for m in _PEM_BLOCK.finditer(cert)]
    if not kinds:
        raise TLSConfigError("tls: failed to find any PEM data in certificate input")
    if "CERTIFICATE" not in kinds:
        if any(k.endswith("PRIVATE KEY") for k in kinds):
            raise TLSConfigError("tls: failed to find certificate PEM data in certificate input, but did find a "
                                 "private key; PEM inputs may have been switched")
        raise TLSConfigError(f"tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping "
                             f"PEM blocks of the following types: {kinds}")
    kinds = [m.group(1).decode() for m in _PEM_BLOCK.finditer(key)]
    if not kinds:
        raise TLSConfigError("tls: failed to find any PEM data in key input")
    if not any(k == "PRIVATE KEY" or k.endswith(" PRIVATE KEY") for k in kinds):
        if "CERTIFICATE" in kinds:
            raise TLSConfigError("tls: found a certificate rather than a key in the PEM for the private key")
        raise TLSConfigError(f"tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after "
                             f"skipping PEM blocks of the following types: {kinds}")


def server_ssl_context(cert_file: str, key_file: str, trusted_ca_file: str = "",
                       client_cert_auth: bool = False) -> ssl.SSLContext:
    """The TLS side of an https client URL, refused at start-up as etcd's transport.TLSInfo refuses it.

    A trusted-CA file without PEM data is an empty pool for etcd (it starts, and no client certificate
    verifies), not an error."""
    cert, key = _read(cert_file), _read(key_file)
    _check_key_pair(cert, key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError("tls: private key does not match public key") from None
        raise TLSConfigError(f"tls: {e.reason or e}") from None
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if trusted_ca_file:
        blocks = [m.group(0).decode("ascii", "replace") for m in _PEM_BLOCK.finditer(_read(trusted_ca_file))]
        for block in blocks:
            try:
                ctx.load_verify_locations(cadata=block)
            except (ssl.SSLError, ValueError) as e:
                raise TLSConfigError(f"x509: {getattr(e, 'reason', None) or e}") from None
    if client_cert_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx

async def _pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Copy one direction of a spliced connection, then half-close (or close) the other side."""
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass
    finally:
        try:
            if w.can_write_eof():
                w.write_eof()
            else:
                w.close()
        except Exception:  # noqa: BLE001
            pass


class FrontListener:
    """asyncio loop in its own thread: sniff, splice to gRPC or serve HTTP/1.1."""

    def __init__(self, host: str, port: int, link: GrpcLink, app: HttpApp,
                 ssl_ctx: ssl.SSLContext | None = None,
                 on_peer_cn: Callable[[str, str | None], None] | None = None,
                 sock: socket.socket | None = None) -> None:
        self.host, self.port, self.link = host, port, link
        self.sock = sock  # already bound and listening (the server binds before it touches the data dir)
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.on_peer_cn = on_peer_cn
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"front-{port}")

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            if self.sock is not None:
                serving = asyncio.start_server(self._conn, sock=self.sock, ssl=self.ssl_ctx, backlog=1024)
            else:
                serving = asyncio.start_server(self._conn, self.host, self.port, ssl=self.ssl_ctx,
                                               reuse_address=True, backlog=1024)
            self.server = self.loop.run_until_complete(serving)
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self._shutdown())
        finally:
            self.loop.close()

    def stop(self) -> None:
        """Stop serving, as etcd closes its client listeners: no new connections, every open one ends now (an
        open watch or an unanswered request sees its socket close). The loop thread finishes each connection's
        handler and closes the loop itself, so nothing is left pending for interpreter exit to destroy."""
        if self.thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.loop.stop)
            except RuntimeError:  # the loop already closed
                pass
        self.thread.join(5)

    async def _shutdown(self) -> None:
        """Runs on the loop once stop() ended run_forever: close the listener, cancel the connection handlers and
        wait for them (their finally blocks close both sockets), then let running HTTP handlers finish."""
        if self.server is not None:
            self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            done, _ = await asyncio.wait(tasks, timeout=3)
            for t in done:
                if not t.cancelled():
                    t.exception()  # retrieved: no "exception was never retrieved" report at exit
        await asyncio.sleep(0)  # the closed transports' connection_lost callbacks
        await self.loop.shutdown_asyncgens()
        try:
            await asyncio.wait_for(self.loop.shutdown_default_executor(), 3)
        except TimeoutError:
            pass

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = b""
            while len(head) < len(PREFACE):
                chunk = await reader.read(len(PREFACE) - len(head))
                if not chunk:
                    break
                head += chunk
                if not PREFACE.startswith(head[: len(PREFACE)]):
                    break
            if head.startswith(PREFACE):
                await self._splice(head, reader, writer)
            elif head:
                await self._http(head, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):  # incl. the private socket gone at stop
            pass
        except asyncio.CancelledError:  # _shutdown(): the connection ends with the server. Returning (not
            pass  # re-raising) matters: asyncio's done-callback for this task would report a cancelled one
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _splice(self, head: bytes, reader, writer) -> None:
        """Pass a gRPC connection on to grpcio through the private unix socket (grpclink)."""
        csock = writer.get_extra_info("socket")
        if csock is not None:
            try:
                csock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the unix side has no Nagle to turn off
            except OSError:
                pass
        sock, path = self.link.client_socket()
        key = peer_key(path)
        cn = self._verified_cn(writer)
        if cn is not None:
            self.on_peer_cn(key, cn)  # registered before grpcio can see the connection
        try:
            await asyncio.get_running_loop().sock_connect(sock, self.link.server_path)
            ur, uw = await asyncio.open_unix_connection(sock=sock)
        except BaseException:
            sock.close()
            self._forget(key, path, cn)
            raise
        uw.write(head)
        try:
            await asyncio.gather(_pump(reader, uw), _pump(ur, writer))
        finally:
            uw.close()
            self._forget(key, path, cn)

    def _verified_cn(self, writer) -> str | None:
        """The CN of the client certificate the TLS handshake verified (etcd: VerifiedChains[0]'s
        CommonName, "" when it has none); None without TLS, a CN consumer or a verified certificate."""
        if self.on_peer_cn is None or self.ssl_ctx is None:
            return None
        cert = writer.get_extra_info("peercert")
        if not cert:
            return None
        cn = ""
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
        return cn

    def _forget(self, key: str, path: str, cn: str | None) -> None:
        if cn is not None:
            self.on_peer_cn(key, None)
        self.link.release(path)

    async def _http(self, head: bytes, reader, writer) -> None:
        buf = head
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buf += chunk
                if len(buf) > 1 << 20:
                    return
            hdr, buf = buf.split(b"\r\n\r\n", 1)
            lines = hdr.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                return
            headers: dict[str, str] = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                got = await _read_chunked(reader, buf)  # Go's client sends empty v2 bodies chunked
                if got is None:
                    return
                body, buf = got
            else:
                n = int(headers.get("content-length", "0") or 0)
                while len(buf) < n:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:n], buf[n:]
            loop = asyncio.get_running_loop()
            v2 = self.app.v2
            if v2 is not None and hasattr(v2, "serve") and v2.wants(target):
                res = await v2.serve(method, target, headers, body, reader, writer)  # waits park here
                if res is None:
                    return  # the client hung up during a wait
                status, rh, rb = res
            else:
                status, rh, rb = await loop.run_in_executor(None, self.app.handle, method, target, headers, body)
            from email.utils import formatdate

            out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
            rh = dict(rh)
            rh.setdefault("Date", formatdate(usegmt=True))
            rh["Content-Length"] = str(len(rb))
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            if close:
                rh["Connection"] = "close"
            for k, v in rh.items():
                out.append(f"{k}: {v}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else rb))
            await writer.drain()
            if close:
                return
