"""Client peers: real TLS clients run against the lab's server (issue 4). Each runs once per
scenario, with one client certificate (or two from different CAs where the stack chooses), and
reports its exit status and what it printed: when did the client program learn of a rejection?"""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from lab.peers.process import ManagedProcess, require
from lab.pki import Pki

REQUEST = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"


@dataclass
class ClientResult:
    exit_code: int | None        # None: still running at the deadline (then killed)
    output: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class ClientPeer:
    pki: Pki
    version: str
    workdir: str
    alg: str = "rsa"
    certs: tuple[str, ...] = ("client",)   # identities offered; () for none
    offer_pha: bool = False
    name: str = "client"
    _result: ClientResult | None = None
    _thread: threading.Thread | None = None
    _release: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """The server is done with this client: let it see the end of its input."""
        self._release.set()

    def argv(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def start(self, port: int, timeout: float = 10.0) -> None:
        """Start the client in the background (its result comes from ``wait``)."""
        def run() -> None:
            t0 = time.monotonic()
            prefix = os.path.join(self.workdir, f"{self.name}-client-{port}")
            with ManagedProcess(self.argv(port), prefix, env=self.env(), stdin=True) as proc:
                try:
                    proc.send(REQUEST)
                    # stdin stays open until the server is done: s_client and gnutls-cli shut the
                    # connection down at end of input, before reading what the server still sends.
                    self._release.wait(timeout)
                    proc.proc.stdin.close()
                except (OSError, AttributeError):
                    pass
                code = proc.wait(timeout)
                out = ""
            for suffix in (".out", ".err"):
                with open(prefix + suffix, encoding="utf-8", errors="replace") as fh:
                    out += fh.read()
            self._result = ClientResult(code, out, time.monotonic() - t0)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def wait(self, timeout: float = 20.0) -> ClientResult:
        if self._thread:
            self._thread.join(timeout)
        return self._result or ClientResult(None, "client did not finish", timeout)


def _ident(peer: ClientPeer, who: str):
    return peer.pki.identity(peer.alg, who)


@dataclass
class OpenSSLClient(ClientPeer):
    name: str = "openssl"

    def argv(self, port: int) -> list[str]:
        argv = [require("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                "-CAfile", _ident(self, "server").ca, "-verify_return_error", "-quiet",
                "-tls1_3" if self.version == "1.3" else "-tls1_2"]
        if self.certs:
            ident = _ident(self, self.certs[0])
            argv += ["-cert", ident.cert, "-key", ident.key]
        return argv + (["-enable_pha"] if self.offer_pha else [])


@dataclass
class CurlClient(ClientPeer):
    name: str = "curl"

    def argv(self, port: int) -> list[str]:
        argv = [require("curl"), "-sS", "--max-time", "8", "--resolve", f"localhost:{port}:127.0.0.1",
                "--cacert", _ident(self, "server").ca, "--tlsv1.3" if self.version == "1.3" else "--tlsv1.2",
                "--tls-max", self.version]
        if self.certs:
            ident = _ident(self, self.certs[0])
            argv += ["--cert", ident.cert, "--key", ident.key]
        return argv + [f"https://localhost:{port}/"]


@dataclass
class GnuTLSClient(ClientPeer):
    name: str = "gnutls"

    def argv(self, port: int) -> list[str]:
        v = "+VERS-TLS1.3" if self.version == "1.3" else "+VERS-TLS1.2"
        argv = [require("gnutls-cli"), "-p", str(port), "127.0.0.1", "--sni-hostname", "localhost",
                "--verify-hostname", "localhost", "--x509cafile", _ident(self, "server").ca,
                "--priority", f"NORMAL:-VERS-ALL:{v}"]
        if self.certs:
            ident = _ident(self, self.certs[0])
            argv += ["--x509certfile", ident.cert, "--x509keyfile", ident.key]
        return argv + (["--post-handshake-auth"] if self.offer_pha else [])


@dataclass
class PythonClient(ClientPeer):
    """Python's ssl client in a thread of this process."""
    name: str = "python"

    def start(self, port: int, timeout: float = 10.0) -> None:
        def run() -> None:
            t0 = time.monotonic()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            v = ssl.TLSVersion.TLSv1_3 if self.version == "1.3" else ssl.TLSVersion.TLSv1_2
            ctx.minimum_version = ctx.maximum_version = v
            ctx.load_verify_locations(_ident(self, "server").ca)
            if self.certs:
                ident = _ident(self, self.certs[0])
                ctx.load_cert_chain(ident.cert, ident.key)
            ctx.post_handshake_auth = self.offer_pha
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw, \
                        ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(REQUEST)
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                self._result = ClientResult(0, data.decode("latin-1"), time.monotonic() - t0)
            except (ssl.SSLError, OSError) as exc:
                self._result = ClientResult(1, f"{type(exc).__name__}: {exc}", time.monotonic() - t0)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()


CLIENTS = {"openssl": OpenSSLClient, "curl": CurlClient, "gnutls": GnuTLSClient, "python": PythonClient}


@dataclass
class ExternalClient(ClientPeer):
    """Whatever client connects (``certlab serve``): nothing to start, nothing to wait for; the
    result is what the wire showed."""
    name: str = "external"

    def start(self, port: int, timeout: float = 10.0) -> None:
        return None

    def wait(self, timeout: float = 20.0) -> ClientResult:
        return ClientResult(0, "", 0.0)
