"""Wall time of one full mutual-auth TLS 1.3 handshake (plus one request/response) driven by
certlab's engine vs Python's ssl, against the same local OpenSSL server, in one run.
Target: certlab at most 3x Python ssl.

    .venv/bin/python benchmarks/bench_handshake.py [--rounds N]
"""
from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenarios  # noqa: E402,F401
from lab.peers.servers import OpenSSLServer  # noqa: E402
from lab.pki import Pki  # noqa: E402
from lab.play.client import play_client  # noqa: E402
from lab.script.setup import Setup  # noqa: E402
from lab.script.dsl import REGISTRY  # noqa: E402
from lab.transport import SocketTransport  # noqa: E402


def python_ssl_once(pki: Pki, port: int) -> None:
    cli = pki.identity("rsa", "client")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cli.ca)
    ctx.load_cert_chain(cli.cert, cli.key)
    with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.recv(4096)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    sc = REGISTRY["tls13-client-cert"]
    with tempfile.TemporaryDirectory() as work:
        pki = Pki.create(os.path.join(work, "pki"))
        setup = Setup(pki, "1.3")
        with OpenSSLServer(pki, "1.3", "required", work) as peer:
            times = {"python ssl": [], "certlab engine": []}
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                python_ssl_once(pki, peer.port)
                times["python ssl"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                observed = play_client(sc, setup, SocketTransport("127.0.0.1", peer.port), timeout=3.0, settle=0).observed
                times["certlab engine"].append(time.perf_counter() - t0)
                assert observed.outcome == "success", observed
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:15}: {v:7.2f} ms per handshake (median of {args.rounds})")
    print(f"ratio certlab/python ssl: {med['certlab engine'] / med['python ssl']:.1f}x   (target <= 3x)")
    print("(certlab runs with settle=0; `certlab run` also listens 0.3 s after the last flight to time the "
          "server's verdict)")


if __name__ == "__main__":
    main()
