"""Wall time of the default ``certlab matrix`` on this machine (every installed stack, every
scenario), against a baseline measured in the same run: the same number of plain Python ssl
mutual-auth handshakes (the least a cell can cost). Target: at least 300 cells in at
most 2 minutes, every cell with its pcap, and cells run per second (printed with the number of
installed stacks) kept as stacks are added.

    .venv/bin/python benchmarks/bench_matrix.py [--jobs N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab.tools.demo import record_handshake  # noqa: E402
from lab.play.matrix import plan, run_matrix  # noqa: E402
from lab.peers.registry import CLIENT_PROGRAMS, SERVER_PROGRAMS, installed  # noqa: E402
from lab.pki import Pki  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        pki = Pki.create(os.path.join(out, "pki"))
        cells = plan(None, None, None, None)
        t0 = time.perf_counter()
        results = run_matrix(cells, out, args.jobs, pki_dir=pki.root)
        elapsed = time.perf_counter() - t0
        pcaps = sum(name.endswith(".pcapng") for name in os.listdir(os.path.join(out, "pcaps")))
        t0 = time.perf_counter()
        for i in range(len(cells)):
            record_handshake(pki, "1.3", os.path.join(out, f"baseline-{i % 4}.keys"))
        baseline = time.perf_counter() - t0
    ran = sum(r.verdict != "skip" for r in results)
    servers, clients = installed(SERVER_PROGRAMS), installed(CLIENT_PROGRAMS)
    print(f"stacks: {len(servers)} server stacks ({', '.join(servers)}), {len(clients)} client stacks "
          f"({', '.join(clients)}); {ran / elapsed:.1f} cells run per second")
    print(f"matrix: {len(results)} cells ({ran} run, {pcaps} pcaps) in {elapsed:.1f} s with --jobs {args.jobs}: "
          f"{len(results) / elapsed * 120:.0f} cells per 2 minutes (target >= 300)")
    print(f"baseline: {len(cells)} in-memory Python ssl mutual-auth handshakes in {baseline:.1f} s; "
          f"matrix/baseline = {elapsed / baseline:.1f}x")


if __name__ == "__main__":
    main()
