"""What a scenario can draw on when its steps are built: the test PKI, the TLS version, the key
family, and, against the user's own server, the user's credentials."""
from __future__ import annotations

from dataclasses import dataclass

from lab.pki import Pki, load_chain, load_key


class NotApplicable(Exception):
    """A scenario that cannot be built from what was given (shown as n/a with this reason)."""


@dataclass
class Setup:
    pki: Pki
    version: str
    alg: str = "rsa"
    user: object = None      # lab.creds.Credentials: the client's own certificate and key
    minted: bool = True      # False: ``pki``'s leaves are not under the server's CA (only the user's are)
    server_name: str | None = "localhost"   # the SNI the client sends
    alpn: tuple[str, ...] = ()               # the application protocols the client offers
    server_identity: object = None   # lab.creds.Credentials: ``serve``'s own certificate and key

    def _check(self, who: str) -> None:
        if who != "client" and not who.startswith("other") and not self.minted:
            raise NotApplicable(f"needs --client-ca and --client-ca-key to mint a {who} certificate under your CA")

    def _own(self, who: str):
        return self.user if who == "client" else self.server_identity if who == "server" else None

    def chain(self, who: str = "client") -> list[bytes]:
        if self._own(who) is not None:
            return list(self._own(who).chain)
        self._check(who)
        return load_chain(self.pki.identity(self.alg, who).cert)

    def key(self, who: str = "client"):
        if self._own(who) is not None:
            return self._own(who).key
        self._check(who)
        return load_key(self.pki.identity(self.alg, who).key)


def applicable(sc, setup: Setup) -> str | None:
    """Why ``sc`` cannot be built from ``setup`` (its n/a reason), or None."""
    try:
        sc.build(setup)
    except NotApplicable as exc:
        return str(exc)
    return None
