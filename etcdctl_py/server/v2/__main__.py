"""Standalone v2-only server for tests: `python -m etcdctl_py.server.v2 --listen 127.0.0.1:PORT --data-dir D`.

Serves /v2/*, /version and /health over HTTP/1.1 with asyncio, so real `ETCDCTL_API=2 etcdctl`
can be compared against real etcd. Identity flags follow etcd's names so twins get equal IDs.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import signal
import sys

from ..identity import ConfigError, derive_cluster, parse_urls
from .api import V2Api, V2Identity, V2Member


def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m etcdctl_py.server.v2")
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--name", default="default")
    ap.add_argument("--initial-advertise-peer-urls", default="http://localhost:2380")
    ap.add_argument("--initial-cluster", default="")
    ap.add_argument("--initial-cluster-token", default="etcd-cluster")
    ap.add_argument("--advertise-client-urls", default="")
    return ap.parse_args(argv)


async def _serve_conn(api: V2Api, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                method, target, _ver = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            except ValueError:
                return
            headers: dict[str, str] = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip()] = v.strip()
            hl = {k.lower(): v for k, v in headers.items()}
            body = b""
            if "content-length" in hl:
                body = await reader.readexactly(int(hl["content-length"]))
            elif hl.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int((await reader.readline()).strip().split(b";")[0], 16)
                    if size == 0:
                        await reader.readline()
                        break
                    body += await reader.readexactly(size)
                    await reader.readline()
            path, _, query = target.partition("?")
            status, rh, rb = await api.handle_async(method, path, query, headers, body)
            from http import HTTPStatus

            reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            out = [f"HTTP/1.1 {status} {reason}"]
            out += [f"{k}: {v}" for k, v in rh]
            out.append(f"Date: {email.utils.formatdate(usegmt=True)}")
            out.append(f"Content-Length: {len(rb)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else rb))
            await writer.drain()
            if hl.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _main(ns: argparse.Namespace) -> int:
    host, _, port = ns.listen.rpartition(":")
    client_urls = parse_urls(ns.advertise_client_urls) if ns.advertise_client_urls else [f"http://{ns.listen}"]
    adv = parse_urls(ns.initial_advertise_peer_urls)
    ic = ns.initial_cluster or ",".join(f"{ns.name}={u}" for u in adv)
    cid, members, local = derive_cluster(ns.name, ic, adv, ns.initial_cluster_token, client_urls)
    ident = V2Identity(cid, local, [V2Member(m.id, m.name, m.peer_urls, m.client_urls) for m in members],
                       name=ns.name, token=ns.initial_cluster_token)
    api = V2Api(ident, ns.data_dir or None)
    server = await asyncio.start_server(lambda r, w: _serve_conn(api, r, w), host, int(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.5)
            api.tick()

    t = asyncio.create_task(ticker())
    async with server:
        await stop.wait()
    t.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return asyncio.run(_main(ns))
    except ConfigError as e:
        sys.stderr.write(f"{e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
