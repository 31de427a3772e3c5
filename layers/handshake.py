"""The handshake header (RFC 8446 section 4) and dispatch on msg_type.

``Handshake()/ClientHello(...)`` builds a message (msg_type and length are filled in);
``Handshake(wire)`` dissects one. Several bodies depend on the negotiated version or key
exchange; without a hint, dissection guesses from the bytes (useful in the shell), and the
dissector passes a ``Hint`` to ``parse_handshake`` so nothing is guessed.
"""
from __future__ import annotations

from dataclasses import dataclass

from scapy.fields import ByteEnumField, ThreeBytesField
from scapy.packet import Packet, Raw, bind_layers

from layers.certificate import (Certificate12, Certificate13, CertificateRequest10,
                                CertificateRequest12, CertificateRequest13, CertificateStatus,
                                CertificateVerify, CertificateVerifyLegacy, CompressedCertificate)
from layers.fields import LengthDelimitedHeader
from layers.finished import (EncryptedExtensions, EndOfEarlyData, Finished, HelloRequest,
                             KeyUpdate, MessageHash, NewSessionTicket12, NewSessionTicket13,
                             ServerHelloDone)
from layers.hello import ClientHello, HelloRetryRequest, ServerHello
from layers.keyexchange import (ClientKeyExchangeDH, ClientKeyExchangeECDH, ClientKeyExchangeRSA,
                                ClientKeyExchangeRSASSL3, ServerKeyExchangeAnonDH,
                                ServerKeyExchangeDHE, ServerKeyExchangeDHELegacy,
                                ServerKeyExchangeECDHE, ServerKeyExchangeECDHELegacy, ServerKeyExchangeRSA,
                                ServerKeyExchangeRSALegacy, ServerKeyExchangeECDHAnon, ServerKeyExchangePSK,
                                ServerKeyExchangeDHEPSK, ServerKeyExchangeECDHEPSK, ClientKeyExchangePSK,
                                ClientKeyExchangeDHEPSK, ClientKeyExchangeECDHEPSK, ClientKeyExchangeRSAPSK)
from layers.registry import HANDSHAKE_NAMES, HELLO_RETRY_REQUEST_RANDOM, HandshakeType as H


@dataclass(frozen=True)
class Hint:
    """What the dissector knows about the connection: the negotiated version
    (0x0300-0x0304) and key exchange ("rsa", "dhe", "ecdhe", "dh_anon", "psk", "tls13")."""
    version: int | None = None
    kx: str | None = None


class Handshake(LengthDelimitedHeader):
    """``struct { HandshakeType msg_type; uint24 length; ... }``"""
    name = "Handshake"
    fields_desc = [ByteEnumField("msg_type", 1, HANDSHAKE_NAMES), ThreeBytesField("length", None)]
    length_field = "length"
    length_offset = 1
    length_size = 3

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return body_class(self.msg_type, payload)


_FIXED: dict[int, type[Packet]] = {
    H.hello_request: HelloRequest, H.client_hello: ClientHello, H.end_of_early_data: EndOfEarlyData,
    H.encrypted_extensions: EncryptedExtensions, H.server_hello_done: ServerHelloDone,
    H.finished: Finished, H.certificate_status: CertificateStatus, H.key_update: KeyUpdate,
    H.compressed_certificate: CompressedCertificate, H.message_hash: MessageHash,
}
for _t, _cls in _FIXED.items():
    bind_layers(Handshake, _cls, msg_type=int(_t))
# Version-dependent bodies: binding sets msg_type when building; dissection goes through body_class.
for _t, _classes in {
        H.server_hello: (ServerHello, HelloRetryRequest),
        H.new_session_ticket: (NewSessionTicket12, NewSessionTicket13),
        H.certificate: (Certificate12, Certificate13),
        H.server_key_exchange: (ServerKeyExchangeECDHE, ServerKeyExchangeDHE, ServerKeyExchangeAnonDH,
                                ServerKeyExchangeECDHELegacy, ServerKeyExchangeDHELegacy, ServerKeyExchangeRSA,
                                ServerKeyExchangeRSALegacy, ServerKeyExchangeECDHAnon, ServerKeyExchangePSK,
                                ServerKeyExchangeDHEPSK, ServerKeyExchangeECDHEPSK),
        H.certificate_request: (CertificateRequest12, CertificateRequest13, CertificateRequest10),
        H.certificate_verify: (CertificateVerify, CertificateVerifyLegacy),
        H.client_key_exchange: (ClientKeyExchangeRSA, ClientKeyExchangeECDH, ClientKeyExchangeDH,
                                ClientKeyExchangeRSASSL3, ClientKeyExchangePSK, ClientKeyExchangeDHEPSK,
                                ClientKeyExchangeECDHEPSK, ClientKeyExchangeRSAPSK)}.items():
    for _cls in _classes:
        bind_layers(Handshake, _cls, msg_type=int(_t))


def _u(b: bytes, off: int, n: int) -> int:
    return int.from_bytes(b[off:off + n], "big") if len(b) >= off + n else -1


def _vec_end(b: bytes, off: int, n: int) -> int:
    """End offset of the length-prefixed vector at ``off`` (prefix of ``n`` bytes), or -1."""
    ln = _u(b, off, n)
    return -1 if ln < 0 or off + n + ln > len(b) else off + n + ln


def _looks_cert13(b: bytes) -> bool:
    end = _vec_end(b, 0, 1)
    return end >= 0 and _vec_end(b, end, 3) == len(b)


def _looks_cr13(b: bytes) -> bool:
    end = _vec_end(b, 0, 1)
    return end >= 0 and _vec_end(b, end, 2) == len(b)


def _looks_cr12(b: bytes) -> bool:
    end = _vec_end(b, 0, 1)
    end = _vec_end(b, end, 2) if end >= 0 else -1
    return end >= 0 and _vec_end(b, end, 2) == len(b)


def _looks_nst13(b: bytes) -> bool:
    end = _vec_end(b, 8, 1)
    end = _vec_end(b, end, 2) if end >= 0 else -1
    return end >= 0 and _vec_end(b, end, 2) == len(b)


def _ske_signed_with_scheme(b: bytes, params_end: int) -> bool:
    return params_end >= 0 and _vec_end(b, params_end + 2, 2) == len(b)


def body_class(msg_type: int, body: bytes, hint: Hint | None = None) -> type[Packet]:
    """The body class for a handshake message, from the hint where it decides, else from the bytes."""
    if msg_type in _FIXED:
        return _FIXED[msg_type]
    version = hint.version if hint else None
    tls13 = None if version is None else version >= 0x0304
    legacy = None if version is None else version < 0x0303
    kx = hint.kx if hint else None
    if msg_type == H.server_hello:
        return HelloRetryRequest if body[2:34] == HELLO_RETRY_REQUEST_RANDOM else ServerHello
    if msg_type == H.new_session_ticket:
        if tls13 is None:
            tls13 = _looks_nst13(body)
        return NewSessionTicket13 if tls13 else NewSessionTicket12
    if msg_type == H.certificate:
        if tls13 is None:
            tls13 = _looks_cert13(body) and not _vec_end(body, 0, 3) == len(body)
        return Certificate13 if tls13 else Certificate12
    if msg_type == H.certificate_request:
        if tls13 or (tls13 is None and _looks_cr13(body) and not _looks_cr12(body)):
            return CertificateRequest13
        if legacy or (legacy is None and not _looks_cr12(body)):
            return CertificateRequest10
        return CertificateRequest12
    if msg_type == H.certificate_verify:
        if legacy is None:
            legacy = _vec_end(body, 0, 2) == len(body) and _vec_end(body, 2, 2) != len(body)
        return CertificateVerifyLegacy if legacy else CertificateVerify
    if msg_type == H.server_key_exchange:
        if kx is None:
            kx = "ecdhe" if body[:1] == b"\x03" and _vec_end(body, 3, 1) > 0 else "dhe"
        fixed = {"dh_anon": ServerKeyExchangeAnonDH, "ecdh_anon": ServerKeyExchangeECDHAnon,
                 "psk": ServerKeyExchangePSK, "rsa_psk": ServerKeyExchangePSK, "dhe_psk": ServerKeyExchangeDHEPSK,
                 "ecdhe_psk": ServerKeyExchangeECDHEPSK}
        if kx in fixed:
            return fixed[kx]
        if kx == "rsa":   # an export suite's temporary key
            end = _vec_end(body, 0, 2)
            end = _vec_end(body, end, 2) if end >= 0 else -1
            scheme = (not legacy) if legacy is not None else _ske_signed_with_scheme(body, end)
            return ServerKeyExchangeRSA if scheme else ServerKeyExchangeRSALegacy
        if kx == "ecdhe":
            end = _vec_end(body, 3, 1)
            scheme = (not legacy) if legacy is not None else _ske_signed_with_scheme(body, end)
            return ServerKeyExchangeECDHE if scheme else ServerKeyExchangeECDHELegacy
        end = _vec_end(body, 0, 2)
        end = _vec_end(body, end, 2) if end >= 0 else -1
        end = _vec_end(body, end, 2) if end >= 0 else -1
        scheme = (not legacy) if legacy is not None else _ske_signed_with_scheme(body, end)
        return ServerKeyExchangeDHE if scheme else ServerKeyExchangeDHELegacy
    if msg_type == H.client_key_exchange:
        if kx is None:
            kx = "ecdhe" if _vec_end(body, 0, 1) == len(body) and _vec_end(body, 0, 2) != len(body) else "rsa"
        if kx in ("ecdhe", "ecdh", "ecdh_anon"):
            return ClientKeyExchangeECDH
        if kx in ("dhe", "dh", "dh_anon"):
            return ClientKeyExchangeDH
        psk = {"psk": ClientKeyExchangePSK, "dhe_psk": ClientKeyExchangeDHEPSK, "ecdhe_psk": ClientKeyExchangeECDHEPSK,
               "rsa_psk": ClientKeyExchangeRSAPSK}
        if kx in psk:
            return psk[kx]
        return ClientKeyExchangeRSASSL3 if version == 0x0300 else ClientKeyExchangeRSA
    return Raw


def parse_handshake(wire: bytes, hint: Hint | None = None) -> Handshake:
    """Dissect one complete handshake message (header and body) using ``hint``."""
    hdr = Handshake(wire[:4])
    body = wire[4:4 + (hdr.length or 0)]
    if body:
        hdr.add_payload(body_class(hdr.msg_type, body, hint)(body))
    return hdr
