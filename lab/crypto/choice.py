"""Which of a client's certificates a CertificateRequest allows, and which it points to: the
rules of RFC 5246 7.4.4/7.4.6, RFC 8446 4.2.3-4.2.5/4.4.2 and RFC 5280 4.2.1.12 applied to
certificates (DER in, verdicts out).

- fits (MUST): the end-entity key can make a CertificateVerify with one of the request's
  signature_algorithms (in TLS 1.3 the ECDSA curve is bound to the scheme, and RSA keys sign with
  PSS only), its type is one of the TLS 1.2 certificate_types, its extKeyUsage (if any) allows
  clientAuth, and it has each extKeyUsage that oid_filters asks for.
- named (SHOULD): one of the chain's certificates is issued by a CA the request names (DER
  equality, or equality of the names' RFC 4514 strings, case and spaces aside, as RFC 5280 7.1
  compares them after string preparation); None when the request names no CAs.
The chain's own signature algorithms are not judged here. No library evaluates a request
against certificates, so these few rules are written out."""
from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

RSA_PKCS1 = (0x0201, 0x0401, 0x0501, 0x0601)
RSA_PSS_RSAE, RSA_PSS_PSS = (0x0804, 0x0805, 0x0806), (0x0809, 0x080A, 0x080B)
ECDSA = {"secp256r1": 0x0403, "secp384r1": 0x0503, "secp521r1": 0x0603}
RSA_SIGN, ECDSA_SIGN = 1, 64


@dataclass(frozen=True)
class Request:
    """The fields of a CertificateRequest that decide the choice."""
    version: str                              # "1.2" | "1.3"
    schemes: tuple[int, ...]
    # DER names; None (no list, TLS 1.3) or empty (TLS 1.2: "any certificate of the appropriate
    # type", RFC 5246 7.4.4): no CA is named
    authorities: tuple[bytes, ...] | None
    types: tuple[int, ...] | None = None      # TLS 1.2 certificate_types
    eku: tuple[str, ...] = ()                 # dotted OIDs oid_filters asks extKeyUsage to hold


@dataclass(frozen=True)
class Verdict:
    name: str
    fits: bool
    why: str                 # what keeps it out, or "fits"
    named: bool | None       # None: the request names no CAs


def usable_schemes(cert: x509.Certificate, version: str, pss_key: bool = False) -> tuple[int, ...]:
    """The signature schemes this certificate's key can make a CertificateVerify with."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if pss_key:
            return RSA_PSS_PSS
        return RSA_PSS_RSAE if version == "1.3" else RSA_PKCS1 + RSA_PSS_RSAE
    if isinstance(key, ec.EllipticCurvePublicKey):
        bound = ECDSA.get(key.curve.name)
        if version == "1.3":
            return (bound,) if bound else ()
        return (0x0203, *ECDSA.values())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return (0x0807,)
    if isinstance(key, ed448.Ed448PublicKey):
        return (0x0808,)
    return ()


def _certificate_type(cert: x509.Certificate) -> int | None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_SIGN
    if isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return ECDSA_SIGN   # RFC 8422 5.5: EdDSA keys go with ecdsa_sign too
    return None


def _ekus(cert: x509.Certificate) -> set[str] | None:
    try:
        return {u.dotted_string for u in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except x509.ExtensionNotFound:
        return None


def _same_name(a: x509.Name, der: bytes, text: str) -> bool:
    return a.public_bytes() == der or _fold(a.rfc4514_string()) == text


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _name_text(der: bytes) -> str | None:
    """A CA name's RFC 4514 string, folded; None for bytes that are not a name."""
    try:
        return _fold(x509.Name.from_bytes(bytes(der)).rfc4514_string())
    except ValueError:
        return None


def judge(request: Request, chains: dict[str, list[bytes]]) -> list[Verdict]:
    """A verdict for each chain (leaf first), in the order given."""
    from lab.crypto.x509view import is_rsassa_pss
    names = [(d, _name_text(d)) for d in request.authorities or ()]
    out = []
    for label, chain in chains.items():
        certs = [x509.load_der_x509_certificate(c) for c in chain]
        leaf, why = certs[0], []
        if not set(usable_schemes(leaf, request.version, is_rsassa_pss(chain[0]))) & set(request.schemes):
            why.append("its key can sign with none of the request's signature_algorithms")
        if request.version == "1.2" and request.types is not None and _certificate_type(leaf) not in request.types:
            why.append("its key type is not among the certificate_types")
        ekus = _ekus(leaf)
        if ekus is not None and ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string not in ekus:
            why.append("its extKeyUsage does not allow clientAuth (RFC 5280 4.2.1.12)")
        if request.eku and not set(request.eku) <= (ekus or set()):
            why.append("it lacks an extKeyUsage that oid_filters asks for")
        named = None if not request.authorities else any(
            _same_name(c.issuer, d, t) for c in certs for d, t in names)
        out.append(Verdict(label, not why, "; ".join(why) or "fits", named))
    return out
