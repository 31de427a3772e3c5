"""Server peers the lab compiles on first use: Go (crypto/tls) and Java (JSSE) (see
``lab.peers.build``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from lab.peers.build import built as _built
from lab.peers.process import free_port, require
from lab.peers.servers import ServerPeer

@dataclass
class _CompiledServer(ServerPeer):
    def argv(self) -> list[str]:
        raise NotImplementedError

    def _start(self) -> "_CompiledServer":
        self._check_mode()
        self.port = free_port()
        self._launch(self.argv(), ready_timeout=30)
        return self


@dataclass
class GoServer(_CompiledServer):
    name: str = "go"
    lacks = {"dhe": "Go's crypto/tls has no finite-field DHE suites",
             "rsassa-pss-cert": "Go's crypto/x509 cannot use id-RSASSA-PSS public keys"}

    def argv(self) -> list[str]:
        srv = self.pki.identity(self.alg, "server")
        return [os.path.join(_built("labserver.go", "go"), "labserver"), str(self.port), srv.cert, srv.key, srv.ca,
                self.mode, self.version]


@dataclass
class JavaServer(_CompiledServer):
    name: str = "java"

    def supports(self, mode: str) -> bool:
        return mode in ("none", "optional", "required") or (mode == "renegotiation" and self.version == "1.2")

    def keystore(self) -> str:
        """The server identity as PKCS#12 (password "changeit"), which JSSE loads."""
        return self.pki.pkcs12(self.alg, "server", os.path.join(self.workdir, f"server-{self.alg}.p12"))

    def argv(self) -> list[str]:
        srv = self.pki.identity(self.alg, "server")
        return [require("java"), "-cp", _built("LabServer.java", "java"), "LabServer", str(self.port), self.keystore(),
                "changeit", srv.ca, self.mode, self.version]


def go_client_binary() -> str:
    return os.path.join(_built("labclient.go", "go"), "labclient")


def java_client_classes() -> str:
    return _built("LabClient.java", "java")
