"""TLS libraries that have no server program of their own, run through small servers of ours
written as each library's documentation shows client authentication: Erlang/OTP ``ssl``
(lab/peers/src/erlang_server.escript) and tlslite-ng, pure Python (lab/peers/src/tlslite_server.py)."""
from __future__ import annotations

import glob
import importlib.util
import os
import sys
from dataclasses import dataclass

from lab.peers.process import PeerUnavailable
from lab.peers.registry import ERLANG_SSL
from lab.peers.servers import BASIC_MODES, TLS12_13, ServerPeer

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")


@dataclass
class ErlangServer(ServerPeer):
    """Erlang/OTP ssl: verify_peer, fail_if_no_peer_cert, crl_check."""
    name: str = "erlang"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in BASIC_MODES

    def _start(self) -> "ErlangServer":
        exe, folder = self._prepare("escript")
        if not glob.glob(ERLANG_SSL):
            raise PeerUnavailable("Erlang's ssl application is not installed; run scripts/setup "
                                  "(apt-get install erlang-ssl erlang-public-key erlang-crypto erlang-asn1)")
        argv = [exe, os.path.join(SRC, "erlang_server.escript"), str(self.port), "server.crt", "server.key",
                "ca.crt", self.mode, self.version, *(["crl.pem"] if self.mode == "required-crl" else [])]
        self._launch(argv, cwd=folder, ready_timeout=30.0)
        return self


@dataclass
class TlsliteServer(ServerPeer):
    """tlslite-ng: it checks the client's CertificateVerify but validates no chain (its API leaves
    that to the application), so its "required" accepts any certificate."""
    name: str = "tlslite"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and (mode in ("none", "optional", "required")
                                                     or (mode == "pha" and self.version == "1.3"))

    def _start(self) -> "TlsliteServer":
        if importlib.util.find_spec("tlslite") is None:
            raise PeerUnavailable("tlslite-ng is not installed; run scripts/setup (pip install tlslite-ng)")
        _, folder = self._prepare(None)
        argv = [sys.executable, os.path.join(SRC, "tlslite_server.py"), str(self.port), "server.crt", "server.key",
                "ca.crt", self.mode, self.version]
        self._launch(argv, cwd=folder)
        return self


LIBRARY_SERVERS = {"erlang": ErlangServer, "tlslite": TlsliteServer}
