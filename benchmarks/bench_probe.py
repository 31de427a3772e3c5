"""``certlab probe`` over a fleet: N local TLS servers (Python ssl, one thread each, client-auth
policies none / optional / required in turn), probed with ``--targets FILE --jobs J``; every
policy must be reported as configured. Baseline, in the same run: one plain Python ssl handshake
to each server in turn (what a single-connection scan costs).

    .venv/bin/python benchmarks/bench_probe.py [--targets 200] [--jobs 32]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.pki import Pki  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=32)
    args = ap.parse_args()
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as folder:
        pki = Pki.create(os.path.join(folder, "pki"))
        modes = [list(MODES)[i % 3] for i in range(args.targets)]
        ports = [serve(pki, m, stop) for m in modes]
        listing = os.path.join(folder, "targets.txt")
        with open(listing, "w") as fh:
            fh.write("".join(f"127.0.0.1:{p}\n" for p in ports))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "lab", "probe", "--targets", listing, "--jobs", str(args.jobs),
                              "--tls", "1.3", "--json"], capture_output=True, text=True, cwd=os.path.dirname(HERE))
        ours = time.perf_counter() - t0
        fleet = json.loads(out.stdout)
        seen = []
        for r in fleet["targets"]:
            pol = r["versions"]["1.3"]["policy"] if "versions" in r else {}
            seen.append("none" if pol.get("requests_certificate") == ["never"] else
                        "required" if pol.get("required") else "optional" if pol else "error")
        wrong = sum(a != b for a, b in zip(seen, modes))
        client = ssl.create_default_context(cafile=pki.identity("rsa", "server").ca)
        client.load_cert_chain(pki.identity("rsa", "client").cert, pki.identity("rsa", "client").key)
        t0 = time.perf_counter()
        for p in ports:
            with socket.create_connection(("127.0.0.1", p)) as s, client.wrap_socket(s, server_hostname="localhost"):
                pass
        baseline = time.perf_counter() - t0
        stop.set()
    print(f"probe: {args.targets} targets (none/optional/required in turn) with --jobs {args.jobs}: {ours:.1f} s, "
          f"{args.targets / ours:.1f} targets/s; {wrong} reported wrongly")
    print(f"baseline: one Python ssl handshake to each, in turn: {baseline:.2f} s; probe/baseline = "
          f"{ours / baseline:.1f}x (a probe makes two connections a target and waits for verdicts)")


if __name__ == "__main__":
    main()
