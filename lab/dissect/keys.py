"""Where the dissector's keys come from: an NSS key log (embedded or given), the server's RSA
private key (TLS_RSA_* sessions, as Wireshark's RSA keys list), and the capture's own earlier
sessions (TLS 1.2 resumption)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.crypto import prf, tls13
from lab.crypto.asym import decrypt_premaster
from lab.crypto.keylog import KeyLog
from lab.crypto.record import RecordProtection, key_block_length, tls12_record_keys
from lab.crypto.suites import SuiteParams


@dataclass
class KeySource:
    keylog: KeyLog = field(default_factory=KeyLog)
    server_keys: list = field(default_factory=list)
    sessions: dict[bytes, bytes] = field(default_factory=dict)   # session id or ticket -> master

    def tls13_secret(self, label: str, client_random: bytes) -> bytes | None:
        return self.keylog.get(label, client_random)

    def premaster(self, encrypted: bytes) -> bytes | None:
        pms = self.keylog.premaster_for(encrypted)
        if pms is not None:
            return pms
        for key in self.server_keys:
            try:
                return decrypt_premaster(key, encrypted)
            except ValueError:
                continue
        return None

    def master(self, client_random: bytes, resumed_from: list[bytes]) -> bytes | None:
        ms = self.keylog.master_secret(client_random)
        if ms is not None:
            return ms
        for key in resumed_from:
            if key and key in self.sessions:
                return self.sessions[key]
        return None


def tls12_master_from_premaster(version: int, params: SuiteParams, pms: bytes, client_random: bytes,
                                server_random: bytes, ems_session_hash: bytes | None) -> bytes:
    if ems_session_hash is not None:
        return prf.extended_master_secret(version, params.prf_hash, pms, ems_session_hash)
    return prf.master_secret(version, params.prf_hash, pms, client_random, server_random)


def tls12_protections(version: int, params: SuiteParams, master: bytes, client_random: bytes,
                      server_random: bytes, etm: bool) -> tuple[RecordProtection, RecordProtection]:
    """(client write, server write) record protection from a TLS 1.0-1.2 master secret."""
    block = prf.key_block(version, params.prf_hash, master, client_random, server_random,
                          key_block_length(params))
    k = tls12_record_keys(params, block)
    return (RecordProtection(params, version, k["client_key"], k["client_iv"], k["client_mac"], etm),
            RecordProtection(params, version, k["server_key"], k["server_iv"], k["server_mac"], etm))


def tls13_protection(params: SuiteParams, secret: bytes) -> RecordProtection:
    key, iv = tls13.traffic_keys(params.prf_hash, secret, params.key_len)
    return RecordProtection(params, 0x0304, key, iv)


def session_hash(version: int, params: SuiteParams, transcript: bytes) -> bytes:
    """RFC 7627 section 3 session_hash."""
    if version >= 0x0303:
        return prf.digest(params.prf_hash, transcript)
    return prf.digest("md5", transcript) + prf.digest("sha1", transcript)
