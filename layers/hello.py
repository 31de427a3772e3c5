"""ClientHello, ServerHello and HelloRetryRequest (RFC 8446 section 4.1.2-4.1.4; RFC 5246
section 7.4.1). Randoms and session ids have fixed, non-random defaults: the engine supplies
real values."""
from __future__ import annotations

from scapy.fields import ByteEnumField, ShortEnumField, StrFixedLenField

from layers.extensions import extensions_of
from layers.fields import Body, vector, vector_of
from layers.registry import CIPHER_SUITE_NAMES, HELLO_RETRY_REQUEST_RANDOM, VERSION_NAMES


def _server_hello_fields(context: str, random: bytes) -> list:
    return [ShortEnumField("legacy_version", 0x0303, VERSION_NAMES),
            StrFixedLenField("random", random, 32),
            *vector("legacy_session_id", "B"),
            ShortEnumField("cipher_suite", 0x1301, CIPHER_SUITE_NAMES),
            ByteEnumField("legacy_compression_method", 0, {0: "null"}),
            *extensions_of(context, optional=True)]


class ClientHello(Body):
    name = "ClientHello"
    fields_desc = [ShortEnumField("legacy_version", 0x0303, VERSION_NAMES),
                   StrFixedLenField("random", b"\x00" * 32, 32),
                   *vector("legacy_session_id", "B"),
                   *vector_of("cipher_suites", ShortEnumField("suite", 0, CIPHER_SUITE_NAMES), "!H", [0x1301]),
                   *vector_of("legacy_compression_methods", ByteEnumField("method", 0, {0: "null"}), "B", [0]),
                   *extensions_of("client_hello", optional=True)]


class ServerHello(Body):
    name = "ServerHello"
    fields_desc = _server_hello_fields("server_hello", b"\x00" * 32)

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM


class HelloRetryRequest(ServerHello):
    """A ServerHello whose random is the RFC 8446 section 4.1.3 constant."""
    name = "HelloRetryRequest"
    fields_desc = _server_hello_fields("hello_retry_request", HELLO_RETRY_REQUEST_RANDOM)
