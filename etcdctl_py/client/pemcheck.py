"""Go's tls.X509KeyPair checks of the PEM blocks in --cert/--key, so a swapped or wrong file gets etcdctl's
error text before any connection is tried (grpc would otherwise only fail the handshake, much later, with a
vaguer "context deadline exceeded")."""

from __future__ import annotations

import re

# pem.Decode: a BEGIN line, base64 body, the matching END line; anything else is skipped
_BLOCK = re.compile(rb"-----BEGIN ([^\r\n-]*)-----\r?\n(.*?)-----END \1-----", re.S)


def _types(data: bytes) -> list[str]:
    return [m.group(1).decode("latin-1") for m in _BLOCK.finditer(data)]


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def key_pair_error(cert: bytes, key: bytes) -> str | None:
    """Go's error text for a cert/key pair whose PEM blocks are wrong, or None when the blocks look right."""
    ctypes = _types(cert)
    if "CERTIFICATE" not in ctypes:
        if not ctypes:
            return "tls: failed to find any PEM data in certificate input"
        if len(ctypes) == 1 and ctypes[0].endswith("PRIVATE KEY"):
            return (
                "tls: failed to find certificate PEM data in certificate input, but did find a private key; "
                "PEM inputs may have been switched"
            )
        return (
            'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of '
            f"the following types: {_go_list(ctypes)}"
        )
    skipped: list[str] = []
    for t in _types(key):
        if t == "PRIVATE KEY" or t.endswith(" PRIVATE KEY"):
            return None
        skipped.append(t)
    if not skipped:
        return "tls: failed to find any PEM data in key input"
    if skipped == ["CERTIFICATE"]:
        return "tls: found a certificate rather than a key in the PEM for the private key"
    return (
        'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM '
        f"blocks of the following types: {_go_list(skipped)}"
    )
