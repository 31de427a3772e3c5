"""Lazy message generators for scenarios (``gen.certificate_verify(key=...)``): each returns a
function of the live engine, called when its turn to be sent comes, so it signs or hashes the
transcript as it is at that moment."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scapy.packet import Packet

from lab.crypto.asym import cv13_content, sign  # noqa: F401  (for scenarios that sign by hand)
from layers.handshake import Handshake


def client_hello(**fields: Any) -> Callable:
    return lambda eng: eng.client_hello(**fields)


def certificate(chain: list[bytes] | None = None, context: bytes | None = None) -> Callable:
    """The configured client chain, another chain, or ``[]`` for an empty Certificate."""
    return lambda eng: eng.certificate(chain, context)


def client_key_exchange() -> Callable:
    return lambda eng: eng.client_key_exchange()


def certificate_verify(key: Any = None, scheme: int | None = None, signature: bytes | None = None,
                       mutate: Callable[[bytes], bytes] | None = None) -> Callable:
    """CertificateVerify signed with ``key`` (default: the client's); ``mutate`` edits the
    signature bytes (a bit flip, a truncation) after signing."""
    def build(eng) -> Packet:
        msg = eng.certificate_verify(key=key, scheme=scheme, signature=signature)
        if mutate is not None:
            msg.payload.signature = mutate(bytes(msg.payload.signature))
            msg.payload.signature_len = None
        return msg
    return build


def finished(verify_data: bytes | None = None) -> Callable:
    return lambda eng: eng.finished(verify_data)


def raw(data: bytes) -> Callable:
    """Exact bytes as a handshake message (forged headers included)."""
    return lambda eng: data


def message(pkt: Packet) -> Callable:
    """A message built by hand with the layers (``Handshake()/Certificate12(...)``)."""
    return lambda eng: pkt if isinstance(pkt, Handshake) else Handshake() / pkt
