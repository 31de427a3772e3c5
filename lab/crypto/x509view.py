"""Turning the DER bytes the layers carry into ``cryptography`` objects and short, readable
facts (no hand-written ASN.1)."""
from __future__ import annotations

import functools
import hashlib
import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID


def certificate(der: bytes) -> x509.Certificate:
    """``cryptography``'s view of a certificate from a Certificate message entry. What
    cryptography warns about while parsing (a serial number that is not positive) is not let out
    as a Python warning: ``summary`` reports it as a note of the certificate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(bytes(der))


def is_rsassa_pss(der: bytes) -> bool:
    """Whether the certificate's key is id-RSASSA-PSS (which signs with rsa_pss_pss_* only)."""
    try:
        return certificate(der).public_key_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10"
    except ValueError:
        return False


def dn_string(der: bytes) -> str:
    """RFC 4514 string of a DER DistinguishedName (as in a CertificateRequest's CA list)."""
    try:
        return x509.Name.from_bytes(bytes(der)).rfc4514_string()
    except (ValueError, AttributeError):
        return f"<undecodable DN {bytes(der)[:16].hex()}...>"


_EKU_NAMES = {ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth", ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
              ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning", ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection"}


def summary(der: bytes) -> dict:
    """Subject, issuer, validity, key type, EKU and fingerprint of one certificate."""
    return {k: list(v) if isinstance(v, list) else v for k, v in _summary(bytes(der)).items()}


@functools.lru_cache(maxsize=256)
def _summary(der: bytes) -> dict:
    """Parsed once per certificate: a capture repeats the same server (and client) chains."""
    out: dict = {"sha256": hashlib.sha256(bytes(der)).hexdigest(), "length": len(der)}
    try:
        cert = certificate(der)
    except ValueError as exc:
        out["error"] = f"not a parsable X.509 certificate: {exc}"
        return out
    # cryptography parses lazily: each fact is read on its own, so one broken part (a key it
    # cannot load, a malformed name) leaves the others readable.
    facts = {"subject": lambda: cert.subject.rfc4514_string(), "issuer": lambda: cert.issuer.rfc4514_string(),
             "not_before": lambda: cert.not_valid_before_utc.isoformat(),
             "not_after": lambda: cert.not_valid_after_utc.isoformat(),
             "serial": lambda: format(cert.serial_number, "x"),
             "public_key": lambda: type(cert.public_key()).__name__.lstrip("_").replace("PublicKey", "")}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for key, read in facts.items():
            try:
                out[key] = read()
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                out[key] = f"<unreadable: {str(exc)[:80]}>"
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            out["extended_key_usage"] = [_EKU_NAMES.get(o, o.dotted_string) for o in eku]
        except x509.ExtensionNotFound:
            pass
        except ValueError:
            out["extended_key_usage"] = ["<malformed>"]
    notes = sorted({_oddity(str(w.message)) for w in seen})
    if notes:
        out["notes"] = notes
    return out


def _oddity(message: str) -> str:
    if "serial number" in message:
        return "the serial number is not positive (RFC 5280 4.1.2.2 requires a positive integer)"
    return message.split(". ")[0]
