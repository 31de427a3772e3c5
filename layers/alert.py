"""Alert, ChangeCipherSpec, ApplicationData and Heartbeat (RFC 5246 section 7.1-7.2,
RFC 6520)."""
from __future__ import annotations

from scapy.fields import ByteEnumField, FieldLenField, StrField, StrLenField

from layers.fields import TLSPacket
from layers.registry import ALERT_LEVEL_NAMES, ALERT_NAMES, HEARTBEAT_TYPE_NAMES


class Alert(TLSPacket):
    name = "Alert"
    fields_desc = [ByteEnumField("level", 2, ALERT_LEVEL_NAMES),
                   ByteEnumField("description", 40, ALERT_NAMES)]


class ChangeCipherSpec(TLSPacket):
    name = "ChangeCipherSpec"
    fields_desc = [ByteEnumField("type", 1, {1: "change_cipher_spec"})]


class ApplicationData(TLSPacket):
    """Opaque application data (or an encrypted record's payload)."""
    name = "ApplicationData"
    fields_desc = [StrField("data", b"")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return s, b""


class Heartbeat(TLSPacket):
    """RFC 6520 section 4; padding is whatever follows the payload (``payload`` is named
    ``heartbeat_payload``: scapy's ``Packet.payload`` takes the RFC's name)."""
    name = "Heartbeat"
    fields_desc = [ByteEnumField("type", 1, HEARTBEAT_TYPE_NAMES),
                   FieldLenField("payload_length", None, length_of="heartbeat_payload"),
                   StrLenField("heartbeat_payload", b"", length_from=lambda p: p.payload_length),
                   StrField("padding", b"")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return s, b""
