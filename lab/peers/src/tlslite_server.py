"""certlab's tlslite-ng server peer (pure Python), configured as its API shows client
authentication: handshakeServer(reqCert=True, reqCAs=[the lab CA's name]). tlslite-ng checks the
client's CertificateVerify but validates no chain: required means "some certificate". Mode
``pha`` (TLS 1.3) asks after the first request with request_post_handshake_auth().
Arguments: PORT CERT KEY CA MODE VERSION"""
import socket
import sys
import threading

from tlslite import HandshakeSettings, TLSConnection, X509, X509CertChain, parsePEMKey
from tlslite.errors import TLSError

port, cert, key, ca, mode, version = sys.argv[1:7]
with open(cert) as fh:
    chain = X509CertChain()
    chain.parsePemList(fh.read())
with open(key) as fh:
    private = parsePEMKey(fh.read(), private=True)
with open(ca) as fh:
    ca_name = X509().parse(fh.read()).subject
settings = HandshakeSettings()
settings.minVersion = settings.maxVersion = (3, 3) if version == "1.2" else (3, 4)


def serve(sock: socket.socket) -> None:
    conn = TLSConnection(sock)
    try:
        ask = mode in ("optional", "required")
        conn.handshakeServer(certChain=chain, privateKey=private, settings=settings, reqCert=ask,
                             reqCAs=[ca_name] if ask else None)   # tlslite refuses CA names without reqCert
        if mode == "required" and not conn.session.clientCertChain:
            conn.sendall(b"HTTP/1.0 403 Forbidden\r\n\r\nno client certificate\n")
            conn.close()
            return
        conn.read()
        if mode == "pha":
            try:
                for _ in conn.request_post_handshake_auth(settings):
                    pass
            except ValueError as exc:   # the client did not offer post_handshake_auth
                conn.sendall(f"HTTP/1.0 401 Unauthorized\r\n\r\n{exc}\n".encode())
                conn.close()
                return
            conn.read(0, 0)   # the client's answer: its Certificate, CertificateVerify, Finished
        got = "yes" if conn.session.clientCertChain else "no"
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclient certificate: " + got.encode() + b"\n")
        conn.close()
    except (TLSError, OSError, ValueError) as exc:
        print(f"tlslite: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        sock.close()


listener = socket.socket()
listener.bind(("127.0.0.1", int(port)))
listener.listen(16)
print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
while True:
    client, _ = listener.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
