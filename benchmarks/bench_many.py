"""Many small connections: N copies of one TLS 1.3 mutual-auth handshake (each on its own client
port), read by ``certlab dissect`` and by ``tshark`` in the same run, peak memory beside each.
Target: it finishes, and certlab's memory stays flat as N grows (compare N=10000 with N=100000).

    .venv/bin/python benchmarks/bench_many.py [--connections 100000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.capture.synth import frame_conversation  # noqa: E402
from lab.capture.writer import write_pcapng  # noqa: E402
from lab.pki import Pki  # noqa: E402
from lab.tools.demo import record_handshake  # noqa: E402
from bench_large import timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pki = Pki.create(os.path.join(folder, "pki"))
        flights, _ = record_handshake(pki, "1.3", os.path.join(folder, "keys"))
        path = os.path.join(folder, "many.pcapng")

        def packets():
            for i in range(args.connections):
                port = 1024 + i % 60000
                server = ("127.0.0.1", 443 + i // 60000)
                yield from frame_conversation(flights, ("127.0.0.1", port), server, start=i * 0.01)
        write_pcapng(path, packets(), "", sidecar=False)
        size = os.path.getsize(path) / (1 << 20)
        ours = timed([sys.executable, "-m", "lab", "dissect", path])
        theirs = timed(["tshark", "-r", path, "-T", "fields", "-e", "tls.record.content_type"])
    print(f"capture: {args.connections} connections, {size:.0f} MB")
    print(f"certlab dissect : {ours[0]:7.2f} s  peak RSS {ours[1]:7.0f} MB")
    print(f"tshark          : {theirs[0]:7.2f} s  peak RSS {theirs[1]:7.0f} MB")


if __name__ == "__main__":
    main()
