"""What ``certlab dissect`` reports: records, messages and per-connection facts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scapy.packet import Packet

from layers.registry import HandshakeType as H

DIRECTIONS = ("client", "server")


@dataclass
class RecordInfo:
    direction: str
    content_type: int | None   # the outer type on the wire (None: SSLv2, whose header is a length)
    version: int
    length: int
    encrypted: bool            # protected on the wire
    frame: int
    decrypted: bool | None = None   # None: not encrypted; False: no key or failed
    inner_type: int | None = None
    wire: bytes = b""
    skipped: bool = False      # application data passed over undecrypted (not needed by the reading)

    def to_json(self) -> dict:
        out = {"direction": self.direction, "content_type": self.content_type,
               "length": self.length, "encrypted": self.encrypted, "frame": self.frame,
               "version": self.version}
        if self.content_type is None:
            out["sslv2"] = True
        if self.encrypted:
            out["decrypted"] = bool(self.decrypted)
            if self.skipped:
                out["skipped"] = True
            if self.inner_type is not None:
                out["inner_content_type"] = self.inner_type
        return out


@dataclass
class MessageInfo:
    direction: str
    kind: str                  # handshake | alert | change_cipher_spec | application_data | heartbeat
    type: int | None           # handshake msg_type or alert description
    name: str
    encrypted: bool
    frame: int
    layer: Packet | None = None
    raw: bytes = b""
    fields: dict[str, Any] = field(default_factory=dict)
    decrypted: bool = True     # False: encrypted and no key, content unknown

    def to_json(self) -> dict:
        out = {"direction": self.direction, "kind": self.kind, "type": self.type,
               "name": self.name, "encrypted": self.encrypted, "frame": self.frame,
               "length": len(self.raw)}
        if self.encrypted and not self.decrypted:
            out["decrypted"] = False
        out.update(self.fields)
        return out


@dataclass
class ConnectionInfo:
    client: str
    server: str
    first_frame: int
    version: int | None = None
    cipher_suite: int | None = None
    records: list[RecordInfo] = field(default_factory=list)
    messages: list[MessageInfo] = field(default_factory=list)
    client_auth: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    handshakes: int = 0
    sni: str | None = None
    start_time: float | None = None   # capture time of the first data, seconds since the epoch
    finished_verified: dict[str, bool] = field(default_factory=dict)   # SSL 3.0-TLS 1.2, where keys allow
    tcp_close: dict[str, dict[str, int]] = field(default_factory=dict)  # side -> {"FIN": frame, "RST": frame}
    client_random: bytes | None = None
    ske_verified: bool | None = None  # the ServerKeyExchange signature, where there is one to check
    mid_stream: bool = False          # the capture starts after the connection began (no SYN seen)
    upgrade: str | None = None        # "SMTP STARTTLS", "PostgreSQL SSLRequest"...: TLS inside another protocol

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def transcript_before(messages: list[MessageInfo], target: MessageInfo, tls13: bool = False) -> bytes:
    """The handshake messages before ``target``: the bytes a Finished or CertificateVerify covers.
    HelloRequest and KeyUpdate never count; a TLS 1.2 NewSessionTicket does (RFC 5077 3.3), a TLS
    1.3 one comes after the handshake."""
    skip = (H.hello_request, H.key_update) + ((H.new_session_ticket,) if tls13 else ())
    out = b""
    for m in messages:
        if m is target:
            break
        if m.kind == "handshake" and m.type not in skip:
            out += m.raw
    return out
