"""The client-port front listener: gRPC and HTTP/1.1 on the same port, as etcd serves them.

A connection whose first bytes are the HTTP/2 preface is spliced to the internal grpcio server
(a private loopback port); anything else is answered here as HTTP/1.1 (/health, /version,
/metrics, /v2/...). With TLS the handshake happens here and the decrypted stream is sniffed
the same way; the client certificate's CN is remembered per internal connection so the gRPC
layer can use it as the user name.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from typing import Callable

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


class FrontListener:
    """asyncio loop in its own thread: sniff, splice to gRPC or serve HTTP/1.1."""

    def __init__(self, host: str, port: int, grpc_port: int, app: HttpApp,
                 ssl_ctx: ssl.SSLContext | None = None, on_peer_cn: Callable[[int, str], None] | None = None) -> None:
        self.host, self.port, self.grpc_port = host, port, grpc_port
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
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self._conn, self.host, self.port, ssl=self.ssl_ctx, reuse_address=True,
                                     backlog=1024))
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        def _close() -> None:
            if self.server is not None:
                self.server.close()
            self.loop.stop()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(_close)
        self.thread.join(5)

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
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _splice(self, head: bytes, reader, writer) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.grpc_port)
        sock = uw.get_extra_info("socket")
        if sock is not None:
            import socket as _s

            sock.setsockopt(_s.IPPROTO_TCP, _s.TCP_NODELAY, 1)
        csock = writer.get_extra_info("socket")
        if csock is not None:
            import socket as _s

            try:
                csock.setsockopt(_s.IPPROTO_TCP, _s.TCP_NODELAY, 1)
            except OSError:
                pass
        if self.on_peer_cn is not None and self.ssl_ctx is not None:
            cert = writer.get_extra_info("peercert")
            cn = ""
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            local_port = uw.get_extra_info("sockname")[1]
            self.on_peer_cn(local_port, cn)
        uw.write(head)

        async def pump(r, w) -> None:
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

        try:
            await asyncio.gather(pump(reader, uw), pump(ur, writer))
        finally:
            uw.close()
            if self.on_peer_cn is not None and self.ssl_ctx is not None:
                self.on_peer_cn(uw.get_extra_info("sockname")[1], None)

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
