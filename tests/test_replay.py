"""``certlab replay`` with captures of real handshakes (our client against OpenSSL, recorded by
``certlab run``): the grafted client Certificate and CertificateVerify are refused by real
servers with decrypt_error (their signature covers another transcript), and the first flight
replayed to a fresh server draws the same TLS 1.2 CertificateRequest (compared with tshark's
reading of the capture)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lab.peers.servers import server_classes
from tests.tshark_ref import tshark_view

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def captures(pki, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("replay-captures")
    proc = subprocess.run([sys.executable, "-m", "lab", "run", "tls12-ecdhe-client-cert", "tls13-client-cert",
                           "--stack", "openssl", "--pki", pki.root, "--pcap-dir", str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"1.2": str(folder / "tls12-ecdhe-client-cert-openssl-tls12.pcapng"),
            "1.3": str(folder / "tls13-client-cert-openssl-tls13.pcapng")}


def _replay(capture: str, port: int, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "lab", "replay", capture, "--to", f"127.0.0.1:{port}", "--json",
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("stack,version", [("openssl", "1.2"), ("openssl", "1.3"), ("gnutls", "1.3"),
                                           ("go", "1.2"), ("nss", "1.3")])
def test_grafted_certificate_verify_is_refused(stack: str, version: str, captures, pki, tmp_path) -> None:
    with server_classes()[stack](pki, version, "required", str(tmp_path)) as peer:
        out = _replay(captures[version], peer.port, "--part", "client-auth")
    assert out["observed"]["alert"] == "decrypt_error" and out["as_required"] is True, out
    assert out["old_transcript_sha256"] != out["new_transcript_sha256"]


def test_first_flight_draws_the_same_certificate_request(captures, pki, tmp_path) -> None:
    with server_classes()["openssl"](pki, "1.2", "required", str(tmp_path)) as peer:
        out = _replay(captures["1.2"], peer.port, "--part", "first-flight")
    assert out["same"] == {"version": True, "cipher_suite": True, "certificate_request": True}, out
    ws = tshark_view(captures["1.2"])
    named = out["replayed"]["certificate_request"]["certificate_authorities"]
    assert len(named) == len(ws.ca_names[0]) and all(v in named[0] for v in ws.ca_names[0][0])


def test_replay_without_client_auth_is_one_line(captures, tmp_path) -> None:
    """A TLS 1.3 capture whose key log is stripped shows no client Certificate: say so, exit 2."""
    from scapy.utils import rdpcap, wrpcap
    plain = str(tmp_path / "plain.pcap")
    wrpcap(plain, rdpcap(captures["1.3"]))
    proc = subprocess.run([sys.executable, "-m", "lab", "replay", plain, "--to", "127.0.0.1:9"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--keylog" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
