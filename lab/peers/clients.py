"""Client peers: real TLS clients run against the lab's server. Each runs once per
scenario, with one client certificate (or two from different CAs where the stack chooses), and
reports its exit status and what it printed: when did the client program learn of a rejection?"""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

from lab.peers.process import ManagedProcess, require
from lab.pki import LAB_PSK, Pki

REQUEST = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"


@dataclass
class ClientResult:
    exit_code: int | None        # None: still running at the deadline (then killed)
    output: str
    elapsed: float
    ran: bool = True             # False: certlab did not run the client (``serve``): only the wire tells

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
    features: frozenset[str] = frozenset()   # "anon": offer DH_anon suites; "psk": offer the lab's PSK
    name: str = "client"
    _result: ClientResult | None = None
    _thread: threading.Thread | None = None
    _release: threading.Event = field(default_factory=threading.Event)
    lacks: ClassVar[dict[str, str]] = {}   # scenario tag -> why this client cannot run it
    # What the program can hold at once, and how it chooses among what it holds (certificate choice)
    holds: ClassVar[str] = "one certificate (the first it is given)"
    # It leaves at a CertificateRequest and connects again with its choice made (browsers)
    reconnects: ClassVar[bool] = False
    chooses: ClassVar[str] = "it has no choice to make: it sends its one certificate when asked"
    _process: ManagedProcess | None = None

    def supports(self, mode: str) -> bool:
        return True   # a client has no server mode: every request is the scenario's to make

    def release(self) -> None:
        """The server is done with this client: let it see the end of its input."""
        self._release.set()

    def stop(self) -> None:
        """End the client program now (the run was interrupted)."""
        self._release.set()
        if self._process is not None:
            self._process.stop()

    def held_chains(self, setup) -> dict[str, list[bytes]]:
        """What the client was given, by name: each identity's chain (DER, leaf first)."""
        return {who: setup.chain(who) for who in self.certs}

    def pair_args(self, certs) -> list[str]:
        """CERT KEY CERT KEY ...: the files of each identity, for the clients of ours."""
        return [path for who in certs for path in (_ident(self, who).cert, _ident(self, who).key)]

    @property
    def finished(self) -> bool:
        """Whether the client program has ended (``wait`` then returns at once)."""
        return self._result is not None

    def first_per_key_type(self) -> list[str]:
        """The first certificate of each key type among ``certs``, in the order given: what a
        program on OpenSSL can hold at once (one per key type; another of the same type replaces it)."""
        from cryptography import x509
        kept: dict[str, str] = {}
        for who in self.certs:
            with open(_ident(self, who).cert, "rb") as fh:
                kind = type(x509.load_pem_x509_certificates(fh.read())[0].public_key()).__name__
            kept.setdefault(kind, who)
        return list(kept.values())

    def argv(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def start(self, port: int, timeout: float = 10.0) -> None:
        """Start the client in the background (its result comes from ``wait``). What keeps it
        from starting at all (a missing program: PeerUnavailable) is raised here, not in the thread."""
        argv = self.argv(port)

        def run() -> None:
            try:
                attempt()
            except OSError as exc:   # the program could not be started at all
                self._result = ClientResult(127, f"{self.name} could not be started: {exc}", 0.0)

        def attempt() -> None:
            t0 = time.monotonic()
            prefix = os.path.join(self.workdir, f"{self.name}-client-{port}")
            with ManagedProcess(argv, prefix, env=self.env(), stdin=True) as proc:
                self._process = proc
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
        """The client's result, or an exit code of None if it is still running after ``timeout``."""
        if self._thread:
            self._thread.join(timeout)
        return self._result or ClientResult(None, "client did not finish", timeout)


def _ident(peer: ClientPeer, who: str):
    return peer.pki.identity(peer.alg, who)


@dataclass
class OpenSSLClient(ClientPeer):
    name: str = "openssl"
    holds = "several (-xcert/-xkey, s_client's extended certificates)"
    chooses = ("s_client's certificate callback tries the last one given first and takes the first that "
               "SSL_check_chain finds usable (key type, signature algorithms; not the CA names or the extKeyUsage)")

    def argv(self, port: int) -> list[str]:
        argv = [require("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                "-CAfile", _ident(self, "server").ca, "-verify_return_error", "-quiet",
                "-tls1_3" if self.version == "1.3" else "-tls1_2"]
        if len(self.certs) == 1:
            ident = _ident(self, self.certs[0])
            argv += ["-cert", ident.cert, "-key", ident.key]
        for who in self.certs if len(self.certs) > 1 else ():   # several: s_client's "extended certificates"
            ident = _ident(self, who)
            argv += ["-xcert", ident.cert, "-xkey", ident.key]
        if "anon" in self.features:
            argv += ["-cipher", "ADH:@SECLEVEL=0"]
        if "psk" in self.features:
            argv += ["-psk_identity", LAB_PSK[0].decode(), "-psk", LAB_PSK[1].hex()]
        return argv + (["-enable_pha"] if self.offer_pha else [])


@dataclass
class CurlClient(ClientPeer):
    name: str = "curl"
    lacks = {"anon": "curl verifies the server's certificate; an anonymous suite has none",
             "psk": "curl has no option for a TLS PSK",
             "no-pha": "curl always offers post_handshake_auth (it enables it in OpenSSL)"}

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
        extra = (":+ANON-DH" if "anon" in self.features else "") + \
            (":+ECDHE-PSK:+PSK" if "psk" in self.features else "")
        argv = [require("gnutls-cli"), "-p", str(port), "127.0.0.1", "--sni-hostname", "localhost",
                "--verify-hostname", "localhost", "--x509cafile", _ident(self, "server").ca,
                "--priority", f"NORMAL:-VERS-ALL:{v}{extra}"]
        if "psk" in self.features:
            argv += ["--pskusername", LAB_PSK[0].decode(), "--pskkey", LAB_PSK[1].hex()]
        if self.certs:
            ident = _ident(self, self.certs[0])
            argv += ["--x509certfile", ident.cert, "--x509keyfile", ident.key]
        return argv + (["--post-handshake-auth"] if self.offer_pha else [])


@dataclass
class PythonClient(ClientPeer):
    """Python's ssl client in a thread of this process."""
    name: str = "python"
    holds = "one certificate per key type (load_cert_chain again replaces the one of the same type)"
    chooses = "OpenSSL picks the key type by the request's signature algorithms"
    lacks = {"rsa-kx": "Python's ssl client offers no RSA key exchange suites (its default cipher string)",
             "psk": "Python 3.11's ssl has no external PSK (set_psk_client_callback came in 3.13)"}

    def start(self, port: int, timeout: float = 10.0) -> None:
        def run() -> None:
            t0 = time.monotonic()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            v = ssl.TLSVersion.TLSv1_3 if self.version == "1.3" else ssl.TLSVersion.TLSv1_2
            ctx.minimum_version = ctx.maximum_version = v
            ctx.load_verify_locations(_ident(self, "server").ca)
            if "anon" in self.features:  # no server certificate to check
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                ctx.set_ciphers("ADH:@SECLEVEL=0")
            for who in self.first_per_key_type():
                ident = _ident(self, who)
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


@dataclass
class GoClient(ClientPeer):
    """Go's crypto/tls client; with several certificates it chooses by the server's request."""
    name: str = "go"
    holds = "several (tls.Config.Certificates)"
    chooses = "the first that CertificateRequestInfo.SupportsCertificate accepts (CA names, schemes); none: empty"
    lacks = {"dhe": "Go's crypto/tls has no finite-field DHE suites", "anon": "Go's crypto/tls has no anonymous suites",
             "psk": "Go's crypto/tls has no external PSK", "pha": "Go's crypto/tls has no post-handshake auth"}

    def argv(self, port: int) -> list[str]:
        from lab.peers.compiled import go_client_binary
        return [go_client_binary(), str(port), _ident(self, "server").ca, self.version, *self.pair_args(self.certs)]


@dataclass
class JavaClient(ClientPeer):
    """JSSE's client; its key manager chooses among the key store's entries by the CA names."""
    name: str = "java"
    holds = "a key store (PKCS#12, one entry per certificate)"
    chooses = "the X509KeyManager's chooseClientAlias: by key type and the request's issuers"
    lacks = {"anon": "JSSE disables anonymous suites (jdk.tls.disabledAlgorithms)",
             "psk": "JSSE has no external PSK", "pha": "JSSE (Java 17) has no post-handshake auth"}

    def argv(self, port: int) -> list[str]:
        from lab.peers.compiled import java_client_classes
        argv = [require("java"), "-cp", java_client_classes(), "LabClient", str(port), _ident(self, "server").ca]
        if not self.certs:
            return argv + [self.version]
        return argv + [self.version, self._keystore(), "changeit"]

    def _keystore(self) -> str:
        """All offered identities in one PKCS#12 key store (one entry each)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        path = os.path.join(self.workdir, f"client-{'-'.join(self.certs)}.p12")
        if not os.path.exists(path):
            entries = []
            for who in self.certs:
                ident = _ident(self, who)
                with open(ident.key, "rb") as fh:
                    key = serialization.load_pem_private_key(fh.read(), None)
                with open(ident.cert, "rb") as fh:
                    cert = x509.load_pem_x509_certificate(fh.read())
                entries.append((who.encode(), key, cert))
            data = _multi_entry_p12(entries)
            from lab.pki import write_private
            write_private(path, data)
        return path


def _multi_entry_p12(entries) -> bytes:
    """A PKCS#12 file with several key entries: cryptography writes one key per file, so the
    entries are written one by one and merged with keytool (shipped with the JDK)."""
    import subprocess
    from lab.children import scratch
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    with scratch("p12") as tmp:
        dest = os.path.join(tmp, "all.p12")
        for i, (name, key, cert) in enumerate(entries):
            src = os.path.join(tmp, f"{i}.p12")
            with open(src, "wb") as fh:
                fh.write(pkcs12.serialize_key_and_certificates(
                    name, key, cert, None, serialization.BestAvailableEncryption(b"changeit")))
            subprocess.run([require("keytool"), "-importkeystore", "-srckeystore", src, "-srcstoretype", "PKCS12",
                            "-srcstorepass", "changeit", "-destkeystore", dest, "-deststoretype", "PKCS12",
                            "-deststorepass", "changeit", "-noprompt"], check=True, capture_output=True, timeout=60)
        with open(dest, "rb") as fh:
            return fh.read()


@dataclass
class NSSClient(ClientPeer):
    """NSS's tstclnt. Its database holds every offered identity; NSS picks among them by the
    server's CA names (``-n`` would force one). ``-O`` makes certificate selection synchronous
    (the asynchronous hook races against some servers). The request comes from a file (``-A``):
    reading stdin, tstclnt never leaves, even after the server has closed."""
    name: str = "nss"
    lacks = {"anon": "NSS has no anonymous TLS suites"}
    holds = "a database (every certificate, with its key)"
    chooses = "NSS_GetClientAuthData: the first user certificate whose issuer the request names"

    def argv(self, port: int) -> list[str]:
        from lab.peers.nss import nss_database
        v = "tls1.3" if self.version == "1.3" else "tls1.2"
        db = nss_database(self.pki, self.alg, self.workdir, *self.certs)
        argv = [require("tstclnt"), "-h", "127.0.0.1", "-p", str(port), "-a", "localhost", "-d", f"sql:{db}",
                "-V", f"{v}:{v}", "-O", "-A", self._request_file()]
        if len(self.certs) == 1:
            argv += ["-n", self.certs[0]]
        if "psk" in self.features:
            argv += ["-z", f"0x{LAB_PSK[1].hex()}:{LAB_PSK[0].decode()}"]
        return argv + (["-E"] if self.offer_pha else [])

    def _request_file(self) -> str:
        path = os.path.join(self.workdir, "nss-request.txt")
        if not os.path.exists(path):
            with open(path, "wb") as fh:
                fh.write(REQUEST)
        return path


CLIENTS = {"openssl": OpenSSLClient, "curl": CurlClient, "gnutls": GnuTLSClient, "python": PythonClient,
           "go": GoClient, "java": JavaClient, "nss": NSSClient}


def all_clients() -> dict[str, type[ClientPeer]]:
    """Every client stack: these and those of ``lab.peers.appclients``."""
    from lab.peers.appclients import APP_CLIENTS
    return {**CLIENTS, **APP_CLIENTS}


@dataclass
class ExternalClient(ClientPeer):
    """Whatever client connects (``certlab serve``): nothing to start, nothing to wait for; no
    program result exists, so the result is what the wire showed."""
    name: str = "external"
    reconnects = True   # whatever connects may be a browser
    held: dict[str, list[bytes]] = field(default_factory=dict)   # serve --holds: the user's certificates

    def held_chains(self, setup) -> dict[str, list[bytes]]:
        return self.held

    def start(self, port: int, timeout: float = 10.0) -> None:
        return None

    def wait(self, timeout: float = 20.0) -> ClientResult:
        return ClientResult(None, "", 0.0, ran=False)


def client_for(stack: str, sc, pki: Pki, version: str, workdir: str) -> ClientPeer:
    """The client peer for a server-role scenario: it offers post-handshake auth when the scenario
    says so, two certificates from different CAs for a ``two-certs`` scenario, and all of
    ``lab.pki.WALLET`` for a certificate-choice scenario (tag ``wallet``): each holds what it can
    (``holds``) and chooses as it does (``chooses``)."""
    from lab.pki import WALLET
    certs = WALLET if "wallet" in sc.tags else ("client", "other-client") if "two-certs" in sc.tags else ("client",)
    return all_clients()[stack](pki, version, workdir, certs=certs, offer_pha="pha" in sc.tags,
                          features=frozenset(sc.tags & {"anon", "psk"}))
