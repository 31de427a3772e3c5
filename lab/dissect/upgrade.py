"""TLS that starts inside another protocol (STARTTLS and its kin), found the way tshark finds it:
by the protocol's own upgrade request in the plaintext before the first TLS record. SMTP, IMAP,
POP3, FTP (AUTH TLS), NNTP and XMPP upgrade by a text command; LDAP by the StartTLS extended
operation; PostgreSQL by an SSLRequest; MySQL/MariaDB by the SSL request packet of its handshake.
Only the bytes before the TLS records are read: application data is never needed for this."""
from __future__ import annotations

import re
from dataclasses import dataclass

SEARCH = 1 << 16   # how far into each direction an upgrade may be looked for
_RECORD = re.compile(rb"\x16\x03[\x00-\x04][\x00-\x40]", re.DOTALL)   # a handshake record header
_ALERT = re.compile(rb"\x15\x03[\x00-\x04]\x00\x02[\x01\x02]", re.DOTALL)   # a plaintext alert record
PG_SSL_REQUEST = bytes.fromhex("0000000804d2162f")          # length 8, code 80877103
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
MYSQL_CLIENT_SSL = 0x0800


@dataclass(frozen=True)
class Upgrade:
    protocol: str      # "SMTP STARTTLS", "PostgreSQL SSLRequest", ...
    client_offset: int  # where TLS starts in the client's stream
    server_offset: int  # and in the server's


def _first_record(data: bytes, msg_type: int, start: int = 0) -> int:
    """Offset of the first handshake record carrying ``msg_type`` at or after ``start``; -1 if none."""
    for m in _RECORD.finditer(data, start):
        if len(data) > m.start() + 5 and data[m.start() + 5] == msg_type:
            return m.start()
    return -1


def _text_command(preamble: bytes) -> str | None:
    """The text protocol whose TLS upgrade command the client sent."""
    lines = [line.strip().upper() for line in preamble.split(b"\n")]
    for line in lines:
        words = line.split()
        if line in (b"STARTTLS", b"STARTTLS\r") or (len(words) == 1 and words[0] == b"STARTTLS"):
            return "SMTP/NNTP STARTTLS"
        if len(words) == 2 and words[1] == b"STARTTLS":
            return "IMAP STARTTLS"
        if words[:1] == [b"STLS"]:
            return "POP3 STLS"
        if words[:2] in ([b"AUTH", b"TLS"], [b"AUTH", b"SSL"], [b"AUTH", b"TLS-C"]):
            return "FTP AUTH TLS"
    if b"urn:ietf:params:xml:ns:xmpp-tls" in preamble.lower() and b"<STARTTLS" in preamble.upper():
        return "XMPP STARTTLS"
    return None


def _mysql_ssl_request(preamble: bytes) -> bool:
    """A MySQL client packet (3-byte length, sequence 1) whose capability flags ask for SSL."""
    if len(preamble) < 8:
        return False
    length, seq = int.from_bytes(preamble[:3], "little"), preamble[3]
    return seq == 1 and length >= 4 and bool(int.from_bytes(preamble[4:8], "little") & MYSQL_CLIENT_SSL)


def find_upgrade(client: bytes, server: bytes, server_port: int = 0) -> Upgrade | None:
    """An in-band upgrade to TLS in the first bytes of each direction, or None."""
    c_off = _first_record(client[:SEARCH], 1)
    if c_off <= 0:
        return None
    preamble = client[:c_off]
    if preamble == PG_SSL_REQUEST:
        protocol = "PostgreSQL SSLRequest"
    elif _mysql_ssl_request(preamble):
        protocol = "MySQL SSL request"
    elif LDAP_STARTTLS_OID in preamble:
        protocol = "LDAP StartTLS"
    else:
        protocol = _text_command(preamble)
        if protocol == "SMTP/NNTP STARTTLS":
            protocol = "NNTP STARTTLS" if server_port in (119, 433) or server.startswith(b"200 ") else \
                "SMTP STARTTLS"
    if protocol is None:
        return None
    s_off = _first_record(server[:SEARCH], 2)
    if s_off < 0:   # no ServerHello: the server may have refused the ClientHello with an alert
        m = _ALERT.search(server[:SEARCH])
        s_off = m.start() if m else len(server[:SEARCH])
    return Upgrade(protocol, c_off, s_off)
