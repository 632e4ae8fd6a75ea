"""Go's words (crypto/tls, crypto/x509) for an OpenSSL handshake failure, as grpc-go wraps them in a dial error."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

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


def tls_error_text(exc: ssl.SSLError, server_name: str) -> str:
    """The reason Go gives for the same failure, e.g. `x509: certificate signed by unknown authority`."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _UNKNOWN_AUTHORITY:
            return "x509: certificate signed by unknown authority"
        if exc.verify_code == 10:
            return "x509: certificate has expired or is not yet valid"
        if exc.verify_code in _HOSTNAME_MISMATCH:
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
