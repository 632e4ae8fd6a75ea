"""Make a throw-away CA, a server certificate for 127.0.0.1 and a client certificate with openssl."""

from __future__ import annotations

import os
import ssl
import subprocess


def make_certs(
    d: str,
    client_cn: str = "root",
    *,
    digest: str = "",
    ca_cn: str = "etcdctl-py test CA",
    san: str | None = "IP:127.0.0.1",
) -> dict[str, str]:
    """`digest` ("sha1", ...) signs the CA and both certificates with that digest instead of openssl's default;
    `san` is the certificates' subjectAltName (None: no such extension, only the Common Name)."""
    sign = [f"-{digest}"] if digest else []

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ossl(
        "req",
        "-x509",
        *sign,
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={ca_cn}",
    )
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write((f"subjectAltName={san}\n" if san else "") + "extendedKeyUsage=serverAuth,clientAuth\n")
    for name, cn in (("server", "127.0.0.1"), ("client", client_cn)):
        ossl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={cn}",
        )
        ossl(
            "x509",
            "-req",
            *sign,
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        )
    return {
        k: os.path.join(d, f)
        for k, f in (
            ("ca", "ca.pem"),
            ("server_cert", "server.pem"),
            ("server_key", "server.key"),
            ("client_cert", "client.pem"),
            ("client_key", "client.key"),
        )
    }


def client_context(certs: dict[str, str]) -> ssl.SSLContext:
    """An https client context that trusts certs["ca"] and presents the client certificate (for /health polls)."""
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["client_cert"], certs["client_key"])
    return ctx
