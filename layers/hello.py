"""ClientHello, ServerHello and HelloRetryRequest (RFC 8446 section 4.1.2-4.1.4; RFC 5246
section 7.4.1). Randoms and session ids have fixed, non-random defaults: the engine supplies
real values."""
from __future__ import annotations

from scapy.fields import (ByteEnumField, FieldLenField, FieldListField, ShortEnumField,
                          StrFixedLenField, StrLenField)

from layers.extensions import extensions_field
from layers.fields import Body, OptionalLenField
from layers.registry import CIPHER_SUITE_NAMES, HELLO_RETRY_REQUEST_RANDOM, VERSION_NAMES


def _hello_prefix() -> list:
    return [ShortEnumField("legacy_version", 0x0303, VERSION_NAMES),
            StrFixedLenField("random", b"\x00" * 32, 32),
            FieldLenField("legacy_session_id_len", None, length_of="legacy_session_id", fmt="B"),
            StrLenField("legacy_session_id", b"", length_from=lambda p: p.legacy_session_id_len)]


class ClientHello(Body):
    name = "ClientHello"
    fields_desc = [*_hello_prefix(),
                   FieldLenField("cipher_suites_len", None, length_of="cipher_suites"),
                   FieldListField("cipher_suites", [0x1301], ShortEnumField("suite", 0, CIPHER_SUITE_NAMES),
                                  length_from=lambda p: p.cipher_suites_len),
                   FieldLenField("legacy_compression_methods_len", None,
                                 length_of="legacy_compression_methods", fmt="B"),
                   FieldListField("legacy_compression_methods", [0], ByteEnumField("method", 0, {0: "null"}),
                                  length_from=lambda p: p.legacy_compression_methods_len),
                   OptionalLenField("extensions_len", None, length_of="extensions"),
                   extensions_field("extensions", "client_hello", "extensions_len")]


class ServerHello(Body):
    name = "ServerHello"
    fields_desc = [*_hello_prefix(),
                   ShortEnumField("cipher_suite", 0x1301, CIPHER_SUITE_NAMES),
                   ByteEnumField("legacy_compression_method", 0, {0: "null"}),
                   OptionalLenField("extensions_len", None, length_of="extensions"),
                   extensions_field("extensions", "server_hello", "extensions_len")]

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM


class HelloRetryRequest(ServerHello):
    """A ServerHello whose random is the RFC 8446 section 4.1.3 constant."""
    name = "HelloRetryRequest"
    fields_desc = [*_hello_prefix(),
                   ShortEnumField("cipher_suite", 0x1301, CIPHER_SUITE_NAMES),
                   ByteEnumField("legacy_compression_method", 0, {0: "null"}),
                   OptionalLenField("extensions_len", None, length_of="extensions"),
                   extensions_field("extensions", "hello_retry_request", "extensions_len")]
    fields_desc[1] = StrFixedLenField("random", HELLO_RETRY_REQUEST_RANDOM, 32)
