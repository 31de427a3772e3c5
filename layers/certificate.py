"""Certificate, CertificateRequest, CertificateVerify, CompressedCertificate and
CertificateStatus: the client-authentication messages.

Certificates stay DER bytes; ``lab.crypto.x509view`` turns them into ``cryptography`` objects.
Forms differ by version, so each form is its own class (the dissector picks by version):
- Certificate: ``Certificate12`` (SSLv3-TLS 1.2, RFC 5246 7.4.2) and ``Certificate13``
  (RFC 8446 4.4.2, with a request context and per-entry extensions);
- CertificateRequest: ``CertificateRequest10`` (SSLv3-TLS 1.1), ``CertificateRequest12``
  (RFC 5246 7.4.4, adds supported_signature_algorithms), ``CertificateRequest13`` (RFC 8446 4.3.2);
- CertificateVerify: ``CertificateVerify`` (TLS 1.2/1.3, with SignatureScheme) and
  ``CertificateVerifyLegacy`` (SSLv3-TLS 1.1, signature only).
"""
from __future__ import annotations

from scapy.fields import (ByteEnumField, ShortEnumField, StrField, ThreeBytesField)

from layers.extensions import DistinguishedName, extensions_of
from layers.fields import Body, TLSPacket, packets_of, vector, vector_of
from layers.registry import (CLIENT_CERT_TYPE_NAMES, COMPRESSION_ALG_NAMES,
                             SIGNATURE_SCHEME_NAMES, STATUS_TYPE_NAMES)


class ASN1Cert(TLSPacket):
    """``opaque ASN.1Cert<1..2^24-1>`` (RFC 5246 section 7.4.2)."""
    size_prefix = (0, 3, 0)
    name = "ASN.1Cert"
    fields_desc = vector("cert_data", "3")


class Certificate12(Body):
    name = "Certificate"
    fields_desc = [*packets_of("certificate_list", ASN1Cert, "3")]


class CertificateEntry(TLSPacket):
    """RFC 8446 section 4.4.2 CertificateEntry (X.509 form; a raw public key uses the same bytes)."""
    name = "CertificateEntry"
    fields_desc = [*vector("cert_data", "3"),
                   *extensions_of("certificate")]


class Certificate13(Body):
    name = "Certificate (TLS 1.3)"
    fields_desc = [*vector("certificate_request_context", "B"),
                   *packets_of("certificate_list", CertificateEntry, "3")]


def _certificate_types() -> list:
    return [*vector_of("certificate_types", ByteEnumField("type", 1, CLIENT_CERT_TYPE_NAMES), "B", default=[1, 64])]


def _authorities() -> list:
    return [*packets_of("certificate_authorities", DistinguishedName, "!H")]


class CertificateRequest10(Body):
    name = "CertificateRequest (SSLv3-TLS 1.1)"
    fields_desc = [*_certificate_types(), *_authorities()]


class CertificateRequest12(Body):
    name = "CertificateRequest (TLS 1.2)"
    fields_desc = [*_certificate_types(),
                   *vector_of("supported_signature_algorithms",
                              ShortEnumField("scheme", 0, SIGNATURE_SCHEME_NAMES), "!H", [0x0804, 0x0403]),
                   *_authorities()]


class CertificateRequest13(Body):
    name = "CertificateRequest (TLS 1.3)"
    fields_desc = [*vector("certificate_request_context", "B"),
                   *extensions_of("certificate_request")]


class CertificateVerify(Body):
    """RFC 8446 section 4.4.3 / RFC 5246 section 7.4.8 (``DigitallySigned`` with a scheme)."""
    name = "CertificateVerify"
    fields_desc = [ShortEnumField("algorithm", 0x0804, SIGNATURE_SCHEME_NAMES), *vector("signature", "!H")]


class CertificateVerifyLegacy(Body):
    """SSLv3-TLS 1.1 CertificateVerify: the signature alone (RFC 4346 section 7.4.8)."""
    name = "CertificateVerify (SSLv3-TLS 1.1)"
    fields_desc = vector("signature", "!H")


class CompressedCertificate(Body):
    """RFC 8879 section 4."""
    name = "CompressedCertificate"
    fields_desc = [ShortEnumField("algorithm", 1, COMPRESSION_ALG_NAMES),
                   ThreeBytesField("uncompressed_length", 0),
                   *vector("compressed_certificate_message", "3")]


class CertificateStatus(Body):
    """RFC 6066 section 8 CertificateStatus handshake message (TLS 1.2 stapling)."""
    name = "CertificateStatus"
    fields_desc = [ByteEnumField("status_type", 1, STATUS_TYPE_NAMES), *vector("response", "3")]


class RawCertificateData(Body):
    name = "opaque"
    fields_desc = [StrField("data", b"")]
