"""The remaining handshake messages: Finished, NewSessionTicket, KeyUpdate, EndOfEarlyData,
EncryptedExtensions, HelloRequest, ServerHelloDone and the synthetic message_hash."""
from __future__ import annotations

from scapy.fields import ByteEnumField, IntField, StrField

from layers.extensions import extensions_of
from layers.fields import Body, vector
from layers.registry import KEY_UPDATE_NAMES


class Finished(Body):
    name = "Finished"
    fields_desc = [StrField("verify_data", b"")]


class NewSessionTicket12(Body):
    """RFC 5077 section 3.3."""
    name = "NewSessionTicket"
    fields_desc = [IntField("ticket_lifetime_hint", 0), *vector("ticket", "!H")]


class NewSessionTicket13(Body):
    """RFC 8446 section 4.6.1."""
    name = "NewSessionTicket (TLS 1.3)"
    fields_desc = [IntField("ticket_lifetime", 0), IntField("ticket_age_add", 0),
                   *vector("ticket_nonce", "B"), *vector("ticket", "!H"),
                   *extensions_of("new_session_ticket")]


class KeyUpdate(Body):
    name = "KeyUpdate"
    fields_desc = [ByteEnumField("request_update", 0, KEY_UPDATE_NAMES)]


class EncryptedExtensions(Body):
    name = "EncryptedExtensions"
    fields_desc = [*extensions_of("encrypted_extensions")]


class HelloRequest(Body):
    name = "HelloRequest"
    fields_desc: list = []


class ServerHelloDone(Body):
    name = "ServerHelloDone"
    fields_desc: list = []


class EndOfEarlyData(Body):
    name = "EndOfEarlyData"
    fields_desc: list = []


class MessageHash(Body):
    """RFC 8446 section 4.4.1: replaces ClientHello1 in the transcript after a HelloRetryRequest."""
    name = "message_hash"
    fields_desc = [StrField("hash", b"")]
