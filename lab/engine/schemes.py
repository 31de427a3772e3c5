"""Choosing a signature scheme for a key among those a peer offered (RFC 8446 section 4.2.3,
RFC 5246 section 7.4.1.4.1)."""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

_EC = {"secp256r1": 0x0403, "secp384r1": 0x0503, "secp521r1": 0x0603}


def schemes_for_key(key, tls13: bool, rsassa_pss: bool = False) -> list[int]:
    """The schemes this private key can sign with, best first. An RSA key whose certificate says
    id-RSASSA-PSS signs with rsa_pss_pss_* only (RFC 8446 section 4.2.3)."""
    if isinstance(key, rsa.RSAPrivateKey) and rsassa_pss:
        return [0x0809, 0x080A, 0x080B]
    if isinstance(key, rsa.RSAPrivateKey):
        pss = [0x0804, 0x0805, 0x0806]
        return pss if tls13 else pss + [0x0401, 0x0501, 0x0601, 0x0201]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        s = _EC.get(key.curve.name)
        return ([s] if s else []) + ([] if tls13 else [0x0403, 0x0503, 0x0603, 0x0203])
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return [0x0807]
    if isinstance(key, ed448.Ed448PrivateKey):
        return [0x0808]
    return []


def choose_scheme(key, offered: list[int], tls13: bool, rsassa_pss: bool = False) -> int:
    """The first scheme the key supports that the peer offered (or the key's best if none fits,
    so the peer's reaction can still be observed)."""
    mine = schemes_for_key(key, tls13, rsassa_pss)
    for s in mine:
        if s in offered:
            return s
    if not mine:
        raise ValueError("no signature scheme for this key type")
    return mine[0]
