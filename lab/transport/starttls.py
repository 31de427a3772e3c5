"""In-band upgrades to TLS (``--starttls PROTO``): the plaintext preamble each protocol speaks
before its TLS handshake, as the client (``run --to``) and as the server (``serve``).

SMTP (RFC 3207), IMAP (RFC 3501 6.2.1), POP3 (RFC 2595 4), FTP (RFC 4217 AUTH TLS), NNTP
(RFC 4642), XMPP (RFC 6120 5), LDAP (RFC 4511 4.14 StartTLS extended operation), PostgreSQL
(SSLRequest, protocol docs 55.2.10) and MySQL/MariaDB (the SSL request packet of the connection
phase). Each exchange is recorded as flights, so the pcap holds the preamble and the TLS after
it; bytes read past the preamble (a MySQL client sends its ClientHello without waiting) are
handed back to the TLS conversation first (``Prefixed``). No library speaks just the upgrade
of all of these without the rest of each protocol, so the few lines each are written here."""
from __future__ import annotations

import re
from collections.abc import Callable

from lab.capture.flight import Flight
from lab.transport import Transport

PORTS = {25: "smtp", 587: "smtp", 143: "imap", 110: "pop3", 21: "ftp", 119: "nntp", 5222: "xmpp",
         389: "ldap", 5432: "postgres", 3306: "mysql"}
PG_SSL_REQUEST = bytes.fromhex("0000000804d2162f")          # length 8, code 80877103
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
MYSQL_SSL, MYSQL_41, MYSQL_SECURE = 0x0800, 0x0200, 0x8000
MAX_PREAMBLE = 1 << 16
XMPP_TLS = b"urn:ietf:params:xml:ns:xmpp-tls"


class StartTLSError(Exception):
    """The server or client did not agree to upgrade, with the one-line reason."""


def protocol_for(name: str | None, port: int) -> str | None:
    """The protocol asked for, or the one the port is known for; None (and "none"): TLS from the
    first byte, as PostgreSQL 17's direct TLS on 5432 (with ALPN ``postgresql``)."""
    if name == "none":
        return None
    if name and name not in PROTOCOLS:
        raise StartTLSError(f"unknown --starttls {name!r}; choose from {', '.join(sorted(PROTOCOLS))}")
    return name or PORTS.get(port)


class Prefixed(Transport):
    """A transport that first gives back bytes read ahead during the preamble."""

    def __init__(self, inner: Transport, rest: bytes) -> None:
        self.inner, self.rest = inner, rest
        self.preamble: list[Flight] = []     # the plaintext exchange before TLS, for the pcap
        self.local, self.remote = getattr(inner, "local", None), getattr(inner, "remote", None)

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes | None:
        if self.rest:
            data, self.rest = self.rest, b""
            return data
        return self.inner.recv(timeout)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class _Wire:
    """The preamble's reads and writes, recorded as flights; ``from_client`` is our side's."""

    def __init__(self, transport: Transport, we_are_client: bool, timeout: float, proto: str) -> None:
        self.t, self.us, self.timeout, self.proto = transport, we_are_client, timeout, proto
        self.buf, self.flights = b"", []

    def send(self, data: bytes) -> None:
        self.t.send(data)
        self.flights.append(Flight(self.us, data, f"{self.proto}: {_show(data)}"))

    def _more(self) -> None:
        data = self.t.recv(self.timeout)
        if data is None:
            raise StartTLSError(f"{self.proto}: no answer within {self.timeout:g} s during the upgrade")
        if not data:
            raise StartTLSError(f"{self.proto}: the peer closed the connection during the upgrade")
        self.flights.append(Flight(not self.us, data, f"{self.proto}: {_show(data)}"))
        self.buf += data
        if len(self.buf) > MAX_PREAMBLE:
            raise StartTLSError(f"{self.proto}: more than {MAX_PREAMBLE} bytes without the upgrade")

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            self._more()
        out, _, self.buf = self.buf.partition(b"\n")
        return out.rstrip(b"\r")

    def reply(self) -> bytes:
        """A numbered reply (SMTP, FTP, NNTP): its lines up to the one without a dash after the code."""
        lines = [self.line()]
        while re.match(rb"\d{3}-", lines[-1]):
            lines.append(self.line())
        return b"\n".join(lines)

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._more()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


def _show(data: bytes) -> str:
    text = data.decode("latin-1")
    return text.strip()[:60] if text.isprintable() or "\r\n" in text else f"{len(data)} bytes"


def _expect(wire: _Wire, got: bytes, ok: bool, what: str) -> None:
    if not ok:
        raise StartTLSError(f"{wire.proto}: {what}; the server answered {got.decode('latin-1').strip()[:80]!r}")


# -- client side ---------------------------------------------------------------------------

def _smtp(w: _Wire, host: str) -> None:
    greeting = w.reply()
    _expect(w, greeting, greeting.startswith(b"220"), "no 220 greeting")
    w.send(f"EHLO {host}\r\n".encode())
    ehlo = w.reply()
    _expect(w, ehlo, ehlo.startswith(b"250") and b"STARTTLS" in ehlo.upper(), "STARTTLS is not offered")
    w.send(b"STARTTLS\r\n")
    go = w.reply()
    _expect(w, go, go.startswith(b"220"), "STARTTLS refused")


def _imap(w: _Wire, host: str) -> None:
    greeting = w.line()
    _expect(w, greeting, greeting.startswith(b"* OK"), "no * OK greeting")
    w.send(b"a1 STARTTLS\r\n")
    line = w.line()
    while line.startswith(b"* "):
        line = w.line()
    _expect(w, line, line.upper().startswith(b"A1 OK"), "STARTTLS refused")


def _command(w: _Wire, greeting: tuple[bytes, ...], command: bytes, go: tuple[bytes, ...], numbered: bool) -> None:
    """The one-command upgrades: a greeting starting with one of ``greeting``, ``command``, an
    answer starting with one of ``go`` (numbered replies may run over several lines)."""
    read = w.reply if numbered else w.line
    first = read()
    _expect(w, first, first.startswith(greeting), f"no {'/'.join(g.decode() for g in greeting)} greeting")
    w.send(command)
    answer = read()
    _expect(w, answer, answer.startswith(go), f"{command.decode().strip()} refused")


def _pop3(w: _Wire, host: str) -> None:
    _command(w, (b"+OK",), b"STLS\r\n", (b"+OK",), numbered=False)


def _ftp(w: _Wire, host: str) -> None:
    _command(w, (b"220",), b"AUTH TLS\r\n", (b"234",), numbered=True)


def _nntp(w: _Wire, host: str) -> None:
    _command(w, (b"200", b"201"), b"STARTTLS\r\n", (b"382",), numbered=True)


def _xmpp_header(to: str) -> bytes:
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/"
            f"streams' to='{to}' version='1.0'>").encode()


def _xmpp(w: _Wire, host: str) -> None:
    w.send(_xmpp_header(host))
    features = w.until(b"</stream:features>")
    _expect(w, features, XMPP_TLS in features, "STARTTLS is not among the stream features")
    w.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    go = w.until(b">")
    _expect(w, go, b"<proceed" in go, "STARTTLS refused")


def _ldap_request() -> bytes:
    name = b"\x80" + bytes([len(LDAP_STARTTLS_OID)]) + LDAP_STARTTLS_OID      # [0] requestName
    op = b"\x77" + bytes([len(name)]) + name                                   # [APPLICATION 23]
    body = b"\x02\x01\x01" + op                                                # messageID 1
    return b"\x30" + bytes([len(body)]) + body


def _ber_length(w: _Wire) -> int:
    first = w.exactly(1)[0]
    if first < 0x80:
        return first
    return int.from_bytes(w.exactly(first & 0x7F), "big")


def _ldap(w: _Wire, host: str) -> None:
    w.send(_ldap_request())
    _expect(w, w.buf, w.exactly(1) == b"\x30", "no LDAPMessage")
    message = w.exactly(_ber_length(w))
    m = re.search(rb"\x78[\x00-\xff]{1,5}?\x0a\x01([\x00-\xff])", message)   # ExtendedResponse resultCode
    _expect(w, message, m is not None and m.group(1) == b"\x00",
            f"StartTLS refused (resultCode {m.group(1)[0] if m else 'missing'})")


def _postgres(w: _Wire, host: str) -> None:
    w.send(PG_SSL_REQUEST)
    answer = w.exactly(1)
    _expect(w, answer, answer == b"S", "the server does not accept SSL ('N': no hostssl line, or ssl = off)")


def _mysql(w: _Wire, host: str) -> None:
    header = w.exactly(4)
    greeting = w.exactly(int.from_bytes(header[:3], "little"))
    _expect(w, greeting[:1], greeting[:1] == b"\x0a", "no protocol-10 greeting")
    end = greeting.index(b"\x00", 1)                 # server version, NUL-terminated
    caps = int.from_bytes(greeting[end + 14:end + 16], "little")   # thread id 4, salt 8+1 before it
    _expect(w, greeting[:40], bool(caps & MYSQL_SSL), "the server does not offer SSL (CLIENT_SSL)")
    flags = MYSQL_SSL | MYSQL_41 | MYSQL_SECURE
    body = flags.to_bytes(4, "little") + (1 << 24).to_bytes(4, "little") + b"\x21" + bytes(23)
    w.send(len(body).to_bytes(3, "little") + bytes([header[3] + 1]) + body)


CLIENT: dict[str, Callable[[_Wire, str], None]] = {
    "smtp": _smtp, "imap": _imap, "pop3": _pop3, "ftp": _ftp, "nntp": _nntp, "xmpp": _xmpp, "ldap": _ldap,
    "postgres": _postgres, "mysql": _mysql}
PROTOCOLS = tuple(CLIENT)


def upgrade_client(proto: str, transport: Transport, host: str, timeout: float) -> tuple[Transport, list[Flight]]:
    """Speak ``proto`` up to the point where TLS starts; the transport to run TLS on and the
    preamble's flights. Raises StartTLSError."""
    w = _Wire(transport, True, timeout, proto.upper())
    CLIENT[proto](w, host)
    out = Prefixed(transport, w.buf)
    out.preamble = w.flights
    return out, w.flights


# -- server side ---------------------------------------------------------------------------

def _serve_text(w: _Wire, greeting: bytes, command: re.Pattern, go: Callable[[bytes], bytes],
                other: Callable[[bytes], bytes]) -> None:
    w.send(greeting)
    while True:
        line = w.line()
        if command.match(line):
            w.send(go(line))
            return
        w.send(other(line))


def _serve(proto: str, w: _Wire) -> None:
    if proto == "smtp":
        _serve_text(w, b"220 certlab ESMTP\r\n", re.compile(rb"(?i)STARTTLS$"), lambda _: b"220 2.0.0 Ready to start TLS\r\n",
                    lambda line: b"250-certlab\r\n250 STARTTLS\r\n" if line[:4].upper() in (b"EHLO", b"HELO", b"LHLO")
                    else b"530 5.7.0 Must issue a STARTTLS command first\r\n")
    elif proto == "imap":
        _serve_text(w, b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] certlab\r\n",
                    re.compile(rb"(?i)\S+ STARTTLS$"), lambda line: line.split()[0] + b" OK Begin TLS negotiation now\r\n",
                    lambda line: (b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" if b"CAPABILITY" in line.upper()
                                  else b"") + (line.split() or [b"*"])[0] + b" OK\r\n")
    elif proto == "pop3":
        _serve_text(w, b"+OK certlab\r\n", re.compile(rb"(?i)STLS$"), lambda _: b"+OK Begin TLS negotiation\r\n",
                    lambda line: b"+OK\r\nSTLS\r\n.\r\n" if line.upper().startswith(b"CAPA") else b"-ERR STLS first\r\n")
    elif proto == "ftp":
        _serve_text(w, b"220 certlab FTP\r\n", re.compile(rb"(?i)AUTH (TLS|SSL)$"), lambda _: b"234 AUTH TLS OK\r\n",
                    lambda line: b"211-Features:\r\n AUTH TLS\r\n211 End\r\n" if line.upper() == b"FEAT"
                    else b"530 Please login with AUTH TLS first\r\n")
    elif proto == "nntp":
        _serve_text(w, b"200 certlab NNTP\r\n", re.compile(rb"(?i)STARTTLS$"), lambda _: b"382 Continue with TLS\r\n",
                    lambda line: b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n"
                    if line.upper() == b"CAPABILITIES" else b"483 STARTTLS first\r\n")
    elif proto == "xmpp":
        w.until(b"<stream:stream")
        w.until(b">")
        w.send(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/"
               b"streams' id='certlab' from='localhost' version='1.0'><stream:features><starttls xmlns='" + XMPP_TLS
               + b"'><required/></starttls></stream:features>")
        w.until(b"/>")
        w.send(b"<proceed xmlns='" + XMPP_TLS + b"'/>")
    elif proto == "ldap":
        _expect(w, w.buf, w.exactly(1) == b"\x30", "no LDAPMessage")
        request = w.exactly(_ber_length(w))
        _expect(w, request, LDAP_STARTTLS_OID in request, "not a StartTLS request")
        msgid = request[:3]                                    # 02 01 id
        body = msgid + b"\x78\x07\x0a\x01\x00\x04\x00\x04\x00"   # ExtendedResponse: success, "", ""
        w.send(b"\x30" + bytes([len(body)]) + body)
    elif proto == "postgres":
        request = w.exactly(8)
        _expect(w, request, request == PG_SSL_REQUEST, "not an SSLRequest")
        w.send(b"S")
    elif proto == "mysql":
        caps = MYSQL_SSL | MYSQL_41 | MYSQL_SECURE | 0x00080000
        body = (b"\x0a8.0.0-certlab\x00" + (7).to_bytes(4, "little") + b"abcdefgh\x00"
                + (caps & 0xFFFF).to_bytes(2, "little") + b"\x21\x02\x00" + (caps >> 16).to_bytes(2, "little")
                + b"\x15" + bytes(10) + b"ijklmnopqrst\x00mysql_native_password\x00")
        w.send(len(body).to_bytes(3, "little") + b"\x00" + body)
        header = w.exactly(4)
        request = w.exactly(int.from_bytes(header[:3], "little"))
        _expect(w, request, len(request) >= 4 and bool(int.from_bytes(request[:4], "little") & MYSQL_SSL),
                "the client did not ask for SSL")


def upgrade_server(proto: str, transport: Transport, timeout: float) -> tuple[Transport, list[Flight]]:
    """Answer ``proto``'s preamble as a server until the client starts TLS. Raises StartTLSError."""
    w = _Wire(transport, False, timeout, proto.upper())
    _serve(proto, w)
    out = Prefixed(transport, w.buf)
    out.preamble = w.flights
    return out, w.flights
