"""Many small connections: N copies of one TLS 1.3 mutual-auth handshake (each on its own client
port), read by ``certlab dissect`` and by ``tshark`` in the same run, peak memory (summed over the
process tree) beside each, for each N given. Target: it finishes, and certlab's memory stays flat
as N grows.

    .venv/bin/python benchmarks/bench_many.py [--connections 10000,100000]

The capture is written directly as a classic pcap: one real handshake (Python ssl on both ends)
framed once, then copied with the client port (and, past 60,000 copies, the server port) and the
TCP checksum rewritten (RFC 1624 incremental update), so 100,000 connections take seconds to make.
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.capture.synth import frame_conversation  # noqa: E402
from lab.pki import Pki  # noqa: E402
from lab.tools.demo import record_handshake  # noqa: E402
from bench_large import timed  # noqa: E402

SPORT, DPORT, CSUM = 34, 36, 50      # offsets in Ether(14) / IPv4(20) / TCP frames


def _fold(x: int) -> int:
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def _port_patch(frame: bytearray, at: int, port: int) -> None:
    """Set the port at ``at`` and update the TCP checksum for the change (RFC 1624, eqn. 3)."""
    old = int.from_bytes(frame[at:at + 2], "big")
    csum = int.from_bytes(frame[CSUM:CSUM + 2], "big")
    csum = ~_fold((~csum & 0xFFFF) + (~old & 0xFFFF) + port) & 0xFFFF
    frame[at:at + 2] = port.to_bytes(2, "big")
    frame[CSUM:CSUM + 2] = csum.to_bytes(2, "big")


def write_many(path: str, flights: list, n: int) -> None:
    template = [(bytes(p), p[1].sport == 1024) for p in
                frame_conversation(flights, ("127.0.0.1", 1024), ("127.0.0.1", 443), start=0.0)]
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            cport, sport = 1024 + i % 60000, 443 + i // 60000
            for k, (raw, from_client) in enumerate(template):
                frame = bytearray(raw)
                _port_patch(frame, SPORT if from_client else DPORT, cport)
                _port_patch(frame, DPORT if from_client else SPORT, sport)
                usec = i * 10_000 + k * 500
                out.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
                out.write(frame)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", default="10000,100000", help="comma-separated connection counts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pki = Pki.create(os.path.join(folder, "pki"))
        flights, _ = record_handshake(pki, "1.3", os.path.join(folder, "keys"))
        for n in (int(x) for x in args.connections.split(",")):
            path = os.path.join(folder, "many.pcap")
            write_many(path, flights, n)
            size = os.path.getsize(path) / (1 << 20)
            ours = timed([sys.executable, "-m", "lab", "dissect", path])
            theirs = timed(["tshark", "-r", path, "-T", "fields", "-e", "tls.record.content_type"])
            print(f"capture: {n} connections, {size:.0f} MB")
            print(f"  certlab dissect : {ours[0]:7.2f} s  peak RSS {ours[1]:7.0f} MB")
            print(f"  tshark          : {theirs[0]:7.2f} s  peak RSS {theirs[1]:7.0f} MB")
            print(f"  certlab time / tshark time: {ours[0] / theirs[0]:.2f}")
            os.unlink(path)


if __name__ == "__main__":
    main()
