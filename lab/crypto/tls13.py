"""TLS 1.3 key schedule (RFC 8446 section 7.1-7.3): HKDF-Expand-Label, Derive-Secret,
traffic keys and KeyUpdate."""
from __future__ import annotations

from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from lab.crypto.prf import HASHES, digest, hmac_digest

_LEN = {"sha256": 32, "sha384": 48}


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    # cryptography's HKDF.extract is not public across versions; HKDF-Extract is HMAC(salt, ikm).
    return hmac_digest(hash_name, salt or b"\x00" * _LEN[hash_name], ikm)


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(HASHES[hash_name](), length, info).derive(secret)


def derive_secret(hash_name: str, secret: bytes, label: bytes, messages: bytes) -> bytes:
    return hkdf_expand_label(hash_name, secret, label, digest(hash_name, messages), _LEN[hash_name])


def traffic_keys(hash_name: str, secret: bytes, key_len: int, iv_len: int = 12) -> tuple[bytes, bytes]:
    """(key, iv) for a traffic secret (RFC 8446 section 7.3)."""
    return (hkdf_expand_label(hash_name, secret, b"key", b"", key_len),
            hkdf_expand_label(hash_name, secret, b"iv", b"", iv_len))


def next_traffic_secret(hash_name: str, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 section 7.2)."""
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", _LEN[hash_name])


def finished_key(hash_name: str, base_key: bytes) -> bytes:
    return hkdf_expand_label(hash_name, base_key, b"finished", b"", _LEN[hash_name])


def finished_verify_data(hash_name: str, base_key: bytes, transcript_hash: bytes) -> bytes:
    return hmac_digest(hash_name, finished_key(hash_name, base_key), transcript_hash)


class KeySchedule:
    """The RFC 8446 section 7.1 secrets, derived step by step from (EC)DHE and the transcript."""

    def __init__(self, hash_name: str, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        n = _LEN[hash_name]
        self.early_secret = hkdf_extract(hash_name, b"", psk or b"\x00" * n)
        self.handshake_secret = b""
        self.master_secret = b""

    def derive(self, secret: bytes, label: bytes, messages: bytes) -> bytes:
        return derive_secret(self.hash_name, secret, label, messages)

    def binder(self, external: bool, truncated_hello: bytes) -> bytes:
        """The PSK binder (RFC 8446 4.2.11.2) over the transcript up to the truncated ClientHello."""
        binder_key = self.derive(self.early_secret, b"ext binder" if external else b"res binder", b"")
        return finished_verify_data(self.hash_name, binder_key, digest(self.hash_name, truncated_hello))

    def handshake(self, shared_secret: bytes, ch_sh: bytes) -> tuple[bytes, bytes]:
        """(client, server) handshake traffic secrets for the transcript ClientHello..ServerHello."""
        salt = self.derive(self.early_secret, b"derived", b"")
        self.handshake_secret = hkdf_extract(self.hash_name, salt, shared_secret)
        return (self.derive(self.handshake_secret, b"c hs traffic", ch_sh),
                self.derive(self.handshake_secret, b"s hs traffic", ch_sh))

    def application(self, ch_sfin: bytes) -> tuple[bytes, bytes]:
        """(client, server) application traffic secrets for ClientHello..server Finished."""
        salt = self.derive(self.handshake_secret, b"derived", b"")
        self.master_secret = hkdf_extract(self.hash_name, salt, b"\x00" * _LEN[self.hash_name])
        return (self.derive(self.master_secret, b"c ap traffic", ch_sfin),
                self.derive(self.master_secret, b"s ap traffic", ch_sfin))
