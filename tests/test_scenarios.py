"""Scenarios with certlab as the client against real servers: the engine drives OpenSSL's
s_server and Python's ssl through normal and broken client-auth handshakes; the verdicts say
whether each server reacted as the RFC requires. Plus the engine sans-IO, and the run's pcap
read by tshark."""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys

import pytest

import scenarios  # noqa: F401
from lab.peers.servers import SERVERS, server_classes
from lab.play.cells import run_scenario
from lab.play.client import play_client
from lab.script.setup import Setup
from lab.script.dsl import REGISTRY
from lab.transport import MemorySSLServer, SocketTransport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def _applicable(stack: str, sid: str, version: str) -> bool:
    """Whether this stack can run this scenario at all (mode and features), decided before running."""
    from lab.peers.registry import skip_reason
    return skip_reason(SERVERS[stack](None, version, REGISTRY[sid].server_mode, ""), REGISTRY[sid]) is None


# Python's ssl server answers F06's control (a bad CertificateVerify after a KeyUpdate) with
# decrypt_error, or under load with its own KeyUpdate and a close without an alert (seen in 4 of
# 12 loaded runs): a race in the server, not a verdict CI can hold it to.
RACY = {("python", "tls13-pha-keyupdate-before-bad-signature")}
CASES = [(stack, sid, v) for stack in ("python", "openssl") for sid in sorted(REGISTRY)
         if REGISTRY[sid].role == "client" and (stack, sid) not in RACY
         for v in sorted(REGISTRY[sid].versions) if _applicable(stack, sid, v)]
REQUIRED = {"tls12-rsa-kx-client-cert", "tls12-ecdhe-client-cert", "tls13-client-cert", "tls12-no-cert-required",
            "tls13-no-cert-required", "tls12-untrusted-client-cert", "tls13-untrusted-client-cert",
            "tls12-cv-wrong-key", "tls13-cv-wrong-key", "tls13-pha-client-cert", "tls12-renegotiation-client-cert"}


def test_required_ids_exist() -> None:
    assert REQUIRED <= set(REGISTRY)
    # Every required id runs in CI against python or openssl.
    assert REQUIRED <= {sid for _, sid, _ in CASES}


@pytest.mark.stack
@pytest.mark.parametrize("stack,sid,version", CASES, ids=[f"{a}-{b}-{c}" for a, b, c in CASES])
def test_scenario_against_server(stack: str, sid: str, version: str, pki, tmp_path) -> None:
    sc = REGISTRY[sid]
    with SERVERS[stack](pki, version, sc.server_mode, str(tmp_path)) as peer:
        result = run_scenario(sc, Setup(pki, version), lambda: SocketTransport("127.0.0.1", peer.port), stack,
                              pcap_dir=str(tmp_path), hooks=peer.hooks())
    assert result.verdict == "pass", result
    assert not result.observed.server_errors, result


# What each other stack did when observed (2026-11-28, Debian 12 packages): a representative slice,
# re-checked on every CI run. Differences from the RFC's expectation are findings, kept on purpose.
SLICE = {
    "nginx": {("tls13-client-cert", "1.3"): ("success", None), ("tls12-rsa-kx-client-cert", "1.2"): ("success", None),
              ("tls13-untrusted-client-cert", "1.3"): ("app_rejected", None),
              ("tls12-no-cert-required", "1.2"): ("app_rejected", None),
              ("tls13-cv-wrong-key", "1.3"): ("alert", "decrypt_error")},
    "gnutls": {("tls13-client-cert", "1.3"): ("success", None), ("tls12-ecdhe-client-cert", "1.2"): ("success", None),
               ("tls13-untrusted-client-cert", "1.3"): ("alert", "access_denied"),
               ("tls13-cv-wrong-key", "1.3"): ("alert", "decrypt_error"),
               ("tls13-pha-client-cert", "1.3"): ("success", None),
               ("tls13-pha-keyupdate-before-answer", "1.3"): ("alert", "decode_error")},
    "nss": {("tls13-client-cert", "1.3"): ("success", None), ("tls12-rsa-kx-client-cert", "1.2"): ("success", None),
            ("tls13-no-cert-required", "1.3"): ("alert", "certificate_required"),
            ("client-cert-ed25519", "1.3"): ("alert", "illegal_parameter"),
            ("tls13-pha-client-cert", "1.3"): ("success", None),
            ("tls12-renegotiation-client-cert", "1.2"): ("success", None)},
    "go": {("tls13-client-cert", "1.3"): ("success", None), ("tls12-rsa-kx-client-cert", "1.2"): ("success", None),
           ("tls13-untrusted-client-cert", "1.3"): ("alert", "bad_certificate"),
           ("tls12-cv-wrong-key", "1.2"): ("alert", "decrypt_error")},
    "java": {("tls13-client-cert", "1.3"): ("success", None), ("tls12-ecdhe-client-cert", "1.2"): ("success", None),
             ("tls13-untrusted-client-cert", "1.3"): ("alert", "certificate_unknown"),
             ("tls12-cv-wrong-key", "1.2"): ("alert", "handshake_failure"),
             ("tls12-renegotiation-client-cert", "1.2"): ("success", None),
             ("tls12-resumption-client-cert", "1.2"): ("success", None)},
}
SLICE_CASES = [(stack, sid, v, exp) for stack, cases in SLICE.items() for (sid, v), exp in cases.items()]


@pytest.mark.stack
@pytest.mark.parametrize("stack,sid,version,expected", SLICE_CASES,
                         ids=[f"{a}-{b}-{c}" for a, b, c, _ in SLICE_CASES])
def test_other_stacks_slice(stack: str, sid: str, version: str, expected, pki, tmp_path) -> None:
    sc = REGISTRY[sid]
    with server_classes()[stack](pki, version, sc.server_mode, str(tmp_path)) as peer:
        result = run_scenario(sc, Setup(pki, version), lambda: SocketTransport("127.0.0.1", peer.port), stack,
                              hooks=peer.hooks())
    observed = result.observed
    assert (observed.outcome, observed.alert) == expected, observed
    assert not observed.server_errors, observed


def test_engine_sans_io_against_python_ssl(pki) -> None:
    """No socket at all: the engine and Python's ssl server object exchange bytes in memory."""
    for version in ("1.2", "1.3"):
        srv = pki.identity("rsa", "server")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, f"TLSv1_{version[-1]}")
        ctx.load_cert_chain(srv.cert, srv.key)
        ctx.load_verify_locations(srv.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        sid = "tls13-client-cert" if version == "1.3" else "tls12-ecdhe-client-cert"
        run = play_client(REGISTRY[sid], Setup(pki, version), MemorySSLServer(ctx), timeout=0.05)
        observed = run.observed
        assert observed.outcome == "success" and observed.http_status == 200, observed
        assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in run.engine.keylog or "CLIENT_RANDOM" in run.engine.keylog


@pytest.mark.stack
def test_run_cli_json_and_pcap_read_by_tshark(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "lab", "run", "tls13-cv-wrong-key", "tls12-rsa-kx-client-cert",
                          "--stack", "openssl", "--json", "--pcap-dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert [r["scenario"] for r in results] == ["tls13-cv-wrong-key", "tls12-rsa-kx-client-cert"]
    cv = results[0]
    assert set(cv) >= {"scenario", "stack", "tls_version", "verdict", "observed", "expected", "rfc", "pcap"}
    assert cv["observed"]["alert"] == "decrypt_error" and cv["observed"]["alert_code"] == 51
    assert cv["observed"]["alert_level"] == "fatal" and cv["observed"]["alert_from"] == "server"
    assert cv["observed"]["when"] == "after_client_finished"
    for r in results:
        fields = subprocess.run(["tshark", "-r", r["pcap"], "-Y", "tls", "-T", "fields", "-e", "frame.comment",
                                 "-e", "tls.handshake.type", "-e", "_ws.malformed"],
                                capture_output=True, text=True, check=True).stdout
        rows = [line.split("\t") for line in fields.strip().splitlines()]
        assert not any(row[2] for row in rows if len(row) > 2)
        types = ",".join(row[1] for row in rows if len(row) > 1 and row[1])
        assert "11" in types.split(",") and "15" in types.split(","), types  # decrypted with no option set
        assert any("CertificateVerify" in row[0] for row in rows)
    keys = os.path.splitext(results[0]["pcap"])[0] + ".keys"
    assert oct(os.stat(keys).st_mode & 0o777) == "0o600"


def test_run_cli_usage_errors() -> None:
    out = subprocess.run([sys.executable, "-m", "lab", "run", "no-such-scenario"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "certlab list" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.stack
def test_visibility_of_the_client_certificate(pki, tmp_path) -> None:
    """K01: without keys a passive observer reads the TLS 1.2 client certificate, not the 1.3 one;
    with the run's key log both are visible. Checked with the dissector and with tshark."""
    from lab.dissect import dissect
    from tests.tshark_ref import tshark_view
    sc = REGISTRY["tls-client-cert-visibility"]
    for version, visible in (("1.2", True), ("1.3", False)):
        with SERVERS["openssl"](pki, version, "required", str(tmp_path)) as peer:
            result = run_scenario(sc, Setup(pki, version), lambda: SocketTransport("127.0.0.1", peer.port),
                                  "openssl", pcap_dir=str(tmp_path))
        plain = os.path.join(tmp_path, f"plain-{version}.pcap")
        from scapy.utils import rdpcap, wrpcap
        wrpcap(plain, rdpcap(result.pcap))  # the same packets without the embedded key log
        auth = dissect(plain).connections[0].client_auth
        assert (auth["certificate_sent"] is True) == visible
        ws = tshark_view(plain)
        assert bool(ws.certificates["client"]) == visible
        assert dissect(result.pcap).connections[0].client_auth["certificate_sent"] is True


@pytest.mark.stack
@pytest.mark.parametrize("stack", ["openssl", "nginx", "go"])
def test_resumption_is_abbreviated(stack: str, pki, tmp_path) -> None:
    """A01 resumption: the second connection carries no Certificate or CertificateVerify (read
    back from the run's pcap by the dissector); session ids for OpenSSL, tickets for nginx and Go."""
    from lab.dissect import dissect
    sc = REGISTRY["tls12-resumption-client-cert"]
    with server_classes()[stack](pki, "1.2", sc.server_mode, str(tmp_path)) as peer:
        result = run_scenario(sc, Setup(pki, "1.2"), lambda: SocketTransport("127.0.0.1", peer.port), stack,
                              pcap_dir=str(tmp_path))
    assert result.verdict == "pass" and result.observed.resumed is True, result
    first, second = dissect(result.pcap).connections
    names = [m.name for m in second.messages if m.kind == "handshake"]
    assert "certificate" in [m.name for m in first.messages] and "certificate" not in names
    assert names[:2] == ["client_hello", "server_hello"] and "finished" in names


def test_what_a_proxy_told_its_application_is_matched_whole_and_absent_reads_empty() -> None:
    from lab.play.client import http_complete
    from lab.play.observed import Observed
    from lab.script.dsl import Outcome
    want = Outcome("success", forwarded=(("X-SSL-Client-Verify", "SUCCESS"), ("X-SSL-Client-DN", "")))
    assert want.matches(Observed("success", forwarded=("x-ssl-client-verify: SUCCESS", "Host: localhost")))
    assert not want.matches(Observed("success", forwarded=("X-SSL-Client-Verify: SUCCESS2",)))
    assert not want.matches(Observed("success", forwarded=("X-SSL-Client-Verify: SUCCESS", "X-SSL-Client-DN: x")))
    assert not want.matches(Observed("success"))   # the backend's answer never came
    assert not http_complete(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabc")
    assert http_complete(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabcde") and http_complete(b"HTTP/1.0 200\r\n\r\n")
