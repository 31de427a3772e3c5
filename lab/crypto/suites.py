"""Cipher suite parameters for record protection, read from the suite's IANA name (RFC 5246
appendix C, RFC 8446 appendix B.4): ``TLS_<kx>_WITH_<cipher>_<mac>``, or ``TLS_<aead>_<hash>``
in TLS 1.3. The names live in ``layers.ciphersuites`` (crypto stays layer-free): callers pass
the name with the code. A suite whose cipher ``cryptography`` does not provide keeps its
parameters, with ``missing`` naming the primitive, so a reader can say so instead of blaming keys.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

AEAD = ("aes_gcm", "aes_ccm", "aes_ccm_8", "chacha20", "camellia_gcm", "aria_gcm")
# Block size of each CBC cipher; stream ciphers and NULL have none.
BLOCK = {"aes_cbc": 16, "camellia_cbc": 16, "seed_cbc": 16, "aria_cbc": 16, "3des_cbc": 8, "des_cbc": 8,
         "idea_cbc": 8, "rc2_cbc": 8}
# What cryptography lacks (checked against cryptography 44-50).
MISSING = {"camellia_gcm": "Camellia in GCM mode", "aria_cbc": "ARIA", "aria_gcm": "ARIA",
           "sm4": "SM4", "gost": "GOST 28147-89", "fortezza": "FORTEZZA (SKIPJACK)", "unknown": "this cipher"}


@dataclass(frozen=True)
class SuiteParams:
    kx: str            # rsa, dhe, dh, ecdhe, ecdh, dh_anon, ecdh_anon, psk, dhe_psk, rsa_psk, ecdhe_psk, krb5, srp, tls13
    cipher: str        # aes_gcm, chacha20, aes_ccm(_8), aes_cbc, 3des_cbc, des_cbc, rc4, rc2_cbc, idea_cbc, seed_cbc,
    # camellia_cbc, camellia_gcm, aria_*, null
    key_len: int       # key bytes taken from the key block (5 for export ciphers)
    mac: str | None    # HMAC hash for CBC, stream and NULL suites; None for AEAD
    prf_hash: str      # "sha256" or "sha384" (TLS 1.2 PRF / TLS 1.3 HKDF hash)
    export: bool = False     # RFC 2246 6.3: the final key is expanded from ``key_len`` bytes
    final_key_len: int = 0   # export: the expanded key's length (16, or 8 for DES)

    @property
    def aead(self) -> bool:
        return self.cipher in AEAD

    @property
    def stream(self) -> bool:
        return self.cipher in ("rc4", "null")

    @property
    def block_size(self) -> int:
        return BLOCK.get(self.cipher, 0)

    @property
    def fixed_iv_len(self) -> int:
        """TLS 1.2 implicit nonce / CBC IV length from the key block (RFC 5288, RFC 7905); export
        suites take their IVs from the "IV block" instead (RFC 2246 6.3)."""
        if self.export:
            return 0
        if self.cipher == "chacha20":
            return 12
        return 4 if self.aead else self.block_size

    @property
    def mac_len(self) -> int:
        return {None: 0, "md5": 16, "sha1": 20, "sha256": 32, "sha384": 48}[self.mac]

    @property
    def tag_len(self) -> int:
        return 8 if self.cipher == "aes_ccm_8" else 16

    @property
    def missing(self) -> str | None:
        """The primitive ``cryptography`` lacks to decrypt this suite, if any."""
        return MISSING.get(self.cipher)


_KX = {"RSA": "rsa", "DHE_RSA": "dhe", "DHE_DSS": "dhe", "DH_RSA": "dh", "DH_DSS": "dh", "DH_anon": "dh_anon",
       "ECDHE_RSA": "ecdhe", "ECDHE_ECDSA": "ecdhe", "ECDH_RSA": "ecdh", "ECDH_ECDSA": "ecdh", "ECDH_anon": "ecdh_anon",
       "PSK": "psk", "DHE_PSK": "dhe_psk", "RSA_PSK": "rsa_psk", "ECDHE_PSK": "ecdhe_psk", "KRB5": "krb5",
       "SRP_SHA": "srp", "SRP_SHA_RSA": "srp", "SRP_SHA_DSS": "srp", "NULL": "null", "ECCPWD": "eccpwd",
       "DHE_DSS_EXPORT1024": "dhe", "RSA_EXPORT1024": "rsa", "RSA_FIPS": "rsa", "FORTEZZA_KEA": "fortezza"}
# cipher token -> (cipher, key bytes, export final key bytes or 0)
_CIPHERS = {"NULL": ("null", 0, 0), "RC4_128": ("rc4", 16, 0), "RC4_40": ("rc4", 5, 16), "RC4_56": ("rc4", 7, 16),
            "RC2_CBC_40": ("rc2_cbc", 5, 16), "RC2_CBC_56": ("rc2_cbc", 7, 16), "IDEA_CBC": ("idea_cbc", 16, 0),
            "DES40_CBC": ("des_cbc", 5, 8), "DES_CBC_40": ("des_cbc", 5, 8), "DES_CBC": ("des_cbc", 8, 0),
            "3DES_EDE_CBC": ("3des_cbc", 24, 0), "SEED_CBC": ("seed_cbc", 16, 0),
            "AES_128_CBC": ("aes_cbc", 16, 0), "AES_256_CBC": ("aes_cbc", 32, 0),
            "AES_128_GCM": ("aes_gcm", 16, 0), "AES_256_GCM": ("aes_gcm", 32, 0),
            "AES_128_CCM": ("aes_ccm", 16, 0), "AES_256_CCM": ("aes_ccm", 32, 0),
            "AES_128_CCM_8": ("aes_ccm_8", 16, 0), "AES_256_CCM_8": ("aes_ccm_8", 32, 0),
            "CAMELLIA_128_CBC": ("camellia_cbc", 16, 0), "CAMELLIA_256_CBC": ("camellia_cbc", 32, 0),
            "CAMELLIA_128_GCM": ("camellia_gcm", 16, 0), "CAMELLIA_256_GCM": ("camellia_gcm", 32, 0),
            "ARIA_128_CBC": ("aria_cbc", 16, 0), "ARIA_256_CBC": ("aria_cbc", 32, 0),
            "ARIA_128_GCM": ("aria_gcm", 16, 0), "ARIA_256_GCM": ("aria_gcm", 32, 0),
            "CHACHA20_POLY1305": ("chacha20", 32, 0), "SM4_GCM": ("sm4", 16, 0), "SM4_CCM": ("sm4", 16, 0),
            "FORTEZZA_CBC": ("fortezza", 10, 0)}
_MACS = {"MD5": "md5", "SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
_NAME = re.compile(r"^(?:TLS|SSL)_(?P<kx>.+?)(?P<export>_EXPORT)?_WITH_(?P<cipher>.+)_(?P<mac>MD5|SHA|SHA256|SHA384|"
                   r"SM3|IMIT|OMAC|NULL)$")
# The CCM suites' names end with the cipher (their PRF is SHA-256): TLS_RSA_WITH_AES_128_CCM_8.
_CCM = re.compile(r"^(?:TLS|SSL)_(?P<kx>.+?)(?P<export>_EXPORT)?_WITH_(?P<cipher>AES_(?:128|256)_CCM(?:_8)?)"
                  r"(?P<mac>)$")
_TLS13 = re.compile(r"^TLS_(?P<cipher>AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305|AES_128_CCM|AES_128_CCM_8|"
                    r"SM4_GCM|SM4_CCM)_(?P<hash>SHA256|SHA384|SM3)$")


def from_name(name: str | None) -> SuiteParams | None:
    """The parameters a suite's IANA name states; None for a name that is not a suite's."""
    if not name:
        return None
    m13 = _TLS13.match(name)
    if m13:
        cipher, key_len, _ = _CIPHERS[m13["cipher"]]
        return SuiteParams("tls13", cipher, key_len, None, "sha384" if m13["hash"] == "SHA384" else "sha256")
    m = _NAME.match(name) or _CCM.match(name)
    if m is None:
        return None
    kx = _KX.get(m["kx"], m["kx"].lower())
    cipher, key_len, final = _CIPHERS.get(m["cipher"], ("unknown", 0, 0))
    export = bool(m["export"]) or final > 0
    prf = "sha384" if m["mac"] == "SHA384" else "sha256"
    mac = None if cipher in AEAD else _MACS.get(m["mac"], "unknown")
    if mac == "unknown":
        cipher = "gost" if m["mac"] in ("IMIT", "OMAC") else "unknown"
        mac = None
    return SuiteParams(kx, cipher, key_len, mac, prf, export, final if export else 0)


def suite(code: int, name: str | None = None) -> SuiteParams | None:
    """The suite's parameters, from its name (``layers.ciphersuites.CIPHER_SUITE_NAMES[code]``)."""
    return _cached(code, name)


_CACHE: dict[tuple[int, str | None], SuiteParams | None] = {}


def _cached(code: int, name: str | None) -> SuiteParams | None:
    key = (code, name)
    if key not in _CACHE:
        _CACHE[key] = from_name(name)
    return _CACHE[key]
