"""The user's own server (``run --to HOST:PORT``): where to connect, the name to send, how its
certificate is checked, and the application check after the handshake."""
from __future__ import annotations

import ipaddress
import os
import re
import warnings
from dataclasses import dataclass

from cryptography import x509

from lab.play.observed import Observed

SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"   # Debian's ca-certificates bundle
HTTP_PORTS = (443, 8443)


class TargetError(ValueError):
    """A target that cannot be used as given, with the one-line reason."""


def address_label(host: str, port: int) -> str:
    """``HOST:PORT``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_sni(host: str) -> str | None:
    """The name a client sends for ``host`` when none is given: the host, unless it is an address."""
    return None if _is_ip(host) else host


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\s\[\]]+):(\d+)", text.strip())
    port = int(m.group(2) or m.group(4)) if m else 0
    if not m or not 0 < port < 65536:
        raise TargetError(f"{text!r} is not HOST:PORT (for IPv6, [ADDRESS]:PORT)")
    return (m.group(1) or m.group(3)), port


@dataclass(frozen=True)
class AppCheck:
    """What is sent after the handshake and how the answer is judged: an HTTP/1.1 request
    (status 400 or more is an application-level rejection), bytes with a regular expression
    the answer must match, or nothing (the handshake and the quiet after it decide)."""
    request: bytes | None = None
    expect: str | None = None
    http: bool = False

    def complete(self, data: bytes) -> bool:
        """Whether the answer so far can be judged: the pattern matched (later records cannot
        unmatch it); without a pattern, any answer."""
        return bool(data) and (self.expect is None or self.http or re.search(self.expect.encode(), data) is not None)

    @classmethod
    def http_get(cls, path: str, host: str) -> "AppCheck":
        return cls(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(), http=True)

    def judge(self, data: bytes) -> Observed:
        from lab.play.client import classify_response
        if self.request is None:
            came = f"the server sent {len(data)} bytes of application data unasked" if data else "nothing came after it"
            return Observed("success", when="on_first_read", response=data[:200].decode("latin-1") or None,
                            reason=f"no application check: the handshake completed and {came} "
                                   "(a TLS 1.3 server may still refuse the certificate on the first request: "
                                   "give --http PATH or --send BYTES)")
        if self.http or self.expect is None:
            return classify_response(data)
        if not data:
            return Observed("timeout", when="on_first_read", waiting_for=("application data",))
        ok = re.search(self.expect.encode(), data) is not None
        return Observed("success" if ok else "app_rejected", when="on_first_read",
                        response=data[:200].decode("latin-1"), reason=None if ok else answer_text(data))


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    sni: str | None
    server_ca: str | None      # None: the system's CA bundle
    insecure: bool
    app: AppCheck
    starttls: str | None = None   # the in-band upgrade before TLS (lab.transport.starttls)
    alpn: tuple[str, ...] = ()    # application protocols offered in the ClientHello

    @property
    def label(self) -> str:
        return address_label(self.host, self.port)

    @classmethod
    def of(cls, address: str, sni: str | None = None, server_ca: str | None = None, insecure: bool = False,
           http: str | None = None, send: str | None = None, expect: str | None = None,
           no_app: bool = False, starttls: str | None = None, user: str = "certlab",
           alpn: tuple[str, ...] = ()) -> "Target":
        """``user``: the name a protocol's own check logs in as (PostgreSQL's startup message)."""
        from lab.transport.starttls import StartTLSError, protocol_for
        host, port = parse_address(address)
        try:
            proto = protocol_for(starttls, port)
        except StartTLSError as exc:
            raise TargetError(str(exc)) from None
        if server_ca and insecure:
            raise TargetError("give --server-ca FILE or --insecure, not both")
        if server_ca and not os.path.isfile(server_ca):
            raise TargetError(f"--server-ca {server_ca}: no such file")
        if sum(bool(x) for x in (http, send, no_app)) > 1:
            raise TargetError("give one of --http PATH, --send BYTES or --no-app")
        if expect:
            try:
                re.compile(expect)
            except re.error as exc:
                raise TargetError(f"--expect {expect!r} is not a regular expression ({exc})") from None
        name = sni if sni is not None else default_sni(host)
        if send:
            app = AppCheck(send.encode("latin-1").decode("unicode_escape").encode("latin-1"), expect)
        elif http or (port in HTTP_PORTS and not no_app and not proto):
            app = AppCheck.http_get(http or "/", name or host)
        elif (proto or ("postgres" if "postgresql" in alpn else None)) in PROTOCOL_CHECKS and not no_app:
            request, pattern = PROTOCOL_CHECKS[proto or "postgres"]   # direct TLS PostgreSQL speaks it too
            app = AppCheck(request(user), pattern)
        else:
            app = AppCheck()
        return cls(host, port, name, server_ca, insecure, app, proto, tuple(alpn))

    def connect(self, timeout: float):
        """A connection to the target, upgraded in-band first when it speaks STARTTLS."""
        from lab.transport import PeerUnreachable, SocketTransport
        from lab.transport.starttls import StartTLSError, upgrade_client
        transport = SocketTransport(self.host, self.port, timeout)
        if not self.starttls:
            return transport
        try:
            return upgrade_client(self.starttls, transport, self.sni or self.host, timeout)[0]
        except StartTLSError as exc:
            transport.close()
            raise PeerUnreachable(f"{self.label}: {exc}") from None

    def check_server(self, chain: list[bytes]) -> str | None:
        """Why the server's chain is not trusted for this name (None: trusted, or --insecure)."""
        if self.insecure:
            return None
        if not chain:
            return "the server sent no certificate"
        from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
        bundle = self.server_ca or SYSTEM_CAS
        try:
            with open(bundle, "rb") as fh, warnings.catch_warnings():
                warnings.simplefilter("ignore")   # old roots in the system bundle (a zero serial number)
                store = Store(x509.load_pem_x509_certificates(fh.read()))
        except (OSError, ValueError) as exc:
            raise TargetError(f"cannot read the CA bundle {bundle} ({getattr(exc, 'strerror', None) or exc}): "
                              "give --server-ca FILE, or --insecure") from None
        subject = (x509.IPAddress(ipaddress.ip_address(self.host)) if self.sni is None and _is_ip(self.host)
                   else x509.DNSName(self.sni or self.host))
        certs = [x509.load_der_x509_certificate(c) for c in chain]
        try:
            PolicyBuilder().store(store).build_server_verifier(subject).verify(certs[0], certs[1:])
        except VerificationError as exc:
            leaf = certs[0]
            return (f"the server's certificate ({leaf.subject.rfc4514_string()}, issued by "
                    f"{leaf.issuer.rfc4514_string()}) is not trusted by {bundle} for {_name(subject)} ({exc})")
        except ValueError as exc:
            return f"the server's certificate cannot be checked: {exc}"
        return None


def answer_text(data: bytes) -> str:
    """An application's answer as a person reads it: a PostgreSQL ErrorResponse's message
    (its ``M`` field), else the first line."""
    if data[:1] == b"E" and b"\0M" in data:
        return data.split(b"\0M", 1)[1].split(b"\0", 1)[0].decode("utf-8", "replace")
    if len(data) > 7 and data[4] == 0xFF:   # a MySQL ERR packet: code, '#' and SQL state, message
        code, text = int.from_bytes(data[5:7], "little"), data[7:4 + int.from_bytes(data[:3], "little")]
        return f"ERROR {code}: " + (text[6:] if text[:1] == b"#" else text).decode("utf-8", "replace")
    return data.split(b"\n", 1)[0].decode("latin-1").strip()[:120] or "no answer"


def _mqtt_connect() -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s, client id "certlab"), which a broker
    answers with CONNACK: return code 0 accepted, 5 not authorized (MQTT 3.1.1 3.1, 3.2)."""
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + b"\x00\x07certlab"
    return b"\x10" + bytes([len(body)]) + body


def _mysql_login(user: str) -> bytes:
    """The MySQL/MariaDB login that follows the SSL request inside TLS: a HandshakeResponse41
    (sequence 2, after the greeting and the SSL request) with the same capabilities, ``user`` and
    an empty password, which the server answers with an OK packet (0x00) or ERR (0xff), as the
    "Connection Phase" of the MySQL client/server protocol documents."""
    from lab.transport.starttls import MYSQL_41, MYSQL_SECURE, MYSQL_SSL
    body = ((MYSQL_SSL | MYSQL_41 | MYSQL_SECURE).to_bytes(4, "little") + (1 << 24).to_bytes(4, "little")
            + b"\x21" + bytes(23) + user.encode() + b"\0" + b"\0")   # auth response of length 0
    return len(body).to_bytes(3, "little") + b"\x02" + body


def _pg_startup(user: str) -> bytes:
    """A PostgreSQL StartupMessage (protocol 3.0) for ``user`` and the database of that name."""
    body = (196608).to_bytes(4, "big") + b"user\0" + user.encode() + b"\0database\0" + user.encode() + b"\0\0"
    return (len(body) + 4).to_bytes(4, "big") + body


# After the upgrade, each protocol's own first question, and what a welcome looks like: the
# answer to it shows whether the server took the certificate (PostgreSQL's ``cert`` auth refuses
# only here, with an ErrorResponse naming the reason).
PROTOCOL_CHECKS = {
    "postgres": (_pg_startup, r"^R\x00\x00\x00\x08\x00\x00\x00\x00"),   # AuthenticationOk
    "smtp": (lambda _: b"EHLO certlab.test\r\n", r"^250"),
    "imap": (lambda _: b"a2 CAPABILITY\r\n", r"a2 OK"),
    # a managed IMAP server's login (Dovecot with a password-less passdb: the certificate decides)
    "imap-login": (lambda user: f"a2 LOGIN {user} x\r\n".encode(), r"a2 OK"),
    "pop3": (lambda _: b"CAPA\r\n", r"^\+OK"),
    "ftp": (lambda _: b"FEAT\r\n", r"^211"),
    "mysql": (_mysql_login, r"^[\x00-\xff]{3}\x03\x00"),        # OK packet, sequence 3
    "mqtt": (lambda _: _mqtt_connect(), r"^\x20\x02\x00\x00"),   # CONNACK, return code 0 (accepted)
    "nntp": (lambda _: b"CAPABILITIES\r\n", r"^101"),
}


def _name(subject) -> str:
    return str(subject.value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def for_peer(peer) -> "Target | None":
    """A managed server peer behind a protocol's preamble (``peer.starttls``: PostgreSQL) or
    speaking a protocol of its own over TLS (``peer.protocol``: MQTT) as a Target: the
    conversation upgrades as ``run --to --starttls`` does and the protocol's own check judges the
    login; None for an HTTP peer, which the HTTP probe judges."""
    if not (peer.starttls or peer.protocol):
        return None
    request, pattern = PROTOCOL_CHECKS[peer.protocol or peer.starttls]
    return Target("127.0.0.1", peer.port, "localhost", peer.pki.identity(peer.alg, "server").ca, False,
                  AppCheck(request(peer.login), pattern), peer.starttls)
