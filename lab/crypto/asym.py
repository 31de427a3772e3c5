"""Public-key operations the lab checks: RSA premaster decryption (as Wireshark does with the
server's key) and handshake signatures (CertificateVerify, ServerKeyExchange)."""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from lab.crypto.prf import digest, ssl3_inner

_SCHEME_HASH = {0x01: hashes.MD5, 0x02: hashes.SHA1, 0x03: hashes.SHA224, 0x04: hashes.SHA256,
                0x05: hashes.SHA384, 0x06: hashes.SHA512}
_PSS_HASH = {0x0804: hashes.SHA256, 0x0805: hashes.SHA384, 0x0806: hashes.SHA512,
             0x0809: hashes.SHA256, 0x080A: hashes.SHA384, 0x080B: hashes.SHA512}
_TLS13_ECDSA = {0x081A: hashes.SHA256, 0x081B: hashes.SHA384, 0x081C: hashes.SHA512}


class KeyError_(ValueError):
    """A private key file could not be used."""


def load_private_key(pem: bytes, source: str = "key"):
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{source} is not an unencrypted PEM private key ({exc})") from None


def decrypt_premaster(private_key, encrypted: bytes) -> bytes:
    """RSA PKCS#1 v1.5 decryption of EncryptedPreMasterSecret (RFC 5246 section 7.4.7.1).
    Raises ``ValueError`` if the key does not fit."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    pms = private_key.decrypt(encrypted, padding.PKCS1v15())
    if len(pms) != 48:
        raise ValueError("decrypted premaster secret is not 48 bytes")
    return pms


def cv13_content(transcript_hash: bytes, server: bool) -> bytes:
    """The content a TLS 1.3 CertificateVerify signs (RFC 8446 section 4.4.3)."""
    ctx = b"TLS 1.3, server CertificateVerify" if server else b"TLS 1.3, client CertificateVerify"
    return b"\x20" * 64 + ctx + b"\x00" + transcript_hash


def _params(scheme: int):
    """(kind, padding-or-algorithm, hash) for a signature scheme."""
    if scheme in (0x0807, 0x0808):
        return "eddsa", None, None
    if scheme in _PSS_HASH:
        h = _PSS_HASH[scheme]()
        return "rsa", padding.PSS(padding.MGF1(h), h.digest_size), h
    if scheme in _TLS13_ECDSA:
        return "ecdsa", None, _TLS13_ECDSA[scheme]()
    h = _SCHEME_HASH.get(scheme >> 8)
    if h is None:
        raise UnsupportedScheme(f"unsupported signature scheme 0x{scheme:04x}")
    kind = {0x01: "rsa", 0x02: "dsa", 0x03: "ecdsa"}.get(scheme & 0xFF, "dsa")
    return kind, padding.PKCS1v15() if kind == "rsa" else None, h()


class UnsupportedScheme(ValueError):
    pass


def sign(scheme: int | None, private_key, data: bytes) -> bytes:
    """Sign ``data`` as a handshake signature (the inverse of ``verify``). The key need not fit
    the scheme: a lab forges mismatches on purpose, so cryptography's own error is raised then.
    ``scheme`` None is the SSLv3-TLS 1.1 form (RSA over MD5||SHA1 without DigestInfo)."""
    if scheme is None:
        if isinstance(private_key, rsa.RSAPrivateKey):
            # RSA over the raw 36-byte MD5||SHA1: PKCS#1 v1.5 type 1 padding without DigestInfo,
            # which cryptography cannot express; done with the raw private operation.
            return _rsa_raw_sign(private_key, digest("md5", data) + digest("sha1", data))
        return private_key.sign(data, ec.ECDSA(hashes.SHA1()))
    kind, pad, h = _params(scheme)
    if kind == "eddsa":
        return private_key.sign(data)
    if kind == "rsa":
        return private_key.sign(data, pad, h)
    if kind == "ecdsa":
        return private_key.sign(data, ec.ECDSA(h))
    return private_key.sign(data, h)


def _rsa_raw_sign(key, digest_bytes: bytes) -> bytes:
    n = key.private_numbers().public_numbers.n
    k = (n.bit_length() + 7) // 8
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_bytes)) + b"\x00" + digest_bytes
    return pow(int.from_bytes(em, "big"), key.private_numbers().d, n).to_bytes(k, "big")


def verify(scheme: int | None, public_key, signature: bytes, data: bytes) -> None:
    """Verify a handshake signature; raises ``InvalidSignature``. ``scheme`` None is the
    SSLv3-TLS 1.1 form: RSA signs MD5||SHA1 without DigestInfo, ECDSA/DSA sign SHA-1."""
    if scheme is None:
        if isinstance(public_key, rsa.RSAPublicKey):
            recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
            if recovered != digest("md5", data) + digest("sha1", data):
                raise InvalidSignature("MD5+SHA1 digest mismatch")
            return
        if isinstance(public_key, dsa.DSAPublicKey):
            public_key.verify(signature, data, hashes.SHA1())
        else:
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA1()))
        return
    if scheme in (0x0807, 0x0808):
        if not isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            raise InvalidSignature("EdDSA scheme with a non-EdDSA key")
        public_key.verify(signature, data)
        return
    if scheme in _PSS_HASH:
        h = _PSS_HASH[scheme]()
        public_key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        return
    if scheme in _TLS13_ECDSA:
        public_key.verify(signature, data, ec.ECDSA(_TLS13_ECDSA[scheme]()))
        return
    h = _SCHEME_HASH.get(scheme >> 8)
    if h is None:
        raise InvalidSignature(f"unsupported signature scheme 0x{scheme:04x}")
    if (scheme & 0xFF) == 0x01:
        public_key.verify(signature, data, padding.PKCS1v15(), h())
    elif (scheme & 0xFF) == 0x03:
        public_key.verify(signature, data, ec.ECDSA(h()))
    else:
        public_key.verify(signature, data, h())


def verify_ssl3_certificate_verify(public_key, signature: bytes, master: bytes, handshake_messages: bytes) -> None:
    """RFC 6101 5.6.8: an SSL 3.0 CertificateVerify signs MD5 and SHA-1 keyed with the master
    secret; RSA signs both (36 bytes, no DigestInfo), DSA and ECDSA the SHA-1 part."""
    md5 = ssl3_inner("md5", master, handshake_messages)
    sha = ssl3_inner("sha1", master, handshake_messages)
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None) != md5 + sha:
            raise InvalidSignature("SSL 3.0 MD5+SHA1 mismatch")
    elif isinstance(public_key, dsa.DSAPublicKey):
        public_key.verify(signature, sha, Prehashed(hashes.SHA1()))
    else:
        public_key.verify(signature, sha, ec.ECDSA(Prehashed(hashes.SHA1())))
