"""Start-up time: ``certlab --help`` and ``import layers``, against a bare interpreter and
``import scapy.packet`` measured in the same run (median of N fresh processes each).
Target: ``certlab --help`` under 0.3 s.

    .venv/bin/python benchmarks/bench_startup.py [--rounds N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_seconds(argv: list[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    bare = median_seconds([py, "-c", "pass"], args.rounds)
    scapy = median_seconds([py, "-c", "import scapy.packet"], args.rounds)
    helped = median_seconds([py, "-m", "lab", "--help"], args.rounds)
    layers = median_seconds([py, "-c", "import layers"], args.rounds)
    print(f"python -c pass            : {bare * 1000:6.0f} ms")
    print(f"import scapy.packet       : {scapy * 1000:6.0f} ms")
    print(f"certlab --help            : {helped * 1000:6.0f} ms  ({helped / bare:.1f}x a bare interpreter; "
          f"target < 300 ms)")
    print(f"import layers             : {layers * 1000:6.0f} ms  ({layers / scapy:.2f}x import scapy.packet)")


if __name__ == "__main__":
    main()
