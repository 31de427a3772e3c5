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
        with _DB_LOCK:  # one creation at a time: parallel certutil runs on one folder hang
            return self._database()

    def _database(self) -> str:
        db = os.path.join(self.workdir, f"nssdb-{self.alg}")
        if os.path.exists(os.path.join(db, ".ready")):
            return db
        os.makedirs(db, exist_ok=True)
        certutil, pk12util = require("certutil"), require("pk12util")
        srv = self.pki.identity(self.alg, "server")
        p12 = self.pki.pkcs12(self.alg, "server", os.path.join(db, "server.p12"))
        for argv in ([certutil, "-N", "-d", f"sql:{db}", "--empty-password"],
                     [certutil, "-A", "-d", f"sql:{db}", "-n", "labca", "-t", "CT,C,C", "-i", srv.ca],
                     [pk12util, "-i", p12, "-d", f"sql:{db}", "-W", "changeit", "-K", ""]):
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                raise PeerUnavailable(f"{os.path.basename(argv[0])} hung while creating the NSS database") from None
            if proc.returncode != 0:
                raise PeerUnavailable(f"creating the NSS database failed: {(proc.stderr or proc.stdout).strip()}")
        open(os.path.join(db, ".ready"), "w").close()
        return db

    def __enter__(self) -> "NSSServer":
        self._check_mode()
        exe = require("selfserv")
        db = self.database()
        self.port = free_port()
        v = "tls1.3" if self.version == "1.3" else "tls1.2"
        requests = {"none": [], "optional": ["-r"], "required": ["-r", "-r"], "pha": ["-E", "-r", "-r", "-r", "-r"],
                    "pha-required": ["-E", "-r", "-r", "-r", "-r"],
                    "renegotiation": ["-r", "-r", "-r", "-r"]}[self.mode]
        argv = [exe, "-d", f"sql:{db}", "-p", str(self.port), "-n", "server", "-V", f"{v}:{v}", *requests]
        self._launch(argv)
        return self
