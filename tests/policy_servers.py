"""Many small TLS servers in one process (Python ssl, a thread each), each with its own
client-auth policy: the fleet that probe's test and benchmark probe."""
from __future__ import annotations

import socket
import ssl
import threading

from lab.pki import Pki

MODES = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def serve(pki: Pki, mode: str, stop: threading.Event) -> int:
    ident = pki.identity("rsa", "server")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ident.cert, ident.key)
    ctx.load_verify_locations(ident.ca)
    ctx.verify_mode = MODES[mode]
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()
        srv.close()

    def answer(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                if tls.recv(4096):
                    tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        except (OSError, ssl.SSLError):
            conn.close()
    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]
