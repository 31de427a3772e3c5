"""Client programs people point at an mTLS server, beyond the TLS libraries' own tools: Node.js
(``tls.connect``), Erlang/OTP ``ssl``, wget, tlslite-ng (small clients of ours in ``src/``,
written as each documentation shows client certificates, for the libraries without a client
program) and headless Chromium. Each declares what it can hold and how it chooses (the certificate-choice scenarios),
and reports a rejection its own way: its exit status and message, which the base class records."""
from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import sys
from dataclasses import dataclass, field

from lab.peers.clients import ClientPeer, _ident
from lab.peers.libraries import SRC
from lab.peers.process import PeerUnavailable, require
from lab.peers.registry import ERLANG_SSL


@dataclass
class NodeClient(ClientPeer):
    name: str = "node"
    lacks = {"anon": "Node.js verifies the server's certificate; an anonymous suite has none",
             "psk": "the client of ours gives Node.js no pskCallback",
             "pha": "Node.js has no post-handshake auth (no API to enable it in OpenSSL)"}
    holds = "one certificate per key type (its cert and key arrays: Node's OpenSSL keeps one per type)"
    chooses = "OpenSSL picks the key type by the request's signature algorithms"

    def argv(self, port: int) -> list[str]:
        return [require("node"), os.path.join(SRC, "node_client.js"), str(port), _ident(self, "server").ca,
                self.version, *self.pair_args(self.first_per_key_type())]


@dataclass
class ErlangClient(NodeClient):
    name: str = "erlang"
    lacks = {"anon": "the client of ours verifies the server's certificate", "psk": "the client of ours offers no PSK",
             "rsa-kx": "Erlang/OTP ssl's default cipher suites have no RSA key exchange",
             "pha": "Erlang/OTP ssl has no post-handshake auth"}
    holds = "several (certs_keys, OTP 25)"
    chooses = "ssl's own selection among certs_keys by the request's CA names and signature algorithms"

    def argv(self, port: int) -> list[str]:
        if not glob.glob(ERLANG_SSL):
            raise PeerUnavailable("Erlang's ssl application is not installed; run scripts/setup "
                                  "(apt-get install erlang-ssl erlang-public-key erlang-crypto erlang-asn1)")
        return [require("escript"), os.path.join(SRC, "erlang_client.escript"), str(port), _ident(self, "server").ca,
                self.version, *self.pair_args(self.certs)]


@dataclass
class TlsliteClient(NodeClient):
    name: str = "tlslite"
    lacks = {"anon": "the client of ours offers no anonymous suite", "psk": "the client of ours offers no PSK",
             "pha": "the client of ours does not offer post-handshake auth"}
    holds = "one certificate chain (handshakeClientCert)"

    def argv(self, port: int) -> list[str]:
        return [sys.executable, os.path.join(SRC, "tlslite_client.py"), str(port), _ident(self, "server").ca,
                self.version, *self.pair_args(self.certs[:1])]


@dataclass
class WgetClient(NodeClient):
    """GNU wget (built with GnuTLS on Debian): ``--certificate``/``--private-key``, one of each."""
    name: str = "wget"
    lacks = {"anon": "wget verifies the server's certificate; an anonymous suite has none",
             "psk": "wget has no option for a TLS PSK", "pha": "wget does not offer post-handshake auth"}
    holds = "one certificate (--certificate, --private-key)"

    def argv(self, port: int) -> list[str]:
        argv = [require("wget"), "-4", "-q", "-O", "-", "--tries=1", "--timeout=8", "--no-hsts",
                f"--ca-certificate={_ident(self, 'server').ca}",
                f"--secure-protocol=TLSv1_{self.version[-1]}"]
        if self.certs:
            ident = _ident(self, self.certs[0])
            argv += [f"--certificate={ident.cert}", f"--private-key={ident.key}"]
        return argv + [f"https://localhost:{port}/"]


CHROMIUM_POLICIES = "/etc/chromium/policies/managed"   # the only place Chromium on Linux reads policies from
# One file for every Chromium that certlab runs at once: Chromium reads each file of the folder but
# keeps one AutoSelectCertificateForUrls list, so two files would leave one browser without its rule
# (it then waits for a dialog that headless never shows).
CHROMIUM_POLICY = os.path.join(CHROMIUM_POLICIES, "certlab.json")


def _edit_policy(add: str | None = None, remove: str | None = None) -> None:
    """Add or remove one AutoSelectCertificateForUrls rule in certlab's policy file, under a lock
    (other certlab processes edit it too); the file goes when its last rule does."""
    os.makedirs(CHROMIUM_POLICIES, exist_ok=True)
    with open(os.path.join(CHROMIUM_POLICIES, ".certlab.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(CHROMIUM_POLICY) as fh:
                rules = json.load(fh).get("AutoSelectCertificateForUrls", [])
        except (OSError, ValueError):
            rules = []
        rules = [r for r in rules if r != remove] + ([add] if add and add not in rules else [])
        if not rules:
            if os.path.exists(CHROMIUM_POLICY):
                os.unlink(CHROMIUM_POLICY)
            return
        tmp = f"{CHROMIUM_POLICY}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"AutoSelectCertificateForUrls": rules}, fh)
        os.replace(tmp, CHROMIUM_POLICY)


@dataclass
class ChromiumClient(ClientPeer):
    """Debian's Chromium, headless (``--dump-dom``), with an NSS database (``$HOME/.pki/nssdb``)
    that trusts the lab CA and holds every certificate it is given, and the managed policy that
    lets it choose one without a dialog: ``AutoSelectCertificateForUrls`` for this server's URL
    with an empty filter (``filter``: a policy filter such as ``{"ISSUER": {"CN": "..."}}``)."""
    name: str = "chromium"
    filter: dict = field(default_factory=dict)
    lacks = {"anon": "Chromium has no anonymous suites", "psk": "Chromium offers no external PSK",
             "pha": "Chromium does not offer post-handshake auth",
             "dhe": "Chromium offers no finite-field DHE suites (its ClientHello has none)"}
    holds = "an NSS database (every certificate, with its key)"
    reconnects = True
    chooses = ("the AutoSelectCertificateForUrls policy picks among the certificates whose issuer the "
               "request names (all of them for an empty list)")
    _rule: str = ""

    def argv(self, port: int) -> list[str]:
        from lab.peers.nss import nss_database
        if os.geteuid() != 0:
            raise PeerUnavailable(f"Chromium reads policies only from {CHROMIUM_POLICIES}: run certlab as root "
                                  "for the chromium client")
        home = os.path.join(self.workdir, f"chromium-home-{port}")
        os.makedirs(os.path.join(home, ".pki"), exist_ok=True)
        db = nss_database(self.pki, self.alg, self.workdir, *self.certs)
        if not os.path.exists(os.path.join(home, ".pki", "nssdb")):   # a copy of its own: Chromium writes to it
            shutil.copytree(db, os.path.join(home, ".pki", "nssdb"))
        self._home = home
        self._rule = json.dumps({"pattern": f"https://localhost:{port}", "filter": self.filter})
        _edit_policy(add=self._rule)
        return [require("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                f"--user-data-dir={os.path.join(home, 'profile')}", "--dump-dom", f"https://localhost:{port}/"]

    def env(self) -> dict[str, str]:
        return {"HOME": getattr(self, "_home", self.workdir)}

    def wait(self, timeout: float = 20.0):
        """The server is done with it when it waits: the rule goes, finished or not (a browser
        that has not left by the deadline is stopped by its thread)."""
        try:
            return super().wait(timeout)
        finally:
            self._drop_rule()

    def stop(self) -> None:
        super().stop()
        self._drop_rule()

    def _drop_rule(self) -> None:
        if self._rule:
            rule, self._rule = self._rule, ""
            _edit_policy(remove=rule)


APP_CLIENTS = {"node": NodeClient, "erlang": ErlangClient, "tlslite": TlsliteClient, "wget": WgetClient,
               "chromium": ChromiumClient}
