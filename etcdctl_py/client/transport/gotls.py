"""Go's words (crypto/tls, crypto/x509) for an OpenSSL handshake failure, as grpc-go wraps them in a dial error."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

HANDSHAKE_FAILED = "transport: authentication handshake failed: "

_ALERTS = {  # OpenSSL alert reasons -> Go's "remote error: tls: ..." texts
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "bad certificate",  # Go 1.16 servers send bad_certificate here
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "handshake failure",
    "TLSV1_ALERT_UNKNOWN_CA": "unknown certificate authority",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "expired certificate",
    "TLSV1_ALERT_PROTOCOL_VERSION": "protocol version not supported",
    "TLSV1_ALERT_DECRYPT_ERROR": "error decrypting message",
}
_UNKNOWN_AUTHORITY = {18, 19, 20, 21}  # self-signed, self-signed in chain, no local issuer, unverifiable leaf
_HOSTNAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def tls_error_text(
    exc: ssl.SSLError, server_name: str, peer_certificate: Callable[[], bytes | None] | None = None
) -> str:
    """The reason Go gives for the same failure, e.g. `x509: certificate signed by unknown authority`.

    A name mismatch is worded from the server's certificate, as Go's HostnameError is; `peer_certificate` fetches
    it (DER) when asked, since OpenSSL keeps none after a failed verification."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _UNKNOWN_AUTHORITY:
            return "x509: certificate signed by unknown authority"
        if exc.verify_code == 10:
            return "x509: certificate has expired or is not yet valid"
        if exc.verify_code in _HOSTNAME_MISMATCH:
            if peer_certificate is not None:
                # the server went away, or sent a certificate cryptography cannot parse: the plain wording then
                with contextlib.suppress(OSError, ValueError):
                    der = peer_certificate()
                    if der is not None:
                        return hostname_error(der, server_name)
            return f"x509: certificate is not valid for {server_name}"
        return f"x509: {exc.verify_message}"
    alert = _ALERTS.get(exc.reason or "")
    if alert:
        return f"remote error: tls: {alert}"
    if isinstance(exc, ssl.SSLEOFError) or exc.reason == "UNEXPECTED_EOF_WHILE_READING":
        return "EOF"
    if exc.reason == "WRONG_VERSION_NUMBER":
        return "tls: first record does not look like a TLS handshake"
    return f"tls: {exc.reason or exc}"


LEGACY_CN = (
    "x509: certificate relies on legacy Common Name field, use SANs or temporarily enable Common Name matching with "
    "GODEBUG=x509ignoreCN=0"
)


def hostname_error(der: bytes, host: str) -> str:
    """Go 1.16's x509.HostnameError text for a certificate (DER) that does not name `host` (Common Name ignored)."""
    import ipaddress

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    try:
        san: x509.SubjectAlternativeName | None = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        san = None
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[-1].value) if cns else ""
    if san is None and _match_hostnames(cn, host):
        return LEGACY_CN
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if is_ip:
        ips = [] if san is None else san.get_values_for_type(x509.IPAddress)
        if not ips:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        valid = ", ".join(str(ip) for ip in ips)
    else:
        valid = ", ".join([] if san is None else san.get_values_for_type(x509.DNSName))
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def _match_hostnames(pattern: str, host: str) -> bool:
    """Go's matchHostnames: label by label, ASCII case-folded, a leading `*` label matching any one label."""
    pattern, host = pattern.lower(), host.removesuffix(".").lower()
    if not pattern or not host:
        return False
    pp, hp = pattern.split("."), host.split(".")
    if len(pp) != len(hp):
        return False
    return all((i == 0 and p == "*") or p == h for i, (p, h) in enumerate(zip(pp, hp, strict=True)))


def fetch_peer_certificate(addr: tuple[str, int] | str, server_name: str, timeout: float) -> bytes | None:
    """The server's certificate (DER), read over a fresh connection that verifies nothing: only for wording an
    error after the verified handshake has failed, never to trust the server."""
    import socket
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as raw:
        raw.settimeout(max(timeout, 0.05))
        raw.connect(addr)
        with ctx.wrap_socket(raw, server_hostname=server_name or None) as tls:
            return tls.getpeercert(binary_form=True)
