"""Record protection from secrets: TLS 1.0-1.2 key block split into both directions, TLS 1.3
traffic keys, and the RFC 7627 session hash."""
from __future__ import annotations

from lab.crypto import prf, tls13
from lab.crypto.record import RecordProtection, key_block_length, tls12_record_keys
from lab.crypto.suites import SuiteParams


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
    if params.export:
        k.update(export_keys(version, params, k["client_key"], k["server_key"], client_random, server_random))
    return (RecordProtection(params, version, k["client_key"], k["client_iv"], k["client_mac"], etm),
            RecordProtection(params, version, k["server_key"], k["server_iv"], k["server_mac"], etm))


def export_keys(version: int, params: SuiteParams, client_key: bytes, server_key: bytes, client_random: bytes,
                server_random: bytes) -> dict[str, bytes]:
    """The final keys and IVs of an export suite: RFC 2246 6.3 (TLS 1.0, the PRF with "client write
    key", "server write key" and "IV block") or RFC 6101 6.2.2 (SSL 3.0, MD5 of key and randoms)."""
    n, iv_len = params.final_key_len, params.block_size
    if version == prf.SSL3:
        return {"client_key": prf.digest("md5", client_key + client_random + server_random)[:n],
                "server_key": prf.digest("md5", server_key + server_random + client_random)[:n],
                "client_iv": prf.digest("md5", client_random + server_random)[:iv_len],
                "server_iv": prf.digest("md5", server_random + client_random)[:iv_len]}
    seed = client_random + server_random
    ivs = prf.prf(version, params.prf_hash, b"", b"IV block", seed, 2 * iv_len)
    return {"client_key": prf.prf(version, params.prf_hash, client_key, b"client write key", seed, n),
            "server_key": prf.prf(version, params.prf_hash, server_key, b"server write key", seed, n),
            "client_iv": ivs[:iv_len], "server_iv": ivs[iv_len:]}


def tls13_protection(params: SuiteParams, secret: bytes) -> RecordProtection:
    key, iv = tls13.traffic_keys(params.prf_hash, secret, params.key_len)
    return RecordProtection(params, 0x0304, key, iv)


def session_hash(version: int, params: SuiteParams, transcript: bytes) -> bytes:
    """RFC 7627 section 3 session_hash."""
    if version >= 0x0303:
        return prf.digest(params.prf_hash, transcript)
    return prf.digest("md5", transcript) + prf.digest("sha1", transcript)
