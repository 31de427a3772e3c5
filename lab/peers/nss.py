"""NSS's selfserv as a server peer. Needs an NSS database (made here with certutil and pk12util)
and listens on every address (no bind option); the lab only connects over loopback."""
from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass

from lab.peers.process import PeerUnavailable, free_port, require
from lab.peers.servers import ServerPeer


_DB_LOCK = threading.Lock()


def nss_database(pki, alg: str, workdir: str, *who: str) -> str:
    """An NSS database trusting the lab CA and holding each of ``who``'s keys and certificates
    under its own nickname (certutil and pk12util). One creation at a time: parallel runs on one
    folder hang."""
    with _DB_LOCK:
        db = os.path.join(workdir, f"nssdb-{alg}-{'-'.join(who) or 'none'}")
        if os.path.exists(os.path.join(db, ".ready")):
            return db
        os.makedirs(db, exist_ok=True)
        certutil, pk12util = require("certutil"), require("pk12util")
        ca = pki.identity(alg, "server").ca
        steps = [[certutil, "-N", "-d", f"sql:{db}", "--empty-password"],
                 [certutil, "-A", "-d", f"sql:{db}", "-n", "labca", "-t", "CT,C,C", "-i", ca]]
        for name in who:
            p12 = pki.pkcs12(alg, name, os.path.join(db, f"{name}.p12"))
            steps.append([pk12util, "-i", p12, "-d", f"sql:{db}", "-W", "changeit", "-K", ""])
        for argv in steps:
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                raise PeerUnavailable(f"{os.path.basename(argv[0])} hung while creating the NSS database") from None
            if proc.returncode != 0:
                raise PeerUnavailable(f"creating the NSS database failed: {(proc.stderr or proc.stdout).strip()}")
        open(os.path.join(db, ".ready"), "w").close()
        return db


@dataclass
class NSSServer(ServerPeer):
    """selfserv serves HTTP; with ``-r`` four times it requires a certificate on a second
    handshake after reading the request: a renegotiation in TLS 1.2, post-handshake
    authentication in TLS 1.3 (with ``-E``)."""
    name: str = "nss"
    lacks = {"ed25519-cert": "NSS 3.87 (Debian 12) has no Ed25519 TLS signatures",
             "rsassa-pss-cert": "NSS 3.87 selfserv refuses id-RSASSA-PSS client certificates (illegal_parameter)"}

    def supports(self, mode: str) -> bool:
        return mode in ("none", "optional", "required") or \
            (mode in ("pha", "pha-required") and self.version == "1.3") or \
            (mode == "renegotiation" and self.version == "1.2")

    def database(self) -> str:
        return nss_database(self.pki, self.alg, self.workdir, "server")

    def _start(self) -> "NSSServer":
        self._check_mode()
        exe = require("selfserv")
        db = self.database()
        self.port = free_port()
        v = "tls1.3" if self.version == "1.3" else "tls1.2"
        requests = {"none": [], "optional": ["-r"], "required": ["-r", "-r"], "pha": ["-E", "-r", "-r", "-r", "-r"],
                    "pha-required": ["-E", "-r", "-r", "-r", "-r"],
                    "renegotiation": ["-r", "-r", "-r", "-r"]}[self.mode]
        argv = [exe, "-d", f"sql:{db}", "-p", str(self.port), "-n", "server", "-V", f"{v}:{v}", *requests]
        self._launch(argv, loopback_only=True)   # selfserv has no bind option
        return self
