"""TLS 1.0-1.2 PRF and the secrets derived from it (RFC 2246 section 5, RFC 5246 section 5,
RFC 7627 extended master secret). ``cryptography`` has no TLS PRF, so P_hash is written here
on top of its HMAC."""
from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256,
          "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, HASHES[hash_name]())
    h.update(data)
    return h.finalize()


def digest(hash_name: str, data: bytes) -> bytes:
    h = hashes.Hash(HASHES[hash_name]())
    h.update(data)
    return h.finalize()


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    out, a = b"", seed
    while len(out) < length:
        a = hmac_digest(hash_name, secret, a)
        out += hmac_digest(hash_name, secret, a + seed)
    return out[:length]


def prf(version: int, hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed): TLS 1.2 uses P_<hash>; TLS 1.0/1.1 XOR P_MD5 and P_SHA1 over the
    two halves of the secret (RFC 2246 section 5)."""
    if version >= 0x0303:
        return p_hash(hash_name, secret, label + seed, length)
    half = (len(secret) + 1) // 2
    md5 = p_hash("md5", secret[:half], label + seed, length)
    sha = p_hash("sha1", secret[-half:], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha))


def master_secret(version: int, hash_name: str, pre_master: bytes, client_random: bytes,
                  server_random: bytes) -> bytes:
    return prf(version, hash_name, pre_master, b"master secret", client_random + server_random, 48)


def extended_master_secret(version: int, hash_name: str, pre_master: bytes, session_hash: bytes) -> bytes:
    """RFC 7627 section 4: session_hash is the hash of the handshake up to ClientKeyExchange."""
    return prf(version, hash_name, pre_master, b"extended master secret", session_hash, 48)


def key_block(version: int, hash_name: str, master: bytes, client_random: bytes,
              server_random: bytes, length: int) -> bytes:
    return prf(version, hash_name, master, b"key expansion", server_random + client_random, length)


def finished_verify_data(version: int, hash_name: str, master: bytes, label: bytes,
                         handshake_messages: bytes) -> bytes:
    """RFC 5246 section 7.4.9 (label b"client finished" or b"server finished")."""
    if version >= 0x0303:
        h = digest(hash_name, handshake_messages)
    else:
        h = digest("md5", handshake_messages) + digest("sha1", handshake_messages)
    return prf(version, hash_name, master, label, h, 12)
