"""The server's ServerKeyExchange signature, checked against its certificate's key over the client
and server randoms and the parameters (RFC 5246 7.4.3; RFC 2246 and RFC 6101 for the MD5+SHA-1
form before TLS 1.2): RSA, DSA and ECDSA alike."""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from scapy.packet import Packet

from lab.crypto import x509view
from lab.crypto.asym import verify


def signed_params(body: Packet) -> bytes | None:
    """The parameters the signature covers (the body without its signature); None when unsigned."""
    if not hasattr(body, "signature"):
        return None
    raw = bytes(body)
    return raw[:len(raw) - 2 - len(body.signature) - (2 if hasattr(body, "algorithm") else 0)]


def check(server_cert: bytes | None, client_random: bytes, server_random: bytes, body: Packet) -> bool | None:
    """True or False when the signature could be judged; None when there is nothing to judge it
    with (no signature, no certificate, a key or scheme that cannot be used)."""
    params = signed_params(body)
    if params is None or not server_cert:
        return None
    try:
        key = x509view.certificate(server_cert).public_key()
        verify(getattr(body, "algorithm", None), key, bytes(body.signature), client_random + server_random + params)
        return True
    except InvalidSignature:
        return False
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return None
