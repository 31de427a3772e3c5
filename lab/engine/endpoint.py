"""What both roles of the engine share, sans-IO: the handshake state both keep, framing and
protecting what we send (a flight staged message by message, split at key changes), alerts,
data and ChangeCipherSpec, turning received bytes into events, and the transcript policy.

``ClientEngine`` and ``ServerEngine`` add their role as two handler tables keyed by handshake
type (h11's READERS/WRITERS idea): ``WRITERS`` for our messages as they enter the transcript,
``READERS`` for the peer's, parsed. Each entry is a pair ``(before, after)`` of functions: the
transcript policy is that ``before`` sees the transcript without the message (to check a
signature or a Finished over it, or to rewrite it: HelloRetryRequest, post-handshake auth),
then the message is added (unless ``in_transcript`` says it never is), then ``after`` sees it
included (to derive keys from it).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scapy.packet import Packet

from lab.crypto.record import RecordProtection
from lab.engine.recordstream import Problem, Record, RecordStream
from lab.engine.state import MALFORMED, EngineError, HandshakeKeys
from layers.alert import Alert, ChangeCipherSpec
from layers.finished import KeyUpdate
from layers.handshake import Handshake, Hint, parse_handshake
from layers.registry import HANDSHAKE_NAMES, ContentType, HandshakeType as H

MAX_PLAINTEXT = 1 << 14
Handler = Callable[..., None] | None


@dataclass
class Event:
    kind: str                 # handshake | alert | change_cipher_spec | application_data | problem
    # (a problem with level 2 ends the conversation: bytes that are not TLS, an oversized record)
    name: str
    type: int | None = None
    layer: Packet | None = None
    raw: bytes = b""
    encrypted: bool = False
    level: int | None = None


@dataclass
class Endpoint:
    """The state both roles keep. ``config`` is the role's configuration."""
    config: Any
    rng: Callable[[int], bytes] = os.urandom
    k: HandshakeKeys = field(default_factory=HandshakeKeys)
    inbound: RecordStream = field(default_factory=RecordStream)
    out_cipher: RecordProtection | None = None
    record_version: int = 0x0303
    notes: list[str] = field(default_factory=list)      # what the peer got wrong, found while reading
    cert_request: Packet | None = None                   # the CertificateRequest sent or received
    main_done: bool = False                              # TLS 1.3: the client Finished is in the transcript
    client_verify_data: bytes = b""      # the last Finished values, for RFC 5746 renegotiation_info
    server_verify_data: bytes = b""
    _staged: list[tuple[bytes, RecordProtection | None]] = field(default_factory=list)
    _next_out: RecordProtection | None = None            # the write key a staged message switches to
    _pending: tuple[RecordProtection, RecordProtection] | None = None   # TLS 1.2 keys, until ChangeCipherSpec

    side = 0  # 0: we are the client, 1: the server (index into the (client, server) key pairs)
    # Errors of the engine's own making, reported with their text as they are.
    own_errors: ClassVar[tuple[type[Exception], ...]] = (EngineError,)
    WRITERS: ClassVar[dict[int, tuple[Handler, Handler]]] = {}
    READERS: ClassVar[dict[int, tuple[Handler, Handler]]] = {}

    @property
    def tls13(self) -> bool:
        return self.config.version == "1.3"

    @property
    def keylog(self) -> str:
        return "".join(line + "\n" for line in self.k.keylog)

    def in_transcript(self, t: int) -> bool:
        """HelloRequest never enters the transcript (RFC 5246 7.4.1.1), nor do TLS 1.3's
        post-handshake KeyUpdate and NewSessionTicket (RFC 8446 4.4.1); a TLS 1.2 NewSessionTicket
        does (RFC 5077 3.3)."""
        return t not in (H.hello_request, H.key_update) and not (t == H.new_session_ticket and self.tls13)

    def _enter(self, table: dict[int, tuple[Handler, Handler]], t: int, raw: bytes, *args: Any) -> None:
        before, after = table.get(t, (None, None))
        if before is not None:
            before(self, *args)
        if self.in_transcript(t):
            self.k.add(raw)
        if after is not None:
            after(self, *args)

    def _sent(self, raw: bytes) -> None:
        """A message of ours enters the transcript."""
        self._enter(self.WRITERS, raw[0], raw, raw)

    def _peer_handshake(self, raw: bytes, encrypted: bool) -> Event:
        """Parse one handshake message from the peer and let the role use it. A message that does
        not parse, or parses but does not hold together, becomes a note, never an exception."""
        peer = ("server", "client")[self.side]
        hint = Hint(self.k.version if self.k.params else None,
                    "tls13" if self.tls13 else (self.k.params.kx if self.k.params else None))
        try:
            msg = parse_handshake(raw, hint)
        except Exception as exc:  # a broken message: report it, keep the bytes
            self.notes.append(f"{peer} sent a malformed handshake message type {raw[0]} ({type(exc).__name__})")
            return Event("handshake", f"malformed_{raw[0]}", raw[0], None, raw, encrypted)
        body, t = msg.payload, raw[0]
        name = "hello_retry_request" if getattr(body, "is_hello_retry_request", False) else \
            HANDSHAKE_NAMES.get(t, f"handshake_{t}")
        ev = Event("handshake", name, t, msg, raw, encrypted)
        try:
            self._enter(self.READERS, t, raw, msg, body, raw)
        except MALFORMED as exc:
            self.notes.append(str(exc) if isinstance(exc, self.own_errors) else
                              f"could not use the {peer}'s {name} ({type(exc).__name__}: {str(exc)[:80]})")
        return ev

    # -- sending ---------------------------------------------------------------------------------
    def records(self, content_type: int, data: bytes, fragment: int | None = None) -> bytes:
        """Frame (and protect, when a write key is active) ``data`` in records of ``fragment`` bytes."""
        size = fragment or 16384
        out = b""
        for off in range(0, max(len(data), 1), size):
            chunk = data[off:off + size]
            if self.out_cipher is not None and not (self.tls13 and content_type == ContentType.change_cipher_spec):
                ctype, chunk = self.out_cipher.encrypt(content_type, self.record_version, chunk)
            else:
                ctype = content_type
            out += bytes([ctype]) + self.record_version.to_bytes(2, "big") + len(chunk).to_bytes(2, "big") + chunk
        return out

    def stage(self, msg: Packet | bytes) -> bytes:
        """Add a handshake message to the transcript and to the next flight; returns its bytes."""
        raw = bytes(msg)
        self._sent(raw)
        self._staged.append((raw, self._next_out))
        self._next_out = None
        return raw

    def flush(self, fragment: int | None = None) -> bytes:
        """Wire bytes for the staged messages, coalesced in records of ``fragment`` bytes. A key
        change a message causes (TLS 1.3 client Finished, KeyUpdate) applies from the next message
        on, so the flight is framed in runs split at each change (RFC 8446 section 5.1)."""
        wire, run = b"", b""
        for raw, switch in self._staged:
            run += raw
            if switch is not None:
                wire += self.records(ContentType.handshake, run, fragment)
                run, self.out_cipher = b"", switch
        if run:
            wire += self.records(ContentType.handshake, run, fragment)
        self._staged = []
        return wire

    def send_unprotected(self, msg: Packet | bytes) -> bytes:
        """A handshake message in a plaintext record whatever the current keys (a forgery); it
        still enters the transcript."""
        raw = bytes(msg)
        self._sent(raw)
        cipher, self.out_cipher = self.out_cipher, None
        try:
            return self.records(ContentType.handshake, raw)
        finally:
            self.out_cipher, self._next_out = self._next_out or cipher, None

    def send_handshake(self, *msgs: Packet | bytes, fragment: int | None = None) -> bytes:
        for m in msgs:
            self.stage(m)
        return self.flush(fragment)

    def send_ccs(self) -> bytes:
        wire = self.records(ContentType.change_cipher_spec, bytes(ChangeCipherSpec()))
        if not self.tls13:
            if self._pending is None and self.k.master is not None:
                self._pending = self.k.tls12_protections()
            self.out_cipher = self._pending[self.side] if self._pending else None
        return wire

    def send_alert(self, description: int, level: int = 2) -> bytes:
        return self.records(ContentType.alert, bytes(Alert(level=level, description=description)))

    def send_application_data(self, data: bytes) -> bytes:
        return self.records(ContentType.application_data, data)

    def key_update(self, request: int = 0) -> bytes:
        return self.send_handshake(Handshake() / KeyUpdate(request_update=request))

    # -- receiving -------------------------------------------------------------------------------
    def receive_bytes(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for item in self.inbound.feed(data):
            if isinstance(item, Problem):
                events.append(Event("problem", item.text, level=2))
            elif isinstance(item, Record):
                plain = len(item.fragment) if not item.encrypted else None
                if plain is not None and plain > MAX_PLAINTEXT and not item.sslv2:
                    events.append(Event("problem", f"record_overflow: a {plain}-byte record exceeds the "
                                                   f"{MAX_PLAINTEXT}-byte limit (RFC 8446 5.1, RFC 5246 6.2.1)",
                                        raw=item.wire, level=2))
                if item.encrypted and not item.decrypted:
                    events.append(Event("problem", f"record did not decrypt: {item.error or 'no key'}",
                                        raw=item.wire, encrypted=True))
            elif item.content_type == ContentType.handshake:
                events.append(self._peer_handshake(item.data, item.encrypted))
            elif item.content_type == ContentType.alert:
                for i in range(0, len(item.data) - 1, 2):
                    a = Alert(item.data[i:i + 2])
                    events.append(Event("alert", a.sprintf("%description%"), a.description, a,
                                        item.data[i:i + 2], item.encrypted, a.level))
            elif item.content_type == ContentType.change_cipher_spec:
                events.append(Event("change_cipher_spec", "change_cipher_spec", raw=item.data,
                                    encrypted=item.encrypted))
                if not self.tls13:
                    self.inbound.protected = True
                    self.inbound.cipher = self._pending[1 - self.side] if self._pending else None
            else:
                events.append(Event("application_data" if item.content_type == ContentType.application_data else "unknown",
                                    "application_data", item.content_type, None, item.data, item.encrypted))
                if item.content_type == ContentType.application_data and item.data:
                    self.application_data_received()
        return events

    def application_data_received(self) -> None:
        """The peer's application data, in order with its handshake messages (a role's checks)."""

