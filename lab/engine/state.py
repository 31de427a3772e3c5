"""Handshake state of the engine: negotiated parameters, transcript and key derivation for
TLS 1.2 (PRF, extended master secret) and TLS 1.3 (key schedule), plus the NSS key log
lines a capture needs. Bytes only; messages are built elsewhere."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.crypto import prf, tls13
from lab.crypto.prf import digest
from lab.crypto.record import RecordProtection
from lab.crypto.suites import SuiteParams, suite
from layers.ciphersuites import CIPHER_SUITE_NAMES
from lab.crypto.derive import session_hash, tls12_protections, tls13_protection


def suite_params(code: int) -> SuiteParams | None:
    """A suite's record parameters, read from its IANA name."""
    return suite(code, CIPHER_SUITE_NAMES.get(code))


class EngineError(Exception):
    """The handshake cannot continue (a missing parameter, an unusable server message)."""


# What a message that parsed but does not hold together raises when it is used (a truncated list
# element kept as Raw, a value out of range): reported as a note, never let out.
MALFORMED = (EngineError, AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)


@dataclass
class HandshakeKeys:
    version: int = 0x0303
    suite_code: int | None = None
    params: SuiteParams | None = None
    client_random: bytes = b""
    server_random: bytes = b""
    transcript: bytearray = field(default_factory=bytearray)
    ems: bool = False
    session_id: bytes = b""
    master: bytes | None = None
    schedule: tls13.KeySchedule | None = None
    c_hs: bytes = b""
    s_hs: bytes = b""
    c_ap: bytes = b""
    s_ap: bytes = b""
    main_transcript: bytes = b""       # TLS 1.3: through the client Finished (post-handshake auth)
    psk: bytes | None = None           # TLS 1.3: the PSK the handshake is keyed with, if any
    keylog: list[str] = field(default_factory=list)

    @property
    def tls13(self) -> bool:
        return self.version >= 0x0304

    @property
    def hash_name(self) -> str:
        if self.params is None:
            raise EngineError("no cipher suite negotiated yet")
        return self.params.prf_hash

    def negotiate(self, version: int, suite_code: int) -> None:
        self.version, self.suite_code, self.params = version, suite_code, suite_params(suite_code)
        if self.params is None or self.params.missing:
            raise EngineError(f"cipher suite 0x{suite_code:04x} is not one the engine supports")

    def add(self, raw: bytes) -> None:
        self.transcript += raw

    def transcript_hash(self, extra: bytes = b"") -> bytes:
        return digest(self.hash_name, bytes(self.transcript) + extra)

    def hello_retry(self) -> None:
        """RFC 8446 4.4.1: ClientHello1 is replaced by message_hash in the transcript."""
        h = digest(self.hash_name, bytes(self.transcript))
        self.transcript = bytearray(bytes([254, 0, 0, len(h)]) + h)

    def _log(self, label: str, secret: bytes) -> None:
        self.keylog.append(f"{label} {self.client_random.hex()} {secret.hex()}")

    # -- TLS 1.3 ---------------------------------------------------------------------------------
    def tls13_handshake_keys(self, shared: bytes | None) -> tuple[RecordProtection, RecordProtection]:
        """Handshake traffic keys from the (EC)DHE secret; None: a psk_ke handshake (no DHE)."""
        self.schedule = tls13.KeySchedule(self.hash_name, self.psk)
        if shared is None:
            shared = b"\x00" * len(digest(self.hash_name, b""))
        self.c_hs, self.s_hs = self.schedule.handshake(shared, bytes(self.transcript))
        self._log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", self.c_hs)
        self._log("SERVER_HANDSHAKE_TRAFFIC_SECRET", self.s_hs)
        return tls13_protection(self.params, self.c_hs), tls13_protection(self.params, self.s_hs)

    def tls13_application_secrets(self) -> None:
        """After the server Finished: the application traffic secrets (transcript through it)."""
        assert self.schedule is not None
        self.c_ap, self.s_ap = self.schedule.application(bytes(self.transcript))
        self._log("CLIENT_TRAFFIC_SECRET_0", self.c_ap)
        self._log("SERVER_TRAFFIC_SECRET_0", self.s_ap)
        exporter = self.schedule.derive(self.schedule.master_secret, b"exp master", bytes(self.transcript))
        self._log("EXPORTER_SECRET", exporter)

    def finished13(self, base_key: bytes, extra: bytes = b"") -> bytes:
        return tls13.finished_verify_data(self.hash_name, base_key, self.transcript_hash(extra))

    # -- TLS 1.2 ---------------------------------------------------------------------------------
    def tls12_master(self, premaster: bytes) -> None:
        assert self.params is not None
        if self.ems:
            self.master = prf.extended_master_secret(self.version, self.hash_name, premaster,
                                                     session_hash(self.version, self.params, bytes(self.transcript)))
        else:
            self.master = prf.master_secret(self.version, self.hash_name, premaster, self.client_random,
                                            self.server_random)
        self._log("CLIENT_RANDOM", self.master)

    def tls12_protections(self, etm: bool = False) -> tuple[RecordProtection, RecordProtection]:
        if self.master is None or self.params is None:
            raise EngineError("no master secret: the ClientKeyExchange was not sent")
        return tls12_protections(self.version, self.params, self.master, self.client_random,
                                 self.server_random, etm and not self.params.aead)

    def finished12(self, label: bytes) -> bytes:
        if self.master is None:
            raise EngineError("no master secret")
        return prf.finished_verify_data(self.version, self.hash_name, self.master, label, bytes(self.transcript))
