"""Key exchange, bytes in and bytes out: (EC)DHE key shares (x25519, x448, NIST curves,
finite-field DH from the server's parameters) and the RSA-encrypted premaster secret
(RFC 5246 section 7.4.7.1, RFC 8446 section 4.2.8, RFC 8422)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography.utils import CryptographyDeprecationWarning

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding, rsa, x448, x25519

_CURVES = {23: ec.SECP256R1, 24: ec.SECP384R1, 25: ec.SECP521R1}
SUPPORTED_GROUPS = (29, 30, 23, 24, 25)


class KeyExchangeError(ValueError):
    """The peer's key share or parameters cannot be used."""


@dataclass
class KeyShare:
    """Our ephemeral private key for one group and its public encoding."""
    group: int
    private: object
    public: bytes

    def shared_secret(self, peer_public: bytes) -> bytes:
        try:
            if self.group == 29:
                return self.private.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
            if self.group == 30:
                return self.private.exchange(x448.X448PublicKey.from_public_bytes(peer_public))
            curve = _CURVES[self.group]()
            peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer_public)
            return self.private.exchange(ec.ECDH(), peer)
        except (ValueError, KeyError) as exc:
            raise KeyExchangeError(f"bad key share for group {self.group}: {exc}") from None


def generate_share(group: int) -> KeyShare:
    if group == 29:
        k = x25519.X25519PrivateKey.generate()
        return KeyShare(group, k, k.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw))
    if group == 30:
        k = x448.X448PrivateKey.generate()
        return KeyShare(group, k, k.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw))
    if group in _CURVES:
        k = ec.generate_private_key(_CURVES[group]())
        return KeyShare(group, k, k.public_key().public_bytes(serialization.Encoding.X962,
                                                              serialization.PublicFormat.UncompressedPoint))
    raise KeyExchangeError(f"group {group} is not supported")


def dhe_client(p: bytes, g: bytes, server_ys: bytes) -> tuple[bytes, bytes]:
    """(our Yc, premaster secret) for finite-field DHE with the server's parameters; the
    premaster is the shared value with leading zeros stripped (RFC 5246 section 8.1.2)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # FFDHE is tested on purpose
        return _dhe(p, g, server_ys)


def _dhe(p: bytes, g: bytes, server_ys: bytes) -> tuple[bytes, bytes]:
    try:
        numbers = dh.DHParameterNumbers(int.from_bytes(p, "big"), int.from_bytes(g, "big"))
        params = numbers.parameters()
        priv = params.generate_private_key()
        peer = dh.DHPublicNumbers(int.from_bytes(server_ys, "big"), numbers).public_key()
        shared = priv.exchange(peer).lstrip(b"\x00")
    except ValueError as exc:
        raise KeyExchangeError(f"bad DHE parameters: {exc}") from None
    return _be(priv.public_key().public_numbers().y), shared


@dataclass
class DHEShare:
    """Our finite-field DHE key for the server's ServerKeyExchange (p, g and Ys as bytes)."""
    p: bytes
    g: bytes
    private: object
    public: bytes

    def shared_secret(self, peer_public: bytes) -> bytes:
        """The premaster secret from the client's Yc, leading zeros stripped (RFC 5246 8.1.2)."""
        numbers = self.private.parameters().parameter_numbers()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # FFDHE on purpose
                peer = dh.DHPublicNumbers(int.from_bytes(peer_public, "big"), numbers).public_key()
                return self.private.exchange(peer).lstrip(b"\x00")
        except ValueError as exc:
            raise KeyExchangeError(f"bad DHE public value from the peer: {exc}") from None


def dhe_server_share(pem_parameters: bytes) -> DHEShare:
    """A fresh DHE key in the given PEM parameters (e.g. RFC 7919 ffdhe2048)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # FFDHE on purpose
        params = serialization.load_pem_parameters(pem_parameters)
        numbers = params.parameter_numbers()
        priv = params.generate_private_key()
    y = priv.public_key().public_numbers().y
    return DHEShare(_be(numbers.p), _be(numbers.g), priv, _be(y))


def _be(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def rsa_encrypt_premaster(server_public_key, premaster: bytes) -> bytes:
    if not isinstance(server_public_key, rsa.RSAPublicKey):
        raise KeyExchangeError("RSA key exchange needs an RSA server certificate")
    return server_public_key.encrypt(premaster, padding.PKCS1v15())
