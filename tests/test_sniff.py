"""``certlab sniff`` on loopback while curl talks to nginx (TLS 1.3, one client with a
certificate, one without): the live events name the request, the certificate and the empty
answer as they happen, decrypted from the key log curl writes; the pcapng it writes opens
decrypted in tshark with no loopback duplicates; Ctrl-C/SIGTERM ends it cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lab.peers.servers import server_classes
from tests.tshark_ref import tshark_view

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sniff_live_events_and_pcapng(pki, tmp_path) -> None:
    keylog, out = str(tmp_path / "keys.log"), str(tmp_path / "live.pcapng")
    open(keylog, "w").close()   # sniff re-reads it as the client appends; it must exist (a typo is an error)
    with server_classes()["nginx"](pki, "1.3", "required", str(tmp_path)) as peer:
        sniff = subprocess.Popen([sys.executable, "-m", "lab", "sniff", "--port", str(peer.port), "--keylog", keylog,
                                  "--out", out], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "listening on lo" in sniff.stdout.readline()
            cli = pki.identity("rsa", "client")
            for extra in (["--cert", cli.cert, "--key", cli.key], []):
                subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{peer.port}:127.0.0.1",
                                "--cacert", cli.ca, *extra, f"https://localhost:{peer.port}/"], capture_output=True,
                               env={**os.environ, "SSLKEYLOGFILE": keylog}, timeout=30)
            time.sleep(1.0)
            sniff.send_signal(signal.SIGTERM)
            stdout, stderr = sniff.communicate(timeout=30)
        finally:
            if sniff.poll() is None:
                sniff.kill()
    assert sniff.returncode == 0, stderr
    assert "#1 frame" in stdout and "server asks for a client certificate (encrypted, decrypted" in stdout
    assert "client sends its certificate (encrypted, decrypted with the key log): CN=lab-client" in stdout
    assert "#2 frame" in stdout and "client sends an EMPTY Certificate" in stdout
    assert "server answers HTTP/1.1 400" in stdout
    assert "#2 verdict: rejected" in stdout
    view = tshark_view(out)   # the embedded key log alone decrypts it
    assert view.malformed == 0 and view.messages["client"].count(("handshake", 11)) == 2
    assert len(view.certificates["client"]) == 1   # the second Certificate is empty
    dups = subprocess.run(["tshark", "-r", out, "-Y", "tcp.analysis.retransmission or tcp.analysis.duplicate_ack"],
                          capture_output=True, text=True, timeout=60).stdout
    assert dups == "", dups


def test_sniff_bad_interface_is_one_line(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab", "sniff", "--iface", "nosuch0", "--port", "443",
                           "--duration", "1", "--out", str(tmp_path / "x.pcapng")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1, proc.stderr
    assert not os.path.exists(tmp_path / "x.pcapng")
