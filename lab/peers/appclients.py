"""Client programs people point at an mTLS server, beyond the TLS libraries' own tools: Node.js
(``tls.connect``), Erlang/OTP ``ssl``, wget and tlslite-ng (small clients of ours in ``src/``,
written as each documentation shows client certificates, for the libraries without a client
program). Each declares what it can hold and how it chooses (the certificate-choice scenarios),
and reports a rejection its own way: its exit status and message, which the base class records."""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass

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
                self.version, *self._pairs(self.first_per_key_type())]

    def _pairs(self, certs) -> list[str]:
        out = []
        for who in certs:
            ident = _ident(self, who)
            out += [ident.cert, ident.key]
        return out


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
                self.version, *self._pairs(self.certs)]


@dataclass
class TlsliteClient(NodeClient):
    name: str = "tlslite"
    lacks = {"anon": "the client of ours offers no anonymous suite", "psk": "the client of ours offers no PSK",
             "pha": "the client of ours does not offer post-handshake auth"}
    holds = "one certificate chain (handshakeClientCert)"

    def argv(self, port: int) -> list[str]:
        return [sys.executable, os.path.join(SRC, "tlslite_client.py"), str(port), _ident(self, "server").ca,
                self.version, *self._pairs(self.certs[:1])]


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


APP_CLIENTS = {"node": NodeClient, "erlang": ErlangClient, "tlslite": TlsliteClient, "wget": WgetClient}
