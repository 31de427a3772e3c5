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
        elif tag == "a" and self._cell is not None:
            self._cell["href"] = a.get("href")

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
