"""Large captures: N mutual-auth TLS 1.2 connections each carrying M bytes of application data,
read by ``certlab diagnose`` with the key log and by ``tshark`` with the same key log, in the same
run; peak memory (RSS) printed beside each. Target: certlab faster than tshark, under 200 MB at
1 GB.

    .venv/bin/python benchmarks/bench_large.py [--connections 100] [--megabytes 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.capture.synth import frame_conversation  # noqa: E402
from lab.capture.writer import write_pcapng  # noqa: E402
from lab.pki import Pki  # noqa: E402
from lab.tools.demo import record_handshake  # noqa: E402


def timed(argv: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    secs, rss = out.stdout.split()
    return float(secs), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--megabytes", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pki = Pki.create(os.path.join(folder, "pki"))
        path, keys = os.path.join(folder, "large.pcapng"), os.path.join(folder, "large.keys")
        secrets: list[str] = []

        def packets():   # one connection at a time: the writer streams, so a 1 GB capture fits
            for i in range(args.connections):
                keylog = os.path.join(folder, f"k{i}")
                flights, _ = record_handshake(pki, "1.2", keylog, payload=int(args.megabytes * (1 << 20)))
                with open(keylog) as fh:
                    secrets.append(fh.read())
                yield from frame_conversation(flights, ("127.0.0.1", 20000 + i), ("127.0.0.1", 443), start=i * 1.0)
        write_pcapng(path, packets(), "", sidecar=False)
        with open(keys, "w") as fh:
            fh.write("".join(secrets))
        size = os.path.getsize(path) / (1 << 20)
        ours = timed([sys.executable, "-m", "lab", "diagnose", path, "--keylog", keys])
        theirs = timed(["tshark", "-r", path, "-o", f"tls.keylog_file:{keys}", "-T", "fields", "-e",
                        "tls.record.content_type"])
    print(f"capture: {args.connections} connections x {args.megabytes:g} MB = {size:.0f} MB")
    print(f"certlab diagnose : {ours[0]:7.2f} s  peak RSS {ours[1]:7.0f} MB")
    print(f"tshark           : {theirs[0]:7.2f} s  peak RSS {theirs[1]:7.0f} MB")
    print(f"certlab time / tshark time: {ours[0] / theirs[0]:.2f}   (target < 1); certlab RSS target < 200 MB")


if __name__ == "__main__":
    main()
