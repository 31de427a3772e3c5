"""Hostile servers and clients, each a behaviour a real broken or malicious peer has: silent,
closing, resetting, sending garbage or HTTP, sending records, handshake messages or (after a
real TLS handshake, Python's ssl) application data without end. Run one as its own process so
that a command under test can be measured from outside:

    python tests/hostile_servers.py BEHAVIOUR PKI_DIR       # prints the port, serves until killed
    python tests/hostile_servers.py --client BEHAVIOUR PORT PKI_DIR   # connects to ``certlab serve``
"""
from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
import time

SERVER_BEHAVIOURS = ("silent", "close", "rst", "garbage", "http", "endless-records", "endless-appdata",
                     "endless-handshake", "slow-handshake")
CLIENT_BEHAVIOURS = ("silent", "rst", "plaintext-appdata", "http", "endless-records", "endless-handshake")

CCS = b"\x14\x03\x03\x00\x01\x01"
HELLO_REQUEST = b"\x16\x03\x03\x00\x04\x00\x00\x00\x00"
CHUNK = 64 * 1024


def _forever(conn: socket.socket, unit: bytes) -> None:
    block = unit * max(1, CHUNK // len(unit))
    while True:
        conn.sendall(block)


def _rst(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _context(pki_dir: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{pki_dir}/rsa/server.crt", f"{pki_dir}/rsa/server.key")
    ctx.load_verify_locations(f"{pki_dir}/rsa/ca.crt")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def behave_as_server(behaviour: str, conn: socket.socket, pki_dir: str) -> None:
    if behaviour == "silent":
        time.sleep(3600)
    elif behaviour == "close":
        conn.close()
    elif behaviour == "rst":
        conn.recv(4096)
        _rst(conn)
    elif behaviour == "garbage":
        conn.recv(4096)
        _forever(conn, bytes(range(256)))
    elif behaviour == "http":
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        time.sleep(3600)
    elif behaviour == "endless-records":
        conn.recv(4096)
        _forever(conn, CCS)
    elif behaviour == "endless-handshake":
        conn.recv(4096)
        _forever(conn, HELLO_REQUEST)
    elif behaviour == "slow-handshake":   # one ServerHello claiming 16 MiB, a byte at a time
        conn.recv(4096)
        conn.sendall(b"\x16\x03\x03\x40\x00\x02\xff\xff\xff")
        while True:
            conn.sendall(b"\x00")
            time.sleep(0.01)
    elif behaviour == "endless-appdata":
        with _context(pki_dir).wrap_socket(conn, server_side=True) as tls:
            _forever(tls, b"x")


def serve(behaviour: str, pki_dir: str) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()

        def one(c: socket.socket = conn) -> None:
            try:
                behave_as_server(behaviour, c, pki_dir)
            except (OSError, ssl.SSLError):
                pass
            finally:
                c.close()
        threading.Thread(target=one, daemon=True).start()


def client(behaviour: str, port: int) -> None:
    """One hostile client of ``certlab serve`` on ``port``."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        if behaviour == "silent":
            time.sleep(3600)
        elif behaviour == "rst":
            _rst(conn)
        elif behaviour == "plaintext-appdata":   # one application-data record and no handshake
            conn.sendall(b"\x17\x03\x03\x00\x05hello")
            conn.recv(4096)
        elif behaviour == "http":
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.recv(4096)
        elif behaviour == "endless-records":
            _forever(conn, CCS)
        elif behaviour == "endless-handshake":
            _forever(conn, HELLO_REQUEST)
    except OSError:
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "--client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        serve(sys.argv[1], sys.argv[2])
