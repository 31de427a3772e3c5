"""Where the dissector's keys come from: an NSS key log (embedded or given), the server's RSA
private key (TLS_RSA_* sessions, as Wireshark's RSA keys list), and the capture's own earlier
sessions (TLS 1.2 resumption)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.crypto.asym import decrypt_premaster
from lab.crypto.keylog import KeyLog


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
