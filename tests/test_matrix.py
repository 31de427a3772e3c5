"""A small ``certlab matrix`` run: the JSON holds one result per cell, and the HTML report (parsed)
has every cell, coloured by verdict, with links that resolve to pcaps tshark can read."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = ["tls13-client-cert", "tls12-untrusted-client-cert", "tls13-cv-wrong-key", "srv-ca-names-other"]


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-stack" in a:
            self._cell = {"stack": a["data-stack"], "verdict": a.get("class"), "href": None}
            self.cells.append(self._cell)
        elif tag == "a" and self._cell is not None and self._cell["href"] is None:
            self._cell["href"] = a.get("href")   # the pcap (a second link is the cell's ladder diagram)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None


@pytest.mark.stack
def test_small_matrix(tmp_path, pki) -> None:
    out = str(tmp_path / "report")
    proc = subprocess.run([sys.executable, "-m", "lab", "matrix", "--stacks", "python,openssl",
                           "--scenarios", ",".join(SCENARIOS), "--out", out, "--pki", pki.root, "--jobs", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "report.html" in proc.stdout
    results = json.load(open(os.path.join(out, "results.json")))["results"]
    # 3 client-role cells x 2 stacks + srv-ca-names-other (1.2, 1.3) x 2 client stacks
    assert len(results) == 3 * 2 + 2 * 2
    assert {r["verdict"] for r in results} <= {"pass", "fail", "skip", "error"}
    parser = Cells()
    parser.feed(open(os.path.join(out, "report.html")).read())
    assert len(parser.cells) == len(results)
    assert all(c["verdict"] in ("pass", "fail", "skip", "error") for c in parser.cells)
    hrefs = [c["href"] for c in parser.cells if c["href"]]
    assert len(hrefs) == len(results)
    for href in hrefs:
        path = os.path.join(out, href)
        assert os.path.exists(path), href
    first = os.path.join(out, hrefs[0])
    tshark = subprocess.run(["tshark", "-r", first, "-Y", "tls.handshake.type == 11"], capture_output=True, text=True)
    assert tshark.returncode == 0 and tshark.stdout.strip()  # decrypted with no option: the key log is inside
    md = open(os.path.join(out, "report.md")).read()
    assert "## Where stacks disagree" in md and "tls13-cv-wrong-key" in md


def _s_servers() -> set[str]:
    """Running s_server processes (peers run in their own sessions: found by command line)."""
    out = subprocess.run(["pgrep", "-af", "openssl s_server"], capture_output=True, text=True).stdout
    return set(out.splitlines())


@pytest.mark.stack
def test_interrupted_matrix_resumes(tmp_path, pki) -> None:
    """SIGTERM mid-run: exit 130, the finished cells kept (each whole), no peer left running;
    ``--resume`` runs only the rest and the final results hold every cell once."""
    import signal
    import time
    out = tmp_path / "m"
    argv = [sys.executable, "-m", "lab", "matrix", "--stacks", "openssl", "--rows", "D,C", "--jobs", "1",
            "--out", str(out), "--pki", pki.root]
    before = _s_servers()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cells = out / "cells"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (cells.exists() and len(list(cells.glob("*.json"))) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err, err
    assert not (out / "results.json").exists()
    kept = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.json")}
    assert kept and all(json.loads(p.read_text())["verdict"] for p in cells.glob("*.json"))
    time.sleep(0.5)
    assert _s_servers() <= before, "a peer outlived the interrupted matrix"
    done = subprocess.run(argv + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())["results"]
    keys = [(r["scenario"], r["stack"], r["tls_version"]) for r in results]
    assert len(keys) == len(set(keys)) > len(kept)
    assert all((cells / name).stat().st_mtime_ns == mtime for name, mtime in kept.items()), "finished cells re-run"
