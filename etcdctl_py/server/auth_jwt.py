"""etcd's JWT auth tokens (`--auth-token jwt,sign-method=...,priv-key=...,pub-key=...,ttl=...`).

Behaviour follows etcd 3.5.1 (server/auth/jwt.go, options.go, store.go's option parsing) and the
jwt-go library it vendors: a token is `base64url(header).base64url(claims).base64url(signature)`
with header `{"alg":..,"typ":"JWT"}` and claims `{"exp":..,"revision":..,"username":..}`;
nothing is kept in memory, so tokens survive restarts and carry the auth revision they were
signed at. Only a public key means "verify only": Authenticate then fails with etcd's error.
Startup errors carry etcd's exact texts, because etcd logs them in its fatal "discovery failed".

`cryptography` is imported only when a jwt provider is built (simple tokens never need it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from etcdctl_py import gofmt
from etcdctl_py.gofmt import go_json
from etcdctl_py.server import errors
from etcdctl_py.server.identity import ConfigError

INVALID_OPTS = "auth: invalid auth options"
MISSING_KEY = "auth: missing key data"
KEY_MISMATCH = "auth: public and private keys don't match"
NOT_PEM = "Invalid Key: Key must be a PEM encoded PKCS1 or PKCS8 key"
NOT_RSA_PRIVATE = "Key is not a valid RSA private key"
NOT_RSA_PUBLIC = "Key is not a valid RSA public key"
NOT_EC_PRIVATE = "Key is not a valid ECDSA private key"
NOT_EC_PUBLIC = "Key is not a valid ECDSA public key"
USE_EC = "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"
USE_PKCS1 = "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"
VERIFY_ONLY = errors.EtcdError(errors.C.UNKNOWN, "auth: token signing attempted with verify-only key")
INVALID_KEY = errors.EtcdError(errors.C.UNKNOWN, "key is invalid")
KNOWN_OPTIONS = ("sign-method", "pub-key", "priv-key", "ttl")
DEFAULT_TTL = 300.0


@dataclass(frozen=True)
class Method:
    """One jwt-go signing method: family RS / PS / ES / HS, hash size, EC curve bits."""

    name: str
    family: str
    bits: int
    curve_bits: int = 0


METHODS = {
    m.name: m
    for m in (
        Method("RS256", "RS", 256),
        Method("RS384", "RS", 384),
        Method("RS512", "RS", 512),
        Method("PS256", "PS", 256),
        Method("PS384", "PS", 384),
        Method("PS512", "PS", 512),
        Method("ES256", "ES", 256, 256),
        Method("ES384", "ES", 384, 384),
        Method("ES512", "ES", 512, 521),
        Method("HS256", "HS", 256),
        Method("HS384", "HS", 384),
        Method("HS512", "HS", 512),
        Method("none", "none", 0),
    )
}


# ---- option string ---------------------------------------------------------------------
def decompose(optstr: str) -> tuple[str, dict[str, str]]:
    """`type,k=v,...` split like etcd's decomposeOpts (malformed or duplicate pairs are errors)."""
    parts = optstr.split(",")
    opts: dict[str, str] = {}
    for item in parts[1:]:
        pair = item.split("=")
        if len(pair) != 2 or pair[0] in opts:
            raise ConfigError(INVALID_OPTS)
        opts[pair[0]] = pair[1]
    return parts[0], opts


# ---- keys (jwt-go's Parse*FromPEM over Go's x509, with Go's error texts) -------------------
_PEM = re.compile(rb"(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t\r]*\n(.*?)-----END \1-----", re.S)


def pem_block(data: bytes) -> bytes | None:
    """DER bytes of the first well-formed PEM block anywhere in data (Go's pem.Decode), else None."""
    for m in _PEM.finditer(data):
        body = m.group(2)
        if b":" in body.split(b"\n\n", 1)[0] and b"\n\n" in body:
            body = body.split(b"\n\n", 1)[1]  # RFC 1421 headers
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            continue
    return None


def _der_header(der: bytes, off: int) -> tuple[int, int, bool, int, int] | None:
    """(class, tag, compound, length, offset after the header) of the DER element at off."""
    if off >= len(der):
        return None
    b = der[off]
    cls, compound, tag = b >> 6, bool(b & 0x20), b & 0x1F
    off += 1
    if tag == 0x1F:
        return None
    if off >= len(der):
        return None
    n = der[off]
    off += 1
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or off + k > len(der):
            return None
        n = int.from_bytes(der[off : off + k], "big")
        off += k
    return cls, tag, compound, n, off


def _shape(der: bytes) -> str:
    """Which private-key container a DER blob is: pkcs1, pkcs8, sec1, spki or unknown."""
    top = _der_header(der, 0)
    if top is None or top[1] != 16:
        return "unknown"
    first = _der_header(der, top[4])
    if first is None:
        return "unknown"
    if first[1] == 16:
        return "spki"
    second = _der_header(der, first[4] + first[3])
    if first[1] != 2 or second is None:
        return "unknown"
    return {2: "pkcs1", 16: "pkcs8", 4: "sec1"}.get(second[1], "unknown")


_PARAMS = (
    "{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> "
    "stringType:0 timeType:0 set:false omitEmpty:false}"
)


def _asn1_error(der: bytes, struct_name: str, first_tag: int, first_name: str) -> str:
    """Go's encoding/asn1 message for the first element that is not what the Go struct expects."""
    top = _der_header(der, 0)
    if top is None:
        return "asn1: syntax error: truncated tag or length"
    cls, tag, compound, length, off = top
    if (cls, tag, compound) != (0, 16, True):
        return (
            f"asn1: structure error: tags don't match (16 vs {{class:{cls} tag:{tag} length:{length} "
            f"isCompound:{str(compound).lower()}}}) {_PARAMS} {struct_name} @{off}"
        )
    inner = der[off : off + length]
    first = _der_header(inner, 0)
    if first is None:
        return "asn1: syntax error: data truncated"
    cls, tag, compound, length, ioff = first
    if (cls, tag, compound) != (0, first_tag, first_tag == 16):
        return (
            f"asn1: structure error: tags don't match ({first_tag} vs {{class:{cls} tag:{tag} "
            f"length:{length} isCompound:{str(compound).lower()}}}) {_PARAMS} {first_name} @{ioff}"
        )
    return "asn1: structure error: tags don't match"


def _load_private(der: bytes, want: str) -> Any:
    """A private key as jwt-go's ParseRSAPrivateKeyFromPEM / ParseECPrivateKeyFromPEM gets it."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    shape = _shape(der)
    native = "pkcs1" if want == "RSA" else "sec1"
    if shape not in (native, "pkcs8"):
        # the native parser failed; Go's PKCS#8 fallback explains what the blob really is
        if shape == "sec1":
            raise ConfigError(USE_EC)
        if shape == "pkcs1":
            raise ConfigError(USE_PKCS1)
        raise ConfigError(_asn1_error(der, "pkcs8", 2, "int"))
    try:
        key = load_der_private_key(der, password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"x509: failed to parse private key: {e}") from None
    kind = rsa.RSAPrivateKey if want == "RSA" else ec.EllipticCurvePrivateKey
    if not isinstance(key, kind):
        raise ConfigError(NOT_RSA_PRIVATE if want == "RSA" else NOT_EC_PRIVATE)
    return key


def _load_public(der: bytes, want: str) -> Any:
    """A public key as jwt-go's Parse*PublicKeyFromPEM gets it (PKIX, else a certificate's key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = None
    if _shape(der) == "spki":
        try:
            key = load_der_public_key(der)
        except (ValueError, TypeError):
            key = None
    if key is None:
        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            raise ConfigError(_asn1_error(der, "certificate", 16, "tbsCertificate")) from None
    kind = rsa.RSAPublicKey if want == "RSA" else ec.EllipticCurvePublicKey
    if not isinstance(key, kind):
        raise ConfigError(NOT_RSA_PUBLIC if want == "RSA" else NOT_EC_PUBLIC)
    return key


def _asym_keys(method: Method, priv: bytes, pub: bytes) -> tuple[Any, Any, bool]:
    """(signing key or None, verifying key, verify_only) for RS/PS/ES, like options.go's rsaKey/ecKey."""
    want = "EC" if method.family == "ES" else "RSA"
    sk = pk = None
    if priv:
        der = pem_block(priv)
        if der is None:
            raise ConfigError(NOT_PEM)
        sk = _load_private(der, want)
    if pub:
        der = pem_block(pub)
        if der is None:
            raise ConfigError(NOT_PEM)
        pk = _load_public(der, want)
    if sk is None:
        if pk is None:
            raise ConfigError(MISSING_KEY)
        return None, pk, True
    if pk is not None:
        # etcd 3.5.1 compares with && where || was meant: only keys differing in every part mismatch
        a, b = sk.public_key().public_numbers(), pk.public_numbers()
        if want == "RSA" and a.e != b.e and a.n != b.n:
            raise ConfigError(KEY_MISMATCH)
        if want == "EC" and a.curve.name != b.curve.name and a.x != b.x and a.y != b.y:
            raise ConfigError(KEY_MISMATCH)
    return sk, sk.public_key(), False


# ---- base64url / JSON as jwt-go writes and reads them -----------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(seg: str) -> bytes:
    """jwt-go's DecodeSegment: re-pad, then strict URL-alphabet base64 (ValueError when bad)."""
    seg = seg + "=" * (-len(seg) % 4)
    return base64.b64decode(seg.encode("ascii"), altchars=b"-_", validate=True)


def _number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _go_int64(v: float) -> int:
    """Go's int64(float64) on amd64: truncation; NaN, infinities and overflow give the minimum."""
    if not math.isfinite(v) or abs(v) >= 2**63:
        return -(2**63)
    return int(v)


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")  # Go's encoding/json has no NaN/Infinity


_JSON = json.JSONDecoder(parse_constant=_no_constant)


# ---- the provider ----------------------------------------------------------------------
class _StatelessTokens:
    """The simple-token provider's hooks, which mean nothing for tokens no server keeps state for."""

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass

    def invalidate_user(self, user: str) -> None:
        pass

    @staticmethod
    def gen_prefix() -> str:
        return ""


@dataclass(eq=False)
class JwtTokens(_StatelessTokens):
    """Signs and verifies etcd's JWTs; the same interface auth_store uses for SimpleTokens."""

    method: Method
    signing_key: Any
    verify_key: Any
    ttl: float
    verify_only: bool
    revision: Callable[[], int]

    def _hash(self):
        from cryptography.hazmat.primitives import hashes

        return {256: hashes.SHA256, 384: hashes.SHA384, 512: hashes.SHA512}[self.method.bits]()

    def _sign(self, data: bytes) -> bytes:
        fam = self.method.family
        if fam == "HS":
            return hmac.new(self.signing_key, data, getattr(hashlib, f"sha{self.method.bits}")).digest()
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        if fam == "RS":
            return self.signing_key.sign(data, padding.PKCS1v15(), self._hash())
        if fam == "PS":
            pad = padding.PSS(mgf=padding.MGF1(self._hash()), salt_length=padding.PSS.DIGEST_LENGTH)
            return self.signing_key.sign(data, pad, self._hash())
        bits = self.signing_key.curve.key_size
        if bits != self.method.curve_bits:
            raise INVALID_KEY  # jwt-go refuses e.g. ES384 with a P-256 key, at signing time
        r, s = utils.decode_dss_signature(self.signing_key.sign(data, ec.ECDSA(self._hash())))
        size = (bits + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def _verify(self, data: bytes, sig: bytes) -> bool:
        fam = self.method.family
        if fam == "HS":
            return hmac.compare_digest(self._sign(data), sig)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        try:
            if fam == "RS":
                self.verify_key.verify(sig, data, padding.PKCS1v15(), self._hash())
            elif fam == "PS":
                pad = padding.PSS(mgf=padding.MGF1(self._hash()), salt_length=padding.PSS.AUTO)
                self.verify_key.verify(sig, data, pad, self._hash())
            else:
                size = {256: 32, 384: 48, 512: 66}[self.method.bits]
                if len(sig) != 2 * size:
                    return False
                der = utils.encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
                self.verify_key.verify(der, data, ec.ECDSA(self._hash()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def assign(self, user: str, prefix: str, index: int) -> str:
        """A token for user at the current auth revision, expiring ttl from now (whole seconds)."""
        if self.verify_only:
            raise VERIFY_ONLY
        header = go_json({"alg": self.method.name, "typ": "JWT"}, sort_keys=True)  # Go maps: keys sorted
        claims = go_json(
            {"username": user, "revision": self.revision(), "exp": math.floor(time.time() + self.ttl)}, sort_keys=True
        )
        signing = f"{b64url(header.encode())}.{b64url(claims.encode())}"
        return f"{signing}.{b64url(self._sign(signing.encode()))}"

    def lookup(self, token: str, applied_index: int) -> tuple[str, int] | None:
        """(user, auth revision signed into the token) when valid; None when bad or expired."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = _JSON.decode(unb64url(parts[0]).decode("utf-8", "replace"))
            raw = unb64url(parts[1]).decode("utf-8", "replace")
            claims, _ = _JSON.raw_decode(raw.lstrip(" \t\r\n"))  # like json.Decoder: trailing bytes ignored
            sig = unb64url(parts[2])
        except (ValueError, UnicodeError, RecursionError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        if header.get("alg") != self.method.name:
            return None
        now = math.floor(time.time())
        for name, ok in (("exp", lambda v: now <= v), ("iat", lambda v: now >= v), ("nbf", lambda v: now >= v)):
            v = claims.get(name)
            if _number(v) and _go_int64(v) != 0 and not ok(_go_int64(v)):
                return None
        if not self._verify(f"{parts[0]}.{parts[1]}".encode(), sig):
            return None
        user, rev = claims.get("username"), claims.get("revision")
        if not isinstance(user, str) or not _number(rev) or not 0 <= rev < 2**64:
            return None
        return user, int(rev)


class NopTokens(_StatelessTokens):
    """`--auth-token ""`: etcd's nop provider; nobody can authenticate and no token is valid."""

    def assign(self, user: str, prefix: str, index: int) -> str:
        raise errors.AUTH_FAILED

    def lookup(self, token: str, applied_index: int) -> None:
        return None


def _read(path: str) -> bytes:
    if not path:
        return b""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise ConfigError(INVALID_OPTS) from None


def jwt_provider(
    opts: dict[str, str], revision: Callable[[], int], warn: Callable[[str, list[str]], None] | None = None
) -> JwtTokens:
    """newTokenProviderJWT: options in etcd's order (ttl, pub-key, priv-key, sign-method), then keys."""
    try:
        ttl = gofmt.parse_duration(opts["ttl"]) / 1e9 if opts.get("ttl") else DEFAULT_TTL
    except ValueError:
        raise ConfigError(INVALID_OPTS) from None
    pub = _read(opts.get("pub-key", ""))
    priv = _read(opts.get("priv-key", ""))
    method = METHODS.get(opts.get("sign-method", ""))
    if method is None:
        raise ConfigError(INVALID_OPTS)  # etcd turns "invalid auth signature method" into this
    unknown = [k for k in opts if k not in KNOWN_OPTIONS]
    if unknown and warn is not None:
        warn("unknown JWT options", unknown)
    if method.family == "none":
        raise ConfigError("unsupported signing method: *jwt.signingMethodNone")
    if method.family == "HS":
        if not priv:
            raise ConfigError(MISSING_KEY)
        return JwtTokens(method, priv, priv, ttl, False, revision)
    sk, pk, verify_only = _asym_keys(method, priv, pub)
    return JwtTokens(method, sk, pk, ttl, verify_only, revision)


def token_provider(optstr: str, revision: Callable[[], int], warn: Callable[[str, list[str]], None] | None = None):
    """The provider --auth-token names; None for "simple" (the auth store's default SimpleTokens).

    Raises identity.ConfigError with etcd's message when the option string is bad."""
    kind, opts = decompose(optstr)
    if kind == "simple":
        return None
    if kind == "jwt":
        return jwt_provider(opts, revision, warn)
    if kind == "":
        return NopTokens()
    raise ConfigError(INVALID_OPTS)
