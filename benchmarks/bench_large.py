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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lab.capture.synth import frame_conversation  # noqa: E402
from lab.capture.writer import write_pcapng  # noqa: E402
from lab.pki import Pki  # noqa: E402
from lab.tools.demo import record_handshake  # noqa: E402


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (``--jobs`` workers included)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def timed(argv: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB summed over the process tree, sampled every 10 ms) of one run."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.01)
    secs = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{argv[0]} exited with {proc.returncode}")
    return secs, peak / (1 << 20)


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
