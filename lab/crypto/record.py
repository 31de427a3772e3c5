"""Record protection (RFC 8446 section 5.2-5.3; RFC 5246 section 6.2.3; RFC 7366
encrypt_then_mac; RFC 7905 ChaCha20-Poly1305). Bytes in, bytes out; one instance per direction
and epoch, tracking its own sequence number."""
from __future__ import annotations

import hmac as _hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from lab.crypto.prf import SSL3, hmac_digest, ssl3_mac
from lab.crypto.suites import SuiteParams


class RecordDecryptError(Exception):
    """A record did not authenticate or decode under the keys we hold (wrong key log?)."""


def _aead(params: SuiteParams, key: bytes):
    if params.cipher == "aes_gcm":
        return AESGCM(key)
    if params.cipher == "chacha20":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=params.tag_len)


def _block_cipher(params: SuiteParams, key: bytes):
    """The CBC cipher's algorithm and block size. DES, 3DES, IDEA, SEED, RC2 and Camellia live in
    cryptography's "decrepit" module (3DES moved there in 43)."""
    from cryptography.hazmat.decrepit.ciphers import algorithms as old
    make = {"aes_cbc": algorithms.AES, "3des_cbc": old.TripleDES, "idea_cbc": old.IDEA, "seed_cbc": old.SEED,
            "rc2_cbc": old.RC2, "camellia_cbc": old.Camellia,
            "des_cbc": lambda k: old.TripleDES(k[:8] * 3)}   # single DES is 3DES with one key thrice
    if params.cipher not in make:
        raise ValueError(f"certlab cannot decrypt {params.missing or params.cipher}: cryptography does not provide it")
    return make[params.cipher](key), params.block_size


class RecordProtection:
    """Protects or unprotects the records of one direction.

    TLS 1.3: ``iv`` is the 12-byte write IV. TLS 1.2 AEAD: ``iv`` is the implicit salt from the
    key block (4 bytes, or 12 for ChaCha20). CBC: ``iv`` is the TLS 1.0 initial IV (unused from
    TLS 1.1 on, where each record carries its own) and ``mac_key`` the HMAC key.
    """

    def __init__(self, params: SuiteParams, version: int, key: bytes, iv: bytes,
                 mac_key: bytes = b"", encrypt_then_mac: bool = False) -> None:
        self.params, self.version, self.key, self.iv = params, version, key, iv
        self.mac_key, self.etm = mac_key, encrypt_then_mac
        self.seq = 0
        if params.missing:
            raise ValueError(f"no {params.missing} in cryptography")
        self._aead_obj = _aead(params, key) if params.aead else None
        self._rc4 = None   # RC4's keystream runs on across records: one context per direction

    def _xor_nonce(self) -> bytes:
        seq = self.seq.to_bytes(len(self.iv), "big")
        return bytes(a ^ b for a, b in zip(self.iv, seq))

    def decrypt(self, opaque_type: int, record_version: int, fragment: bytes) -> tuple[int, bytes]:
        """(content type, plaintext) of one protected record; advances the sequence number."""
        try:
            if self.version >= 0x0304:
                out = self._open13(opaque_type, record_version, fragment)
            elif self.params.aead:
                out = opaque_type, self._open12_aead(opaque_type, record_version, fragment)
            elif self.params.cipher == "null":
                out = opaque_type, self._check_mac(opaque_type, record_version, fragment)
            elif self.params.cipher == "rc4":
                out = opaque_type, self._check_mac(opaque_type, record_version, self._rc4_apply(fragment))
            else:
                out = opaque_type, self._open_cbc(opaque_type, record_version, fragment)
        except (InvalidTag, ValueError) as exc:
            raise RecordDecryptError(str(exc) or "authentication failed") from None
        self.seq += 1
        return out

    def skip(self, fragment: bytes) -> None:
        """Pass over one record without decrypting it, keeping the state the next one needs: the
        sequence number, RC4's keystream, TLS 1.0's chained CBC IV."""
        if self.params.cipher == "rc4":
            self._rc4_apply(fragment)
        elif self.params.block_size and self.version < 0x0302 and len(fragment) >= self.params.block_size:
            self.iv = fragment[-self.params.block_size:]
        self.seq += 1

    def _open13(self, opaque_type: int, record_version: int, fragment: bytes) -> tuple[int, bytes]:
        aad = bytes([opaque_type]) + record_version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big")
        inner = self._aead_obj.decrypt(self._xor_nonce(), fragment, aad)
        stripped = inner.rstrip(b"\x00")
        if not stripped:
            raise ValueError("TLSInnerPlaintext has no content type")
        return stripped[-1], stripped[:-1]

    def _aad12(self, content_type: int, record_version: int, length: int) -> bytes:
        return (self.seq.to_bytes(8, "big") + bytes([content_type]) +
                record_version.to_bytes(2, "big") + length.to_bytes(2, "big"))

    def _open12_aead(self, content_type: int, record_version: int, fragment: bytes) -> bytes:
        if self.params.cipher == "chacha20":
            nonce, ct = self._xor_nonce(), fragment
        else:
            nonce, ct = self.iv + fragment[:8], fragment[8:]
        if len(ct) < self.params.tag_len:
            raise ValueError("record shorter than its authentication tag")
        aad = self._aad12(content_type, record_version, len(ct) - self.params.tag_len)
        return self._aead_obj.decrypt(nonce, ct, aad)

    def _rc4_apply(self, data: bytes) -> bytes:
        if self._rc4 is None:
            from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
            self._rc4 = Cipher(ARC4(self.key), None).decryptor()   # RC4 is its own inverse
        return self._rc4.update(data)

    def _mac(self, content_type: int, record_version: int, data: bytes) -> bytes:
        if self.version == SSL3:   # RFC 6101 5.2.3.1: no version in the MAC, pads instead of HMAC
            header = self.seq.to_bytes(8, "big") + bytes([content_type]) + len(data).to_bytes(2, "big")
            return ssl3_mac(self.params.mac, self.mac_key, header, data)
        return hmac_digest(self.params.mac, self.mac_key,
                           self._aad12(content_type, record_version, len(data)) + data)

    def _check_mac(self, content_type: int, record_version: int, data: bytes) -> bytes:
        n = self.params.mac_len
        if len(data) < n:
            raise ValueError("record shorter than its MAC")
        body, mac = data[:len(data) - n], data[len(data) - n:]
        if not _hmac.compare_digest(mac, self._mac(content_type, record_version, body)):
            raise ValueError("bad record MAC")
        return body

    def _open_cbc(self, content_type: int, record_version: int, fragment: bytes) -> bytes:
        algo, block = _block_cipher(self.params, self.key)
        n = self.params.mac_len
        if self.etm:
            fragment = self._check_mac(content_type, record_version, fragment)
        if len(fragment) % block or not fragment:
            raise ValueError("CBC record is not a whole number of blocks")
        if self.version >= 0x0302:
            iv, ct = fragment[:block], fragment[block:]
        else:
            iv, ct = self.iv, fragment
            self.iv = fragment[-block:]
        dec = Cipher(algo, modes.CBC(iv)).decryptor()
        plain = dec.update(ct) + dec.finalize()
        pad = plain[-1] + 1 if plain else 0
        if self.version == SSL3:   # RFC 6101 5.2.3.2: the padding bytes are arbitrary, shorter than a block
            if pad > block or pad > len(plain):
                raise ValueError("bad SSL 3.0 CBC padding length")
        elif pad > len(plain) or plain[-pad:] != bytes([pad - 1]) * pad:
            raise ValueError("bad CBC padding")
        plain = plain[:-pad]
        if self.etm:
            return plain
        return self._check_mac(content_type, record_version, plain) if n else plain

    def _seal_cbc(self, content_type: int, record_version: int, plaintext: bytes,
                  explicit_iv: bytes | None) -> bytes:
        algo, block = _block_cipher(self.params, self.key)
        data = plaintext if self.etm else plaintext + self._mac(content_type, record_version, plaintext)
        pad = block - (len(data) + 1) % block
        data += bytes([pad]) * (pad + 1)
        if self.version >= 0x0302:
            iv = explicit_iv if explicit_iv is not None else os.urandom(block)
            enc = Cipher(algo, modes.CBC(iv)).encryptor()
            fragment = iv + enc.update(data) + enc.finalize()
        else:
            enc = Cipher(algo, modes.CBC(self.iv)).encryptor()
            fragment = enc.update(data) + enc.finalize()
            self.iv = fragment[-block:]
        if self.etm:
            fragment += self._mac(content_type, record_version, fragment)
        return fragment

    def encrypt(self, content_type: int, record_version: int, plaintext: bytes,
                explicit_nonce: bytes | None = None) -> tuple[int, bytes]:
        """(opaque type, protected fragment). TLS 1.3 adds no padding; CBC uses minimal padding and,
        from TLS 1.1 on, a random explicit IV (``explicit_nonce`` overrides it)."""
        if self.params.cipher in ("rc4", "null"):
            body = plaintext + self._mac(content_type, record_version, plaintext)
            out = content_type, (self._rc4_apply(body) if self.params.cipher == "rc4" else body)
            self.seq += 1
            return out
        if not self.params.aead:
            out = content_type, self._seal_cbc(content_type, record_version, plaintext, explicit_nonce)
            self.seq += 1
            return out
        if self.version >= 0x0304:
            inner = plaintext + bytes([content_type])
            aad = bytes([23]) + record_version.to_bytes(2, "big") + \
                (len(inner) + self.params.tag_len).to_bytes(2, "big")
            out = 23, self._aead_obj.encrypt(self._xor_nonce(), inner, aad)
        else:
            aad = self._aad12(content_type, record_version, len(plaintext))
            if self.params.cipher == "chacha20":
                out = content_type, self._aead_obj.encrypt(self._xor_nonce(), plaintext, aad)
            else:
                explicit = explicit_nonce if explicit_nonce is not None else self.seq.to_bytes(8, "big")
                out = content_type, explicit + self._aead_obj.encrypt(self.iv + explicit, plaintext, aad)
        self.seq += 1
        return out


def tls12_record_keys(params: SuiteParams, block: bytes) -> dict[str, bytes]:
    """Split a TLS 1.0-1.2 key block (RFC 5246 section 6.3)."""
    m, k, i = params.mac_len, params.key_len, params.fixed_iv_len
    names = ("client_mac", "server_mac", "client_key", "server_key", "client_iv", "server_iv")
    sizes = (m, m, k, k, i, i)
    out, off = {}, 0
    for name, size in zip(names, sizes):
        out[name], off = block[off:off + size], off + size
    return out


def key_block_length(params: SuiteParams) -> int:
    return 2 * (params.mac_len + params.key_len + params.fixed_iv_len)
