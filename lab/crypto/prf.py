"""TLS 1.0-1.2 PRF and the secrets derived from it (RFC 2246 section 5, RFC 5246 section 5,
RFC 7627 extended master secret), and SSL 3.0's MD5/SHA-1 constructions in their place (RFC 6101
6.1-6.2.3.1, 5.6.8-5.6.9). ``cryptography`` has neither the TLS PRF nor SSL 3.0's derivations, so
they are written here on top of its hashes and HMAC."""
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


SSL3 = 0x0300
PAD1, PAD2 = 0x36, 0x5C
SSL3_PADS = {"md5": 48, "sha1": 40}   # RFC 6101 5.2.3.1: pad_1/pad_2 repeated 48 times for MD5, 40 for SHA


def ssl3_expand(secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 6101 6.1-6.2.2: MD5(secret + SHA1("A" + secret + seed)) + MD5(secret + SHA1("BB" + ...)) + ..."""
    out, i = b"", 0
    while len(out) < length:
        letter = bytes([ord("A") + i]) * (i + 1)
        out += digest("md5", secret + digest("sha1", letter + secret + seed))
        i += 1
    return out[:length]


def ssl3_inner(hash_name: str, secret: bytes, data: bytes) -> bytes:
    """SSL 3.0's keyed hash: H(secret + pad_2 + H(data + secret + pad_1)) (Finished and
    CertificateVerify, RFC 6101 5.6.8-5.6.9)."""
    n = SSL3_PADS[hash_name]
    return digest(hash_name, secret + bytes([PAD2]) * n + digest(hash_name, data + secret + bytes([PAD1]) * n))


def ssl3_mac(hash_name: str, mac_secret: bytes, header: bytes, data: bytes) -> bytes:
    """RFC 6101 5.2.3.1: hash(MAC_write_secret + pad_2 + hash(MAC_write_secret + pad_1 + seq_num +
    type + length + content)); ``header`` is seq_num + type + length."""
    n = SSL3_PADS[hash_name]
    inner = digest(hash_name, mac_secret + bytes([PAD1]) * n + header + data)
    return digest(hash_name, mac_secret + bytes([PAD2]) * n + inner)


def master_secret(version: int, hash_name: str, pre_master: bytes, client_random: bytes,
                  server_random: bytes) -> bytes:
    if version == SSL3:
        return ssl3_expand(pre_master, client_random + server_random, 48)
    return prf(version, hash_name, pre_master, b"master secret", client_random + server_random, 48)


def extended_master_secret(version: int, hash_name: str, pre_master: bytes, session_hash: bytes) -> bytes:
    """RFC 7627 section 4: session_hash is the hash of the handshake up to ClientKeyExchange."""
    return prf(version, hash_name, pre_master, b"extended master secret", session_hash, 48)


def key_block(version: int, hash_name: str, master: bytes, client_random: bytes,
              server_random: bytes, length: int) -> bytes:
    if version == SSL3:
        return ssl3_expand(master, server_random + client_random, length)
    return prf(version, hash_name, master, b"key expansion", server_random + client_random, length)


def finished_verify_data(version: int, hash_name: str, master: bytes, label: bytes,
                         handshake_messages: bytes) -> bytes:
    """RFC 5246 section 7.4.9 (label b"client finished" or b"server finished"); SSL 3.0's
    36-byte form with the sender "CLNT" or "SRVR" (RFC 6101 5.6.9)."""
    if version == SSL3:
        sender = b"CLNT" if label.startswith(b"client") else b"SRVR"
        return ssl3_inner("md5", master, handshake_messages + sender) + \
            ssl3_inner("sha1", master, handshake_messages + sender)
    if version >= 0x0303:
        h = digest(hash_name, handshake_messages)
    else:
        h = digest("md5", handshake_messages) + digest("sha1", handshake_messages)
    return prf(version, hash_name, master, label, h, 12)
