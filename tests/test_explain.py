"""``certlab explain`` against a real OpenSSL server: every check holds, the Markdown/HTML files
are written, and tshark confirms the claims independently: with only the server's RSA key (the
key log stripped) it decrypts both Finished messages, so the premaster secret really travelled
under that key; with the embedded key log it reads the TLS 1.3 client certificate."""
from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from tests.tshark_ref import tshark_view

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _explain(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", "explain", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_explain_tls12_rsa_classic_flow(tmp_path) -> None:
    md = tmp_path / "walk.md"
    proc = _explain("--out", str(tmp_path), "--markdown", str(md))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checks, 0 failed." in proc.stdout and "[FAILED]" not in proc.stdout
    for n in range(1, 11):
        assert f"Step {n}. " in proc.stdout and f"## Step {n}. " in md.read_text()
    assert "decrypting with the server's private key gives the same premaster secret" in proc.stdout
    pcap = tmp_path / "explain-tls12-rsa.pcapng"
    from scapy.utils import rdpcap, wrpcap
    plain = str(tmp_path / "plain.pcap")
    wrpcap(plain, rdpcap(str(pcap)))   # the packets without the embedded key log
    key = tmp_path / "pki" / "rsa" / "server.key"
    view = tshark_view(plain, prefs=[f'uat:rsa_keys:"{key}",""'])
    assert ("handshake", 20) in view.messages["client"] and ("handshake", 20) in view.messages["server"]
    comments = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.comment"],
                              capture_output=True, text=True, timeout=60).stdout
    assert "step 1: ClientHello" in comments and "step 10" in comments


def test_explain_tls13_html(tmp_path) -> None:
    page = tmp_path / "walk.html"
    proc = _explain("--tls", "1.3", "--out", str(tmp_path), "--html", str(page))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the client handshake traffic secret recomputes" in proc.stdout

    class Sections(HTMLParser):
        ids: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "section":
                self.ids.append(dict(attrs)["id"])
    parser = Sections()
    parser.feed(page.read_text())
    assert parser.ids == [f"step{n}" for n in range(1, 12)]
    view = tshark_view(str(tmp_path / "explain-tls13.pcapng"))
    assert view.certificates["client"], "tshark did not read the encrypted client certificate with the key log"


def test_explain_unknown_stack_is_one_line(tmp_path) -> None:
    proc = _explain("--stack", "nosuch", "--out", str(tmp_path))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
