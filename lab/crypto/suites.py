"""Cipher suite parameters for record protection (RFC 5246 appendix C, RFC 8446 appendix B.4).

Keyed by IANA code; names live in ``layers.registry.CipherSuite`` (crypto stays layer-free).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteParams:
    kx: str            # "rsa", "dhe", "ecdhe", "dh_anon", "psk", "tls13"
    cipher: str        # "aes_gcm", "chacha20", "aes_ccm", "aes_ccm_8", "aes_cbc", "3des_cbc", "null"
    key_len: int
    mac: str | None    # HMAC hash for CBC/null suites; None for AEAD
    prf_hash: str      # "sha256" or "sha384" (TLS 1.2 PRF / TLS 1.3 HKDF hash)

    @property
    def aead(self) -> bool:
        return self.cipher in ("aes_gcm", "chacha20", "aes_ccm", "aes_ccm_8")

    @property
    def fixed_iv_len(self) -> int:
        """TLS 1.2 implicit nonce / CBC IV length from the key block (RFC 5288, RFC 7905)."""
        return {"aes_gcm": 4, "aes_ccm": 4, "aes_ccm_8": 4, "chacha20": 12, "aes_cbc": 16,
                "3des_cbc": 8, "null": 0}[self.cipher]

    @property
    def mac_len(self) -> int:
        return {None: 0, "md5": 16, "sha1": 20, "sha256": 32, "sha384": 48}[self.mac]

    @property
    def tag_len(self) -> int:
        return 8 if self.cipher == "aes_ccm_8" else 16


def _p(kx: str, cipher: str, key_len: int, mac: str | None, prf: str = "sha256") -> SuiteParams:
    return SuiteParams(kx, cipher, key_len, mac, prf)


SUITES: dict[int, SuiteParams] = {
    0x0001: _p("rsa", "null", 0, "md5"), 0x0002: _p("rsa", "null", 0, "sha1"),
    0x003B: _p("rsa", "null", 0, "sha256"),
    0x000A: _p("rsa", "3des_cbc", 24, "sha1"), 0x0016: _p("dhe", "3des_cbc", 24, "sha1"),
    0x002F: _p("rsa", "aes_cbc", 16, "sha1"), 0x0035: _p("rsa", "aes_cbc", 32, "sha1"),
    0x0032: _p("dhe", "aes_cbc", 16, "sha1"),
    0x0033: _p("dhe", "aes_cbc", 16, "sha1"), 0x0039: _p("dhe", "aes_cbc", 32, "sha1"),
    0x003C: _p("rsa", "aes_cbc", 16, "sha256"), 0x003D: _p("rsa", "aes_cbc", 32, "sha256"),
    0x0067: _p("dhe", "aes_cbc", 16, "sha256"), 0x006B: _p("dhe", "aes_cbc", 32, "sha256"),
    0x009C: _p("rsa", "aes_gcm", 16, None), 0x009D: _p("rsa", "aes_gcm", 32, None, "sha384"),
    0x009E: _p("dhe", "aes_gcm", 16, None), 0x009F: _p("dhe", "aes_gcm", 32, None, "sha384"),
    0x00A6: _p("dh_anon", "aes_gcm", 16, None), 0x00A7: _p("dh_anon", "aes_gcm", 32, None, "sha384"),
    0xC009: _p("ecdhe", "aes_cbc", 16, "sha1"), 0xC00A: _p("ecdhe", "aes_cbc", 32, "sha1"),
    0xC013: _p("ecdhe", "aes_cbc", 16, "sha1"), 0xC014: _p("ecdhe", "aes_cbc", 32, "sha1"),
    0xC023: _p("ecdhe", "aes_cbc", 16, "sha256"), 0xC024: _p("ecdhe", "aes_cbc", 32, "sha384", "sha384"),
    0xC027: _p("ecdhe", "aes_cbc", 16, "sha256"), 0xC028: _p("ecdhe", "aes_cbc", 32, "sha384", "sha384"),
    0xC02B: _p("ecdhe", "aes_gcm", 16, None), 0xC02C: _p("ecdhe", "aes_gcm", 32, None, "sha384"),
    0xC02F: _p("ecdhe", "aes_gcm", 16, None), 0xC030: _p("ecdhe", "aes_gcm", 32, None, "sha384"),
    0xC09C: _p("rsa", "aes_ccm", 16, None), 0xC09D: _p("rsa", "aes_ccm", 32, None),
    0xC09E: _p("dhe", "aes_ccm", 16, None), 0xC09F: _p("dhe", "aes_ccm", 32, None),
    0xC0A0: _p("rsa", "aes_ccm_8", 16, None), 0xC0A1: _p("rsa", "aes_ccm_8", 32, None),
    0xC0AC: _p("ecdhe", "aes_ccm", 16, None), 0xC0AD: _p("ecdhe", "aes_ccm", 32, None),
    0xC0AE: _p("ecdhe", "aes_ccm_8", 16, None), 0xC0AF: _p("ecdhe", "aes_ccm_8", 32, None),
    0xCCA8: _p("ecdhe", "chacha20", 32, None), 0xCCA9: _p("ecdhe", "chacha20", 32, None),
    0xCCAA: _p("dhe", "chacha20", 32, None),
    0x1301: _p("tls13", "aes_gcm", 16, None), 0x1302: _p("tls13", "aes_gcm", 32, None, "sha384"),
    0x1303: _p("tls13", "chacha20", 32, None), 0x1304: _p("tls13", "aes_ccm", 16, None),
    0x1305: _p("tls13", "aes_ccm_8", 16, None),
}


def suite(code: int) -> SuiteParams | None:
    return SUITES.get(code)
