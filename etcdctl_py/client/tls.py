"""TLS settings of a client, for the v3 (gRPC) and the v2 (HTTP) clients alike.

The files are read the way Go's TLSInfo.ClientConfig reads them, so a bad one gets Go's error text, in Go's order:
both halves of the key pair named, the certificate read, the key read, the pair's PEM blocks checked, then the CA.
Pure standard library: the v2 client uses it without importing grpc.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, NamedTuple

from etcdctl_py.client.errors import ConfigError
from etcdctl_py.slotrecord import SlotRecord

if TYPE_CHECKING:
    import ssl


class KeyMaterial(NamedTuple):
    """The bytes of the files a TLSConfig names (None where it names none)."""

    ca: bytes | None
    cert: bytes | None
    key: bytes | None


class TLSConfig(SlotRecord):
    """etcdctl's --cacert/--cert/--key/--insecure-skip-tls-verify (v2: --ca-file/--cert-file/--key-file).

    A plain class, not a dataclass: dataclasses imports inspect, ~10 ms of a cold `get`.
    """

    __slots__ = ("ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name")

    def __init__(
        self,
        ca_file: str = "",
        cert_file: str = "",
        key_file: str = "",
        insecure_skip_verify: bool = False,
        server_name: str = "",  # the name a server certificate is checked against, when not the endpoint's host
    ) -> None:
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.insecure_skip_verify = insecure_skip_verify
        self.server_name = server_name

    def read(self) -> KeyMaterial:
        """The files' bytes, checked in Go's order; ConfigError with Go's text for a missing half, an unreadable file
        or a cert/key pair whose PEM blocks are wrong."""
        cert = key = None
        if self.cert_file or self.key_file:
            if not (self.cert_file and self.key_file):
                raise ConfigError(
                    f"KeyFile and CertFile must both be present[key: {self.key_file}, cert: {self.cert_file}]"
                )
            cert, key = _read(self.cert_file), _read(self.key_file)
            from etcdctl_py.client.pemcheck import (
                key_pair_error,  # only with a key pair: keeps start-up lean
            )

            bad = key_pair_error(cert, key)
            if bad:
                raise ConfigError(bad)
        return KeyMaterial(_read(self.ca_file) if self.ca_file else None, cert, key)

    def ssl_context(self) -> ssl.SSLContext:
        """An SSLContext for an HTTP(S) client: the CA (else the system roots) and the client key pair, if named."""
        import ssl

        ctx = ssl.create_default_context(cafile=self.ca_file or None)
        ctx.hostname_checks_common_name = False  # Go 1.16 ignores the Common Name (x509ignoreCN=1)
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file or self.key_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


def _read(path: str) -> bytes:
    """Go's os.ReadFile, with its error text: a directory opens fine and fails on read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        from etcdctl_py.storage.fileutil import (
            go_path_error,  # only on failure: keeps start-up lean
        )

        raise ConfigError(go_path_error("read" if e.errno == errno.EISDIR else "open", path, e)) from None
