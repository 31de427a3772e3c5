"""Server peers: real TLS servers as context managers on free loopback ports, in a client-auth
mode (none, optional, required, pha) and pinned to one TLS version."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lab.peers.process import ManagedProcess, PeerUnavailable, PortTaken, free_port, require
from lab.pki import Pki

# OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
VERSION_FLAGS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}
MODES = ("none", "optional", "required", "required-crl", "pha", "pha-required")
BASIC_MODES = ("none", "optional", "required", "required-crl")
TLS12_13 = ("1.2", "1.3")


def canonical_mode(mode: str) -> str:
    """The mode a server runs: required-crl-expired is required-crl (with another CRL file)."""
    return "required-crl" if mode == "required-crl-expired" else mode


@dataclass
class ServerPeer:
    pki: Pki
    version: str
    mode: str
    workdir: str
    alg: str = "rsa"
    port: int = 0
    name: str = "server"
    proc: ManagedProcess | None = None
    backend: Any = None          # the application behind a proxy (modes proxy, proxy-no-ca)
    responder: Any = None        # the OCSP responder of mode required-ocsp
    stale_crl: bool = False      # mode required-crl-expired: required-crl with a CRL past its nextUpdate
    # A folder outside certlab's own (lab.children.scratch_folder), which a daemon running as
    # another user can enter (its data, its queue); removed when the peer stops
    scratch: str = ""

    def __post_init__(self) -> None:
        self.stale_crl = self.stale_crl or self.mode == "required-crl-expired"
        self.mode = canonical_mode(self.mode)

    @property
    def crl_file(self) -> str:
        """The CRL of mode required-crl: crl.pem, or the expired one."""
        return self.pki.crl_expired if self.stale_crl else self.pki.crl

    def __enter__(self) -> "ServerPeer":
        """Start the program on a free port; a port another program took between our probe and
        the peer's bind (another certlab running at once) is given up for a new one."""
        for attempt in range(3):
            try:
                self._start()
                return self
            except PortTaken:
                self.__exit__()
                if attempt == 2:
                    raise
            except BaseException:
                self.__exit__()
                raise
        return self

    def _start(self) -> "ServerPeer":
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.stop()
        for helper in ("backend", "responder"):
            if getattr(self, helper) is not None:
                getattr(self, helper).__exit__()
                setattr(self, helper, None)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = ""

    def _ocsp_url(self) -> str:
        """Mode required-ocsp: a responder of ours started, its URL; required-ocsp-unknown: one
        that does not know the lab client certificate; required-ocsp-unreachable: a URL where
        nothing answers."""
        from lab.peers.ocsp import OcspResponder, unreachable_url
        if self.mode == "required-ocsp-unreachable":
            return unreachable_url()
        self.responder = OcspResponder(self.pki, os.path.join(self.workdir, f"{self.name}-ocsp"),
                                       unknown=("client.crt",) if self.mode == "required-ocsp-unknown" else ()).__enter__()
        return self.responder.url

    def _prepare(self, program: str | None) -> tuple[str | None, str]:
        """Before a configured peer starts: its program (None: none to find), the mode checked, a
        free port, and its configuration folder (``_config_folder``)."""
        exe = require(program) if program else None
        self._check_mode()
        self.port = free_port()
        return exe, self._config_folder()

    def _config_folder(self) -> str:
        """The peer's own folder, with the PKI files it may need linked under fixed names
        (server.crt, server.key, ca.crt, other-ca.crt, crl.pem): a configuration names only those."""
        srv = self.pki.identity(self.alg, "server")
        folder = os.path.join(self.workdir, f"{self.name}-{self.port}")
        os.makedirs(folder, exist_ok=True)
        linked(folder, server_crt=srv.cert, server_key=srv.key, ca_crt=srv.ca, crl_pem=self.crl_file,
               other_ca_crt=self.pki.identity(self.alg, "other-client").ca)
        return folder

    def _backend_port(self) -> int:
        """Start the echoing application a proxy forwards to (``lab.peers.backend``); its port."""
        from lab.peers.backend import EchoBackend
        self.backend = EchoBackend().__enter__()
        return self.backend.port

    def supports(self, mode: str) -> bool:
        return mode in ("none", "optional", "required")

    # A peer behind a protocol's own preamble (lab.transport.starttls), and the user its check logs in as
    starttls: ClassVar[str | None] = None
    protocol: ClassVar[str | None] = None   # the application protocol whose check judges the login (mqtt)
    login: ClassVar[str] = "certlab"

    # Features this stack does not have at all (scenario tags), with the reason: such scenarios
    # are skipped and say why, rather than failing as if the stack broke an RFC rule.
    lacks: ClassVar[dict[str, str]] = {}

    def _check_mode(self) -> None:
        if not self.supports(self.mode):
            raise PeerUnavailable(f"{self.name} cannot run mode {self.mode} in TLS {self.version}")

    def _launch(self, argv: list[str], *, stdin: bool = False, ready_timeout: float = 15.0,
                loopback_only: bool = False, cwd: str | None = None) -> None:
        """Start the server program and wait until it listens on ``self.port``; ``loopback_only``
        confines a program with no bind option (it would listen on every address) to loopback."""
        env = None
        if loopback_only:
            from lab.peers.build import loopback_only_env
            env = loopback_only_env()
        self.proc = ManagedProcess(argv, os.path.join(self.workdir, f"{self.name}-{self.port}"), port=self.port,
                                   stdin=stdin, ready_timeout=ready_timeout, env=env, cwd=cwd)
        self.proc.__enter__()

    def hooks(self) -> dict:
        """Actions a scenario's Trigger steps can ask of this peer."""
        return {}


@dataclass
class OpenSSLServer(ServerPeer):
    """``openssl s_server -www`` (answers an HTTP request with its status page, HTTP/1.0 200, like
    the other stacks), verifying with -verify_return_error.
    Mode ``renegotiation`` (TLS 1.2) runs s_server's interactive mode instead: the line ``R``
    on its stdin requests the client certificate in a new handshake."""
    name: str = "openssl"

    def supports(self, mode: str) -> bool:
        return mode in ("none", "optional", "required", "required-crl") or \
            (mode == "renegotiation" and self.version == "1.2") or (mode == "pha" and self.version == "1.3")

    def _start(self) -> "OpenSSLServer":
        exe = require("openssl")
        self._check_mode()
        srv = self.pki.identity(self.alg, "server")
        self.port = free_port()
        verify = {"none": [], "optional": ["-verify", "4"], "required": ["-Verify", "4"], "renegotiation": [],
                  "pha": [], "required-crl": ["-Verify", "4", "-CRL", self.crl_file, "-crl_check"]}[self.mode]
        interactive = self.mode in ("renegotiation", "pha")
        io_mode = [] if interactive else ["-www"]
        argv = [exe, "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", srv.cert, "-key", srv.key,
                "-CAfile", srv.ca, *verify, "-verify_return_error", *io_mode,
                VERSION_FLAGS[self.version], "-cipher", "ALL" if self.version in ("1.2", "1.3") else "ALL:@SECLEVEL=0",
                "-no_resumption_on_reneg"]
        self._launch(argv, stdin=True)
        return self

    def hooks(self) -> dict:
        """s_server's interactive commands: ``R`` renegotiates asking for a certificate, ``c``
        sends a post-handshake CertificateRequest; any other line is sent to the client."""
        if self.mode not in ("renegotiation", "pha") or self.proc is None:
            return {}
        proc = self.proc

        def respond() -> None:
            time.sleep(0.3)  # let s_server read (and judge) what we just sent before it answers
            proc.send(b"HTTP/1.0 200 OK\r\n\r\nanswered\n")
        return {"renegotiate": lambda: proc.send(b"R\n"), "request_certificate": lambda: proc.send(b"c\n"),
                "respond": respond}



@dataclass
class PythonServer(ServerPeer):
    """Python's ssl (OpenSSL underneath) in a thread of this process: the embedded default."""
    name: str = "python"
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def supports(self, mode: str) -> bool:
        return mode in MODES and (not mode.startswith("pha") or self.version == "1.3")

    def _context(self) -> ssl.SSLContext:
        srv = self.pki.identity(self.alg, "server")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated; the lab tests them on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            v = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
                 "1.3": ssl.TLSVersion.TLSv1_3}[self.version]
            ctx.minimum_version = ctx.maximum_version = v
        ctx.load_cert_chain(srv.cert, srv.key)
        ctx.load_verify_locations(srv.ca)
        ctx.set_ciphers("ALL" if self.version in ("1.2", "1.3") else "ALL:@SECLEVEL=0")
        try:
            ctx.load_dh_params(self.pki.dh_parameters)
        except FileNotFoundError:  # no openssl program: this server offers no DHE
            pass
        ctx.verify_mode = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED,
                           "required-crl": ssl.CERT_REQUIRED, "pha": ssl.CERT_REQUIRED,
                           "pha-required": ssl.CERT_REQUIRED}[self.mode]
        if self.mode == "required-crl":
            ctx.load_verify_locations(self.crl_file)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        if self.mode.startswith("pha"):
            ctx.post_handshake_auth = True
        return ctx

    def _start(self) -> "PythonServer":
        self._check_mode()
        ctx = self._context()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(ctx,), daemon=True)
        self._thread.start()
        return self

    def _serve(self, ctx: ssl.SSLContext) -> None:
        assert self._sock
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    if self.mode.startswith("pha"):
                        tls.verify_client_post_handshake()
                        tls.sendall(b"HTTP/1.0 100 Continue\r\n\r\n")
                        tls.recv(4096)
                    peer = tls.getpeercert() or {}
                    who = ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn) or "-"
                    tls.sendall(b"HTTP/1.0 200 OK\r\n\r\nclient=" + who.encode() + b"\n")
                    try:  # a clean close keeps the session resumable (OpenSSL drops it otherwise)
                        tls.settimeout(1.0)
                        tls.unwrap()
                    except (ssl.SSLError, OSError, ValueError):
                        pass
            except (ssl.SSLError, OSError, ValueError) as exc:
                self.errors.append(str(exc))
            finally:
                conn.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._sock:
            self._sock.close()
        if self._thread:
            self._thread.join(5)


# Every path in the configuration is a fixed name relative to nginx's prefix folder (-p): the PKI
# files are linked in under those names, so no folder name (spaces, ';', '$', quotes, newlines)
# ever reaches nginx's parser, which has no quoting for '$' in directives that take variables.
NGINX_CONF = """daemon off; master_process off; worker_processes 1; pid nginx.pid;
error_log error.log info; events {{ worker_connections 64; }}
http {{ client_body_temp_path body; proxy_temp_path proxy; fastcgi_temp_path fcgi;
  uwsgi_temp_path uwsgi; scgi_temp_path scgi; access_log access.log;
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate server.crt; ssl_certificate_key server.key;
    ssl_protocols {protocols}; ssl_ciphers ALL; ssl_client_certificate {named}; ssl_verify_client {verify};
    ssl_verify_depth 4; ssl_dhparam dh.pem; {crl}
    location / {{ {location} }} }} }}
"""
NGINX_ANSWER = 'default_type text/plain; return 200 "verify=$ssl_client_verify dn=$ssl_client_s_dn\\n";'
# As nginx's documentation forwards the client's identity (proxy_set_header replaces a header of
# the same name that the client sent).
NGINX_PROXY = ("proxy_pass http://127.0.0.1:{port}; proxy_set_header X-SSL-Client-Verify $ssl_client_verify; "
               "proxy_set_header X-SSL-Client-DN $ssl_client_s_dn; "
               "proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;")
PROXY_MODES = ("proxy", "proxy-no-ca", "proxy-append")   # proxy-append: a header added, not set (spoofable)
# required-ocsp-unknown: the responder has no record of the lab client certificate ("unknown")
OCSP_MODES = ("required-ocsp", "required-ocsp-unreachable", "required-ocsp-unknown")
# names-differ: the CertificateRequest names the Other CA while the lab CA is trusted too
# (Apache SSLCADNRequestFile, nginx ssl_trusted_certificate, HAProxy ca-verify-file)
NAMES_DIFFER = "names-differ"


def linked(folder: str, **files: str) -> None:
    """Link each file into folder under a fixed name, so that a configuration names only those."""
    for name, target in files.items():
        stem, ext = name.rsplit("_", 1)   # other_ca_crt: other-ca.crt
        link = os.path.join(folder, f"{stem.replace('_', '-')}.{ext}")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(target), link)


@dataclass
class NginxServer(ServerPeer):
    """nginx: completes the handshake and judges the client certificate in HTTP (400 on failure)."""
    name: str = "nginx"

    def supports(self, mode: str) -> bool:
        # proxy-append: nginx's proxy_set_header always replaces the client's header; it cannot append
        return mode in ("none", "optional", "required", "required-crl", *PROXY_MODES, *OCSP_MODES, NAMES_DIFFER) \
            and mode != "proxy-append"

    def _start(self) -> "NginxServer":
        exe = require("nginx")
        self.port = free_port()
        folder = self._config_folder()
        linked(folder, dh_pem=self.pki.dh_parameters)
        verify = {"none": "off", "optional": "optional", "required": "on", "required-crl": "on", "proxy": "optional",
                  "proxy-no-ca": "optional_no_ca", "required-ocsp": "on", "required-ocsp-unreachable": "on",
                  "required-ocsp-unknown": "on",
                  NAMES_DIFFER: "on"}[self.mode]
        crl = "ssl_crl crl.pem;" if self.mode == "required-crl" else \
            f"ssl_ocsp on; ssl_ocsp_responder {self._ocsp_url()};" if self.mode in OCSP_MODES else \
            "ssl_trusted_certificate ca.crt;" if self.mode == NAMES_DIFFER else ""
        location = NGINX_PROXY.format(port=self._backend_port()) if self.mode in PROXY_MODES else NGINX_ANSWER
        conf = NGINX_CONF.format(port=self.port, verify=verify, location=location,
                                 named="other-ca.crt" if self.mode == NAMES_DIFFER else "ca.crt",
                                 protocols="TLSv1.3" if self.version == "1.3" else "TLSv1.2",
                                 crl=crl)
        with open(os.path.join(folder, "nginx.conf"), "w") as fh:
            fh.write(conf)
        self._launch([exe, "-p", folder + os.sep, "-e", "stderr.log", "-c", "nginx.conf"])
        return self


@dataclass
class GnuTLSServer(ServerPeer):
    """gnutls-serv --echo. It has no bind option and listens on every address; the lab only ever
    connects to it over loopback (run it in a network namespace for strict isolation)."""
    name: str = "gnutls"

    def supports(self, mode: str) -> bool:
        return mode in ("none", "optional", "required", "required-crl") or \
            (mode in ("pha", "pha-required") and self.version == "1.3")

    def hooks(self) -> dict:
        """In --echo mode gnutls-serv re-authenticates (post-handshake auth) when the client sends
        the line ``**REAUTH**``."""
        return {"request_certificate": lambda: b"**REAUTH**\n"} if self.mode.startswith("pha") else {}

    def _start(self) -> "GnuTLSServer":
        exe = require("gnutls-serv")
        srv = self.pki.identity(self.alg, "server")
        self.port = free_port()
        mode = {"none": ["--disable-client-cert"], "optional": ["--verify-client-cert"],
                "pha": ["--disable-client-cert", "--verify-client-cert"],
                "pha-required": ["--disable-client-cert", "--verify-client-cert"],
                "required": ["--require-client-cert", "--verify-client-cert"],
                "required-crl": ["--require-client-cert", "--verify-client-cert",
                                 "--x509crlfile", self.crl_file]}[self.mode]
        version = "+VERS-TLS1.3" if self.version == "1.3" else "+VERS-TLS1.2"
        argv = [exe, "--port", str(self.port), "--x509certfile", srv.cert, "--x509keyfile", srv.key,
                "--x509cafile", srv.ca, *mode, "--priority", f"NORMAL:-VERS-ALL:{version}:+RSA:+DHE-RSA",
                "--echo", "-q"]
        self._launch(argv, loopback_only=True)   # gnutls-serv has no bind option
        return self



SERVERS = {"openssl": OpenSSLServer, "python": PythonServer, "nginx": NginxServer, "gnutls": GnuTLSServer}


def server_classes() -> dict:
    """Every server stack, including those compiled on first use."""
    from lab.peers.compiled import GoServer, JavaServer
    from lab.peers.nss import NSSServer
    from lab.peers.httpd import HTTPD_SERVERS
    from lab.peers.libraries import LIBRARY_SERVERS
    from lab.peers.databases import DATABASE_SERVERS
    from lab.peers.protocols import PROTOCOL_SERVERS
    from lab.peers.relays import RELAY_SERVERS
    return {**SERVERS, "go": GoServer, "java": JavaServer, "nss": NSSServer, **HTTPD_SERVERS, **RELAY_SERVERS,
            **LIBRARY_SERVERS, **PROTOCOL_SERVERS, **DATABASE_SERVERS}
