"""Servers that terminate TLS in front of something else: stunnel (in front of ``/bin/cat``, an
echo) and a Node.js application (tls.createServer). Like every peer, they get the PKI files
under fixed names in a folder of their own (``ServerPeer._config_folder``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from lab.peers.servers import BASIC_MODES, TLS12_13, ServerPeer

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")
STUNNEL_CONF = """foreground = yes
pid =
syslog = no
debug = info
[lab]
accept = 127.0.0.1:{port}
exec = /bin/cat
cert = server.crt
key = server.key
CAfile = ca.crt
verifyChain = {verify}
requireCert = {require}
sslVersionMin = TLSv{version}
sslVersionMax = TLSv{version}
{crl}
"""


@dataclass
class StunnelServer(ServerPeer):
    """stunnel 5 (foreground) with ``verifyChain``/``requireCert``, echoing what the client sends."""
    name: str = "stunnel"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in BASIC_MODES

    def _start(self) -> "StunnelServer":
        exe, folder = self._prepare("stunnel4")
        conf = STUNNEL_CONF.format(port=self.port, version=self.version,
                                   verify="no" if self.mode == "none" else "yes",
                                   require="yes" if self.mode in ("required", "required-crl") else "no",
                                   crl="CRLfile = crl.pem" if self.mode == "required-crl" else "")
        with open(os.path.join(folder, "stunnel.conf"), "w") as fh:
            fh.write(conf)
        self._launch([exe, "stunnel.conf"], cwd=folder)
        return self


@dataclass
class NodeServer(ServerPeer):
    """Node.js ``tls.createServer`` (lab/peers/src/node_server.js). Node has no post-handshake
    authentication; it asks again in TLS 1.2 with ``socket.renegotiate()``."""
    name: str = "node"
    lacks = {"pha": "Node.js has no TLS 1.3 post-handshake authentication (its documentation: "
                    "renegotiate() is TLS 1.2 only)"}

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and (
            mode in BASIC_MODES
            or (mode == "renegotiation" and self.version == "1.2"))

    def _start(self) -> "NodeServer":
        exe, folder = self._prepare("node")
        argv = [exe, os.path.join(SRC, "node_server.js"), str(self.port), "server.crt", "server.key", "ca.crt",
                self.mode, self.version, *(["crl.pem"] if self.mode == "required-crl" else [])]
        self._launch(argv, cwd=folder)
        return self


RELAY_SERVERS = {"stunnel": StunnelServer, "node": NodeServer}
