"""Records dissected per second: certlab vs scapy.layers.tls and vs tshark on the same capture,
in one run.

The capture holds N mutual-auth handshakes, TLS 1.2 and TLS 1.3 in turn (``--versions``) (RSA certificates, ECDHE, client
Certificate and CertificateVerify, application data, close_notify) recorded from Python ssl on
both ends, with the key log embedded. Every tool decrypts. Targets: certlab >= 10x scapy
and within 5x of tshark (certlab's time <= 5 x tshark's).

    .venv/bin/python benchmarks/bench_dissect.py [--connections N] [--versions 1.2,1.3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.capture.synth import frame_conversation  # noqa: E402
from lab.capture.writer import write_pcapng  # noqa: E402
from lab.tools.demo import record_handshake  # noqa: E402
from lab.dissect import dissect  # noqa: E402
from lab.pki import Pki  # noqa: E402


def build_capture(folder: str, n: int, versions: list[str]) -> tuple[str, str]:
    pki = Pki.create(os.path.join(folder, "pki"))
    packets, secrets = [], ""
    for i in range(n):
        keylog = os.path.join(folder, f"k{i}")
        flights, _ = record_handshake(pki, versions[i % len(versions)], keylog)
        with open(keylog) as fh:
            secrets += fh.read()
        packets += frame_conversation(flights, ("127.0.0.1", 20000 + i), ("127.0.0.1", 443), start=i * 0.01)
    path = os.path.join(folder, "bench.pcapng")
    write_pcapng(path, packets, secrets)
    return path, os.path.splitext(path)[0] + ".keys"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--versions", default="1.2,1.3", help="TLS versions, one connection each in turn")
    ap.add_argument("--no-scapy", action="store_true", help="leave out scapy's TLS layer (slow)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        versions = args.versions.split(",")
        path, keys = build_capture(folder, args.connections, versions)
        t0 = time.perf_counter()
        result = dissect(path)
        ours_s = time.perf_counter() - t0
        ours_n = sum(len(c.records) for c in result.connections)
        undecrypted = sum(1 for c in result.connections for r in c.records if r.encrypted and not r.decrypted)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lab", "dissect", path], stdout=subprocess.DEVNULL, check=True,
                       cwd=os.path.dirname(HERE))
        cli_s = time.perf_counter() - t0
        scapy = {"records": 1, "seconds": float("nan")}
        if not args.no_scapy:
            out = subprocess.run([sys.executable, os.path.join(HERE, "scapy_tls_rate.py"), path, keys],
                                 capture_output=True, text=True, check=True)
            scapy = json.loads(out.stdout.strip().splitlines()[-1])
        t0 = time.perf_counter()
        ws = subprocess.run(["tshark", "-r", path, "-o", f"tls.keylog_file:{keys}", "-T", "fields",
                             "-e", "tls.record.content_type", "-e", "tls.handshake.type"],
                            capture_output=True, text=True, check=True)
        tshark_s = time.perf_counter() - t0
        tshark_n = sum(len(line.split("\t")[0].split(",")) for line in ws.stdout.splitlines() if line.split("\t")[0])
    ours_rate = ours_n / ours_s
    scapy_rate = scapy["records"] / scapy["seconds"]
    print(f"capture: {args.connections} TLS {' and '.join(versions)} mutual-auth connections, {ours_n} records "
          f"({undecrypted} left undecrypted)")
    print(f"certlab dissect      : {ours_rate:9.0f} records/s  ({ours_s:.3f} s)")
    print(f"scapy.layers.tls     : {scapy_rate:9.0f} records/s  ({scapy['seconds']:.3f} s, "
          f"{scapy['records']} records)")
    print(f"tshark               : {tshark_n / tshark_s:9.0f} records/s  ({tshark_s:.3f} s, {tshark_n} records)")
    print(f"ratio certlab/scapy  : {ours_rate / scapy_rate:.1f}x   (target >= 10x)")
    print(f"certlab time / tshark time: {ours_s / tshark_s:.2f}   (target <= 5)")
    print(f"`certlab dissect` (the command, --jobs {os.cpu_count()}, start-up included): {cli_s:.3f} s; "
          f"/ tshark time: {cli_s / tshark_s:.2f}   (target <= 2)")


if __name__ == "__main__":
    main()
