"""certlab as the server against real clients: CertificateRequest variants, what each
client sends, and when a client program notices a rejection."""
from __future__ import annotations

import pytest

import scenarios  # noqa: F401
from lab.peers.clients import CLIENTS, client_for
from lab.script.setup import Setup
from lab.script.dsl import REGISTRY
from lab.play.cells import run_server_scenario

# the certificate-choice scenarios (tag wallet) are checked in test_choice.py, against s_server
SERVER_SCENARIOS = sorted(k for k, v in REGISTRY.items() if v.role == "server" and "wallet" not in v.tags)
# What the clients were observed to do where they differ from the RFC (Debian 12 packages).
DEVIATIONS = {  # (stack, scenario) -> (outcome, alert, client certificate) observed instead of the RFC's answer
    # OpenSSL 3.0 clients accept an empty certificate_authorities list (RFC 8446 4.2.4: <3..2^16-1>).
    ("python", "srv-tls13-empty-certificate-authorities"): ("success", None, "sent"),
    ("openssl", "srv-tls13-empty-certificate-authorities"): ("success", None, "sent"),
    # ... and answer an empty TLS 1.2 supported_signature_algorithms with internal_error.
    ("python", "srv-tls12-cr-empty-signature-algorithms"): ("alert", "internal_error", "none"),
    ("openssl", "srv-tls12-cr-empty-signature-algorithms"): ("alert", "internal_error", "none"),
    # No client implements oid_filters: the certificate goes out whatever the filter asks.
    ("python", "srv-tls13-oid-filters-unmet"): ("success", None, "sent"),
    ("openssl", "srv-tls13-oid-filters-unmet"): ("success", None, "sent"),
    # What a client's ``lacks`` says it cannot do, checked: the handshake finds no common suite.
    ("python", "srv-tls12-rsa-kx"): ("error", None, "none"),
}
CASES = [(stack, sid, v) for stack in ("python", "openssl") for sid in SERVER_SCENARIOS
         for v in sorted(REGISTRY[sid].versions)
         if not (REGISTRY[sid].tags & set(CLIENTS[stack].lacks)) or (stack, sid) in DEVIATIONS]


@pytest.mark.stack
@pytest.mark.parametrize("stack,sid,version", CASES, ids=[f"{a}-{b}-{c}" for a, b, c in CASES])
def test_server_scenario_against_client(stack: str, sid: str, version: str, pki, tmp_path) -> None:
    sc = REGISTRY[sid]
    client = client_for(stack, sc, pki, version, str(tmp_path))
    result = run_server_scenario(sc, Setup(pki, version), client, stack, pcap_dir=str(tmp_path))
    observed = result.observed
    if (stack, sid) in DEVIATIONS:
        assert (observed.outcome, observed.alert, observed.client_certificate) == \
            DEVIATIONS[(stack, sid)], observed
    else:
        assert result.verdict == "pass", result
    assert not observed.client_errors, observed


SLICE = {  # (stack, scenario, version) -> (outcome, alert, client certificate)
    ("curl", "srv-ca-names-other", "1.3"): ("success", None, "sent"),
    ("curl", "srv-tls13-cr-schemes-unusable", "1.3"): ("success", None, "empty"),
    ("curl", "srv-tls13-reject-after-finished", "1.3"): ("client_error", None, "sent"),
    ("curl", "srv-tls13-pha", "1.3"): ("success", None, "sent"),
    ("gnutls", "srv-tls13-pha", "1.3"): ("success", None, "sent"),
    ("gnutls", "srv-tls13-empty-certificate-authorities", "1.3"): ("alert", "decode_error", "none"),
    ("gnutls", "srv-tls13-cr-without-signature-algorithms", "1.3"): ("alert", "unsupported_extension", "none"),
    ("gnutls", "srv-tls13-reject-after-finished", "1.3"): ("client_error", None, "sent"),
    ("gnutls", "srv-ca-names-issuer", "1.2"): ("success", None, "sent"),
    ("go", "srv-ca-names-other", "1.3"): ("success", None, "empty"),      # withholds a cert the CAs do not name
    ("java", "srv-ca-names-other", "1.2"): ("success", None, "empty"),
    ("nss", "srv-tls13-empty-certificate-authorities", "1.3"): ("success", None, "sent"),  # accepts it
    ("nss", "srv-tls13-cr-nonempty-context", "1.3"): ("alert", "illegal_parameter", "none"),
    ("nss", "srv-tls13-pha-not-offered", "1.3"): ("alert", "unexpected_message", "none"),
    ("nss", "srv-tls13-pha", "1.3"): ("success", None, "sent"),
    ("nss", "srv-tls13-cr-in-psk-handshake", "1.3"): ("alert", "unexpected_message", "none"),
    ("gnutls", "srv-tls13-cr-in-psk-handshake", "1.3"): ("alert", "unexpected_message", "none"),
    ("gnutls", "srv-tls12-cr-in-anon-suite", "1.2"): ("alert", "unexpected_message", "none"),
    ("gnutls", "srv-tls13-psk-without-cr", "1.3"): ("success", None, "none"),   # our PSK binder check agrees
    ("nss", "srv-tls13-psk-without-cr", "1.3"): ("success", None, "none"),
    ("go", "srv-tls12-cr-empty-signature-algorithms", "1.2"): ("success", None, "sent"),   # sends it anyway
    ("java", "srv-tls12-cr-empty-signature-algorithms", "1.2"): ("alert", "illegal_parameter", "none"),
    ("gnutls", "srv-tls12-renegotiation-hello-request", "1.2"): ("success", None, "sent"),
    ("go", "srv-tls12-renegotiation-hello-request", "1.2"): ("alert", "no_renegotiation", "none"),
    ("java", "srv-tls12-renegotiation-hello-request", "1.2"): ("success", None, "sent"),
    ("java", "srv-tls12-dhe", "1.2"): ("success", None, "sent"),
    # E09: the handshake succeeds; the first read reports certificate_required.
    ("go", "srv-tls13-reject-after-finished", "1.3"): ("client_error", None, "sent"),
    ("java", "srv-tls13-reject-after-finished", "1.3"): ("client_error", None, "sent"),
    ("nss", "srv-tls13-reject-after-finished", "1.3"): ("client_error", None, "sent"),
    ("nss", "srv-tls12-dhe", "1.2"): ("success", None, "sent"),
}


@pytest.mark.stack
@pytest.mark.parametrize("key", sorted(SLICE), ids=["-".join(k) for k in sorted(SLICE)])
def test_other_clients_slice(key, pki, tmp_path) -> None:
    stack, sid, version = key
    client = client_for(stack, REGISTRY[sid], pki, version, str(tmp_path))
    observed = run_server_scenario(REGISTRY[sid], Setup(pki, version), client, stack).observed
    assert (observed.outcome, observed.alert, observed.client_certificate) == SLICE[key], observed
    assert not observed.client_errors, observed   # e.g. a PSK binder or Finished that did not verify


@pytest.mark.stack
def test_late_rejection_is_reported_by_python_client(pki, tmp_path) -> None:
    """E09: the Python client's handshake 'succeeds'; the certificate_required alert surfaces on
    its first read, with OpenSSL's error text."""
    client = CLIENTS["python"](pki, "1.3", str(tmp_path))
    observed = run_server_scenario(REGISTRY["srv-tls13-reject-after-finished"], Setup(pki, "1.3"), client,
                                   "python").observed
    assert observed.outcome == "client_error" and observed.client_sent_request is True
    assert observed.client_failed == "after its handshake returned"
    assert "CERTIFICATE_REQUIRED" in observed.client_output


@pytest.mark.stack
def test_certlab_serve_with_curl(pki, tmp_path) -> None:
    """``certlab serve`` waits for any client (here curl, started by hand) and reports what it sent."""
    import os
    import re
    import subprocess
    import sys
    import time
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    serve = subprocess.Popen([sys.executable, "-m", "lab", "serve", "srv-ca-names-issuer", "--pki", pki.root,
                              "--wait", "20", "--json"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        line = serve.stderr.readline()   # with --json, stdout holds the JSON alone
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        cli = pki.identity("rsa", "client")
        time.sleep(0.2)
        curl = subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1",
                               "--cacert", cli.ca, "--cert", cli.cert, "--key", cli.key, f"https://localhost:{port}/"],
                              capture_output=True, text=True, timeout=30)
        out, err = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert curl.returncode == 0 and curl.stdout == "certlab\n", curl.stderr
    assert serve.returncode == 0, err
    import json
    observed = json.loads(out)["results"][0]["observed"]
    assert observed["client_certificate"] == "sent" and observed["client_chain"][0] == "CN=lab-client,O=TLS Lab"


@pytest.mark.stack
@pytest.mark.parametrize("stack,chosen", [("go", "CN=other-client,O=TLS Lab"), ("java", "CN=other-client,O=TLS Lab"),
                                          ("nss", "CN=other-client,O=TLS Lab"),
                                          ("openssl", "CN=other-client,O=TLS Lab")])
def test_certificate_choice_by_ca_names(stack: str, chosen: str, pki, tmp_path) -> None:
    """E02 with two certificates: Go, JSSE and NSS pick the one whose CA the request names; s_client,
    given both as extended certificates (-xcert), tries the last one given first, and that is the
    one named here (test_choice shows it sends it when another CA is named too)."""
    sc = REGISTRY["srv-two-certs-ca-choice"]
    observed = run_server_scenario(sc, Setup(pki, "1.3"), client_for(stack, sc, pki, "1.3", str(tmp_path)),
                                   stack).observed
    assert observed.client_certificate == "sent" and observed.client_chain[0] == chosen, observed


@pytest.mark.stack
@pytest.mark.parametrize("sid,version,visible", [("srv-client-cert-visibility", "1.2", True),
                                                 ("srv-client-cert-visibility", "1.3", False),
                                                 ("srv-tls12-renegotiation-hello-request", "1.2", False)])
def test_client_certificate_visibility(sid: str, version: str, visible: bool, pki, tmp_path) -> None:
    """K01 and G01 from the server side: a passive observer (tshark without keys) reads the TLS
    1.2 client certificate, but not the TLS 1.3 one nor one sent in a renegotiation; with the
    key log embedded in the run's pcapng, tshark reads it in every case."""
    from scapy.utils import rdpcap, wrpcap
    from tests.tshark_ref import tshark_view
    sc = REGISTRY[sid]
    result = run_server_scenario(sc, Setup(pki, version), client_for("openssl", sc, pki, version, str(tmp_path)),
                                 "openssl", pcap_dir=str(tmp_path))
    assert result.verdict == "pass", result
    plain = str(tmp_path / "plain.pcap")
    wrpcap(plain, rdpcap(result.pcap))  # the same packets without the embedded key log
    assert bool(tshark_view(plain).certificates["client"]) == visible
    assert tshark_view(result.pcap).certificates["client"]
