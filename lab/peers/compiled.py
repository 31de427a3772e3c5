"""Server peers the lab compiles on first use: Go (crypto/tls) and Java (JSSE). Binaries and
classes live in a cache folder ($XDG_CACHE_HOME/certlab, or ~/.cache/certlab), rebuilt when the
source changes."""
from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass

from lab.peers.process import PeerUnavailable, free_port, require
from lab.peers.servers import ServerPeer

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "certlab")
    os.makedirs(path, exist_ok=True)
    return path


def _built(source: str, kind: str) -> str:
    """The build folder for this exact source (its hash), compiled if missing."""
    with open(os.path.join(SRC, source), "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()[:16]
    out = os.path.join(cache_dir(), f"{kind}-{digest}")
    marker = os.path.join(out, ".built")
    if os.path.exists(marker):
        return out
    os.makedirs(out, exist_ok=True)
    if kind == "go":
        exe = require("go")
        env = dict(os.environ, GOCACHE=os.path.join(cache_dir(), "gocache"), GOPATH=os.path.join(cache_dir(), "gopath"),
                   GO111MODULE="off", CGO_ENABLED="0")
        argv = [exe, "build", "-o", os.path.join(out, os.path.splitext(source)[0]), os.path.join(SRC, source)]
    else:
        exe = require("javac")
        env, argv = dict(os.environ), [exe, "-d", out, os.path.join(SRC, source)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise PeerUnavailable(f"building the {kind} server failed: {proc.stderr.strip()[-300:]}")
    open(marker, "w").close()
    return out


@dataclass
class _CompiledServer(ServerPeer):
    def argv(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> "_CompiledServer":
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
