"""Which TCP connections carry TLS, and which side is the client: by the first bytes each side
sends (a ClientHello, an SSLv2 CLIENT-HELLO), by what only a server sends (a capture that starts
mid-stream), by a well-known port, or by an upgrade request before the first record."""
from __future__ import annotations

from lab.capture.tcp import TCPConnection
from lab.dissect.upgrade import SEARCH, Upgrade, find_upgrade


def looks_like_tls(data: bytes) -> bool:
    if len(data) >= 5 and 20 <= data[0] <= 24 and data[1] == 3 and data[2] <= 4:
        return True
    return len(data) >= 3 and bool(data[0] & 0x80) and data[2] == 1 and len(data) > 3 and data[3] in (0, 3)


def is_client_hello(data: bytes) -> bool:
    return (data[:1] == b"\x16" and data[5:6] == b"\x01") or (len(data) > 2 and data[0] & 0x80 and data[2] == 1)


# Handshake messages only a server sends (ServerHello, HelloRequest, NewSessionTicket, Certificate-
# Request, ServerHelloDone, ServerKeyExchange), and only a client (ClientHello, ClientKeyExchange).
SERVER_ONLY, CLIENT_ONLY = {0, 2, 4, 12, 13, 14}, {1, 16}
# Ports of TLS services (and their STARTTLS forms): the side on one of them is the server.
TLS_PORTS = {443, 465, 563, 585, 636, 853, 989, 990, 992, 993, 994, 995, 3269, 4433, 5061, 5223, 5349, 5671, 6514,
             8443, 25, 587, 143, 110, 21, 389, 5222, 119, 5432, 3306}


def _server_side_by_content(c0: bytes, c1: bytes) -> int | None:
    """Which direction (0 or 1) is the server's, from the first plaintext handshake message each
    sends (a capture that starts mid-stream has no SYN to tell), or None."""
    for direction, data in ((0, c0), (1, c1)):
        if data[:1] == b"\x16" and len(data) > 5:
            if data[5] in SERVER_ONLY:
                return direction
            if data[5] in CLIENT_ONLY:
                return 1 - direction
    return None


def orient(conn: TCPConnection, c0: bytes, c1: bytes) -> None:
    """Make direction 0 the client's: the ClientHello's sender, else (mid-stream) the side the
    TLS content or a well-known port shows."""
    if is_client_hello(c1) and not is_client_hello(c0):
        conn.swap()   # the ClientHello came from the side we took for the server
        return
    if is_client_hello(c0) or conn.saw_syn:
        return
    server = _server_side_by_content(c0, c1)
    if server is None:
        ports = (conn.client[1] in TLS_PORTS, conn.server[1] in TLS_PORTS)
        server = 0 if ports == (True, False) else (1 if ports == (False, True) else None)
    if server == 0:
        conn.swap()


def _head(conn: TCPConnection, direction: int) -> bytes:
    out = b""
    for c in conn.chunks:
        if c.direction == direction:
            out += c.data
            if len(out) >= SEARCH:
                break
    return out


def upgrade(conn: TCPConnection) -> Upgrade | None:
    """STARTTLS and its kin: the ClientHello after a plaintext upgrade request (either side may
    have been taken for the client: the one that sends the ClientHello is)."""
    for flip in (False, True):
        if flip:
            conn.swap()
        found = find_upgrade(_head(conn, 0), _head(conn, 1), conn.server[1])
        if found is not None:
            return found
    conn.swap()   # back as it was
    return None


def first_data(conn: TCPConnection, direction: int, want: int = 16) -> bytes:
    """The first bytes a side sent, across segments (a ClientHello may come one byte per segment)."""
    out = b""
    for c in conn.chunks:
        if c.direction == direction:
            out += c.data[:want - len(out)]
            if len(out) >= want:
                break
    return out
