"""A local OCSP responder for the servers that ask one about client certificates (RFC 6960):
``openssl ocsp`` serving the lab CA's answers from an index it reads (every certificate of the
rsa family: good, or revoked if crl.pem lists it), signed by the CA itself (RFC 6960 4.2.2.2)."""
from __future__ import annotations

import glob
import os

from cryptography import x509

from lab.peers.build import loopback_only_env
from lab.peers.process import ManagedProcess, free_port, require


def _index_line(cert: x509.Certificate, revoked: set[int]) -> str:
    """One line of openssl's CA index: status, expiry, revocation time, serial, file, subject
    (openssl ocsp looks certificates up by serial; the subject is for the reader)."""
    expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    state, when = ("R", expiry) if cert.serial_number in revoked else ("V", "")
    return f"{state}\t{expiry}\t{when}\t{cert.serial_number:X}\tunknown\t/{cert.subject.rfc4514_string()}\n"


class OcspResponder:
    """``with OcspResponder(pki, folder) as r:`` answers at ``r.url`` until the block ends."""

    def __init__(self, pki, folder: str, unknown: tuple[str, ...] = ()) -> None:
        """``unknown``: files of the rsa family left out of the index, so that the responder
        answers "unknown" for them (RFC 6960 2.2)."""
        self.pki, self.folder, self.unknown = pki, folder, unknown

    def __enter__(self) -> "OcspResponder":
        exe = require("openssl")
        with open(self.pki.crl, "rb") as fh:
            revoked = {r.serial_number for r in x509.load_pem_x509_crl(fh.read())}
        ca = x509.load_pem_x509_certificate(open(self.pki.path("rsa", "ca.crt"), "rb").read())
        lines = []
        for path in sorted(glob.glob(self.pki.path("rsa", "*.crt"))):
            if os.path.basename(path) in self.unknown:
                continue
            with open(path, "rb") as fh:
                cert = x509.load_pem_x509_certificates(fh.read())[0]
            if cert.issuer == ca.subject and cert.subject != ca.subject:
                lines.append(_index_line(cert, revoked))
        os.makedirs(self.folder, exist_ok=True)
        index = os.path.join(self.folder, "index.txt")
        with open(index, "w") as fh:
            fh.writelines(lines)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        argv = [exe, "ocsp", "-index", index, "-port", str(self.port), "-CA", self.pki.path("rsa", "ca.crt"),
                "-rsigner", self.pki.path("rsa", "ca.crt"), "-rkey", self.pki.path("rsa", "ca.key"), "-nmin", "10"]
        # openssl ocsp has no bind address: the loopback shim keeps it off other interfaces
        self.proc = ManagedProcess(argv, os.path.join(self.folder, "ocsp"), port=self.port,
                                   env=loopback_only_env()).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stop()


def unreachable_url() -> str:
    """A responder address where nothing listens (a port the kernel just gave and took back)."""
    return f"http://127.0.0.1:{free_port()}/"
