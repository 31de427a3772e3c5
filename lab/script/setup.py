"""What a scenario can draw on when its steps are built: the test PKI, the TLS version, the key
family."""
from __future__ import annotations

from dataclasses import dataclass

from lab.pki import Pki, load_chain, load_key


@dataclass
class Setup:
    pki: Pki
    version: str
    alg: str = "rsa"

    def chain(self, who: str = "client") -> list[bytes]:
        return load_chain(self.pki.identity(self.alg, who).cert)

    def key(self, who: str = "client"):
        return load_key(self.pki.identity(self.alg, who).key)
