"""A one-connection server that speaks just enough of SMTP, PostgreSQL or MySQL to upgrade to TLS
the way the real servers do (Python ssl underneath, asking for a client certificate), for the
STARTTLS dissection tests: ``python starttls_server.py PROTO PORT CERT KEY CA KEYLOG``."""
from __future__ import annotations

import socket
import ssl
import sys


def mysql_greeting() -> bytes:
    """A protocol-10 server greeting offering CLIENT_SSL (0x0800) and CLIENT_PROTOCOL_41 (0x0200)."""
    caps = 0x0800 | 0x0200 | 0x8000 | 0x00080000
    body = (b"\x0a" + b"8.0.0-certlab\x00" + (7).to_bytes(4, "little") + b"abcdefgh\x00"
            + (caps & 0xFFFF).to_bytes(2, "little") + b"\x21" + b"\x02\x00" + (caps >> 16).to_bytes(2, "little")
            + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00" + b"mysql_native_password\x00")
    return len(body).to_bytes(3, "little") + b"\x00" + body


class Reader:
    """Exact reads from the socket: nothing of the ClientHello that follows may be read ahead."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.conn.recv(n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    def readline(self) -> bytes:
        out = b""
        while not out.endswith(b"\n"):
            c = self.conn.recv(1)
            if not c:
                break
            out += c
        return out


def preamble(proto: str, conn: socket.socket) -> None:
    f = Reader(conn)
    if proto == "smtp":
        conn.sendall(b"220 certlab ESMTP\r\n")
        while True:
            line = f.readline().strip().upper()
            if line.startswith((b"EHLO", b"HELO")):
                conn.sendall(b"250-certlab\r\n250 STARTTLS\r\n")
            elif line == b"STARTTLS":
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                return
            elif not line:
                raise SystemExit("client left before STARTTLS")
    elif proto == "postgres":
        request = f.read(8)
        assert request == bytes.fromhex("0000000804d2162f"), request
        conn.sendall(b"S")
    elif proto == "mysql":
        conn.sendall(mysql_greeting())
        header = f.read(4)
        f.read(int.from_bytes(header[:3], "little"))   # the SSL request packet


def main() -> None:
    proto, port, cert, key, ca, keylog = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2   # the certificate exchange stays readable without keys too
    ctx.keylog_filename = keylog
    with socket.create_server(("127.0.0.1", port)) as srv:
        print("listening", flush=True)   # the test waits for this line (a probe connection would be the one)
        conn, _ = srv.accept()
        with conn:
            preamble(proto, conn)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                try:
                    tls.recv(1024)
                    tls.sendall(b"221 bye\r\n")
                except (ssl.SSLError, OSError):
                    pass


if __name__ == "__main__":
    main()
