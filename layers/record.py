"""Records: TLSPlaintext, TLSCiphertext and TLSInnerPlaintext (RFC 8446 section 5.1-5.2,
RFC 5246 section 6.2), and the SSLv2 record header with its CLIENT-HELLO (RFC 6101
appendix E, draft-hickman SSL 2.0).

``TLSPlaintext(stream)`` dissects a run of records: each record's ``messages`` (the RFC's fragment) is a list of
messages of its content type, and the bytes after a record are the next record. A handshake
message split across records stays a partial ``Handshake`` whose body is truncated; the
dissector reassembles such messages (``lab.dissect``).
"""
from __future__ import annotations

from scapy.fields import (BitField, ByteEnumField, FieldLenField, FieldListField, PacketListField,
                          ShortEnumField, StrField, StrLenField, XBitField,
                          XStrLenField, X3BytesField)
from scapy.packet import Packet, Raw
from layers.fields import Layer

from layers.alert import Alert, ApplicationData, ChangeCipherSpec, Heartbeat
from layers.handshake import Handshake
from layers.registry import CONTENT_TYPE_NAMES, VERSION_NAMES, ContentType

_FRAGMENT_CLASSES: dict[int, type[Packet]] = {
    ContentType.handshake: Handshake, ContentType.alert: Alert,
    ContentType.change_cipher_spec: ChangeCipherSpec,
    ContentType.application_data: ApplicationData, ContentType.heartbeat: Heartbeat,
}


def _fragment_cls(pkt: Packet, lst: list, cur: Packet | None, remain: bytes) -> type[Packet] | None:
    if not remain:
        return None
    return _FRAGMENT_CLASSES.get(pkt.type, Raw)


class TLSPlaintext(Layer):
    """``struct { ContentType type; ProtocolVersion legacy_record_version; uint16 length;
    opaque fragment[length]; }``. The fragment field is named ``messages`` (scapy's
    ``Packet.fragment()`` takes the RFC's name): the messages of the record's content type."""
    name = "TLSPlaintext"
    fields_desc = [ByteEnumField("type", ContentType.handshake, CONTENT_TYPE_NAMES),
                   ShortEnumField("legacy_record_version", 0x0303, VERSION_NAMES),
                   FieldLenField("length", None, length_of="messages"),
                   PacketListField("messages", [], next_cls_cb=_fragment_cls,
                                   length_from=lambda p: p.length, max_count=0xFFFF)]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return guess_record_class(payload)

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        """``TLSPlaintext(type=22)/msg``: a message given as the payload is the record's fragment,
        so the length covers it (and the bytes parse back into ``messages``); a record given as
        the payload is the next record."""
        if self.length is None and not self.messages and pay and \
                not isinstance(self.payload, (TLSPlaintext, TLSCiphertext, SSLv2Record)):
            pkt = pkt[:3] + len(pay).to_bytes(2, "big") + pkt[5:]
        return pkt + pay


class TLSCiphertext(Layer):
    """A protected record: ``opaque_type`` is what the wire shows (23 in TLS 1.3)."""
    name = "TLSCiphertext"
    fields_desc = [ByteEnumField("opaque_type", ContentType.application_data, CONTENT_TYPE_NAMES),
                   ShortEnumField("legacy_record_version", 0x0303, VERSION_NAMES),
                   FieldLenField("length", None, length_of="encrypted_record"),
                   XStrLenField("encrypted_record", b"", length_from=lambda p: p.length)]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return guess_record_class(payload)


class TLSInnerPlaintext(Layer):
    """RFC 8446 section 5.2: ``content || ContentType type || uint8 zeros[length_of_padding]``.

    Dissect with ``TLSInnerPlaintext.from_decrypted(plaintext)``, which finds the type byte
    (the last non-zero byte) as the RFC prescribes.
    """
    name = "TLSInnerPlaintext"
    fields_desc = [StrField("content", b""),
                   ByteEnumField("type", ContentType.handshake, CONTENT_TYPE_NAMES),
                   StrField("zeros", b"")]

    def do_dissect(self, s: bytes) -> bytes:
        stripped = s.rstrip(b"\x00")
        self.content = stripped[:-1]
        self.type = stripped[-1] if stripped else 0
        self.zeros = s[len(stripped):]
        return b""

    def self_build(self) -> bytes:
        return bytes(self.content) + bytes([self.type]) + bytes(self.zeros)


class SSLv2Record(Layer):
    """SSLv2 two-byte record header (high bit set) followed by the message."""
    name = "SSLv2 record"
    fields_desc = [BitField("is_two_byte", 1, 1), XBitField("length", None, 15)]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.length is None:
            n = len(pay) | 0x8000
            pkt = n.to_bytes(2, "big") + pkt[2:]
        return pkt + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return s[:self.length], s[self.length:]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return SSLv2ClientHello if payload[:1] == b"\x01" else Raw


class SSLv2ClientHello(Layer):
    name = "SSLv2 CLIENT-HELLO"
    fields_desc = [ByteEnumField("msg_type", 1, {1: "client_hello"}),
                   ShortEnumField("version", 0x0301, VERSION_NAMES),
                   FieldLenField("cipher_specs_length", None, length_of="cipher_specs"),
                   FieldLenField("session_id_length", None, length_of="session_id"),
                   FieldLenField("challenge_length", None, length_of="challenge"),
                   FieldListField("cipher_specs", [], X3BytesField("cipher_spec", 0),
                                  length_from=lambda p: p.cipher_specs_length, max_count=0xFFFF),
                   StrLenField("session_id", b"", length_from=lambda p: p.session_id_length),
                   StrLenField("challenge", b"\x00" * 16, length_from=lambda p: p.challenge_length)]

    def tls_cipher_suites(self) -> list[int]:
        """The SSLv2 cipher specs that name TLS suites (first byte zero)."""
        return [c for c in self.cipher_specs if c >> 16 == 0]


def guess_record_class(data: bytes) -> type[Packet]:
    """The record class for bytes at a record boundary: TLS, SSLv2, or Raw."""
    if len(data) >= 5 and data[0] in _FRAGMENT_CLASSES and data[1] in (3, 0x7F):
        return TLSPlaintext
    if len(data) >= 3 and data[0] & 0x80 and data[2] == 1:
        return SSLv2Record
    return Raw
