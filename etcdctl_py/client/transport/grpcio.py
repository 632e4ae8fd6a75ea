"""The grpcio transport: one grpc channel per endpoint.

Serves the bidirectional streams (Watch, LeaseKeepAlive), Observe (which waits for its member), host-name endpoints
(grpc's resolver) and, with ETCDCTL_PY_TRANSPORT=grpcio, every call. Importing this module imports grpc.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import grpc

from etcdctl_py.client.endpoints import Endpoint
from etcdctl_py.client.tls import KeyMaterial, TLSConfig
from etcdctl_py.client.transport.base import CallError, Metadata

MAX_RECV = 2**31 - 1  # the Go client's default MaxCallRecvMsgSize (math.MaxInt32)


def call_error(e: grpc.RpcError) -> CallError:
    """grpc's failure as the transport-neutral CallError."""
    return CallError(e.code().value[0], e.details() or "")


class GrpcioTransport:
    """Channels (opened on first use) to `endpoints`, with `tls` (None: plaintext) and its files' bytes."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        tls: TLSConfig | None,
        files: KeyMaterial | None,
        *,
        dial_timeout: float,
        keepalive: tuple[float, float],
    ):
        self.endpoints = endpoints
        self.tls = tls
        self.files = files
        self.dial_timeout = dial_timeout
        self.keepalive = keepalive
        self._creds = (
            None
            if tls is None or files is None
            else grpc.ssl_channel_credentials(
                root_certificates=files.ca, private_key=files.key, certificate_chain=files.cert
            )
        )
        self._channels: dict[int, grpc.Channel] = {}
        self._methods: dict[tuple[int, str, str, object], Any] = {}

    def _channel(self, idx: int) -> grpc.Channel:
        ch = self._channels.get(idx)
        if ch is None:
            ch = self._channels[idx] = self._open_channel(self.endpoints[idx])
        return ch

    def _open_channel(self, ep: Endpoint) -> grpc.Channel:
        keepalive_time, keepalive_timeout = self.keepalive
        opts: list[tuple[str, int | str]] = [
            ("grpc.max_receive_message_length", MAX_RECV),
            ("grpc.max_send_message_length", MAX_RECV),
            ("grpc.keepalive_time_ms", _option_ms(max(keepalive_time, 10.0))),
            ("grpc.keepalive_timeout_ms", _option_ms(keepalive_timeout)),
            ("grpc.enable_retries", 0),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        creds, tls = self._creds, self.tls
        if creds is None or tls is None:
            return grpc.insecure_channel(ep.target, options=opts)
        if tls.server_name:
            opts.append(("grpc.ssl_target_name_override", tls.server_name))
        elif ep.target.startswith("unix:") and ep.server_name:
            opts.append(("grpc.ssl_target_name_override", ep.server_name))
        if tls.insecure_skip_verify:
            creds = self._trust_server_certificate(ep)
        return grpc.secure_channel(ep.target, creds, options=opts)

    def _trust_server_certificate(self, ep: Endpoint) -> grpc.ChannelCredentials:
        """--insecure-skip-tls-verify: grpcio cannot skip verification, so trust what the server shows."""
        import ssl

        try:
            pem = ssl.get_server_certificate((ep.host, ep.port), timeout=self.dial_timeout) if ep.host else ""
        except (OSError, ValueError):
            pem = ""  # nothing to trust: the handshake fails, as with an unknown certificate
        files = self.files
        return grpc.ssl_channel_credentials(
            root_certificates=pem.encode() or None,
            private_key=files.key if files else None,
            certificate_chain=files.cert if files else None,
        )

    def _method(self, idx: int, path: str, kind: str, decode: Callable[[bytes], Any] | None = None) -> Any:
        key = (idx, path, kind, decode)
        m = self._methods.get(key)
        if m is None:
            channel = self._channel(idx)
            if decode is None:  # bytes in, bytes out
                m = getattr(channel, kind)(path)
            else:
                m = getattr(channel, kind)(path, request_serializer=_serialize, response_deserializer=decode)
            self._methods[key] = m
        return m

    def unary(self, idx: int, path: str, request: bytes, *, timeout: float | None, metadata: Metadata) -> bytes:
        try:
            return self._method(idx, path, "unary_unary")(
                request, timeout=timeout, metadata=list(metadata) or None, wait_for_ready=False
            )
        except grpc.RpcError as e:
            raise call_error(e) from None

    def server_stream(
        self,
        idx: int,
        path: str,
        request: bytes,
        *,
        timeout: float | None,
        metadata: Metadata,
        wait_for_ready: bool = False,
    ) -> Iterator[bytes]:
        it = self._method(idx, path, "unary_stream")(
            request, timeout=timeout, metadata=list(metadata) or None, wait_for_ready=wait_for_ready
        )
        return _neutral(it)

    def bidi(
        self,
        idx: int,
        path: str,
        requests: Iterable[Any],
        decode: Callable[[bytes], Any],
        *,
        metadata: Metadata,
        wait_for_ready: bool,
    ) -> Any:
        """grpc's call object of a bidirectional stream: iterated for the `decode`d responses, cancel()ed to end it;
        its failures are grpc.RpcError (see call_error). Requests are protobuf messages."""
        return self._method(idx, path, "stream_stream", decode)(
            iter(requests), metadata=list(metadata) or None, wait_for_ready=wait_for_ready
        )

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()
        self._methods.clear()


def _neutral(it: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from it
    except grpc.RpcError as e:
        raise call_error(e) from None


def _serialize(msg: Any) -> bytes:
    return msg.SerializeToString()


def _option_ms(seconds: float) -> int:
    """A duration as a grpc channel option (a C int of milliseconds): Go durations reach 292 years."""
    return max(0, min(int(seconds * 1000), 2**31 - 1))
