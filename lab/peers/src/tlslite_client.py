"""certlab's tlslite-ng client peer: handshakeClientCert with one certificate chain and key, as
tlslite-ng's documentation shows client authentication (it holds one). It sends an HTTP request
and prints the answer; a TLS error is printed and exits 1.
Like the server of ours, it validates no chain (tlslite-ng leaves that to the application), so
CA is not used. Arguments: PORT CA VERSION [CERT KEY]"""
import socket
import sys

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.errors import TLSError


def main(port: str, ca: str, version: str, *pair: str) -> int:
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4) if version == "1.3" else (3, 3)
    chain = key = None
    if pair:
        with open(pair[0]) as fh:
            chain = X509CertChain()
            chain.parsePemList(fh.read())
        with open(pair[1]) as fh:
            key = parsePEMKey(fh.read(), private=True)
    conn = TLSConnection(socket.create_connection(("127.0.0.1", int(port)), timeout=8))
    try:
        conn.handshakeClientCert(chain, key, settings=settings, serverName="localhost")
        conn.write(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        answer = b""
        while True:
            data = conn.read()
            if not data:
                break
            answer += data
    except (TLSError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(answer.decode("latin-1"))
    return 0 if answer else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
