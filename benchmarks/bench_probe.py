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
from tests.policy_servers import MODES, serve  # noqa: E402

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
