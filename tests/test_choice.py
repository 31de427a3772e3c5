"""Which certificate each client sends, checked against an independent observation: the same
client program, holding the same certificates, against `openssl s_server -verify` configured by
hand (its CertificateRequest names the CAs of its -CAfile, with the signature algorithms of
certlab's own request); the certificate s_server logs at depth 0 must be the one certlab's
server saw for the same CA list, in TLS 1.2 and 1.3."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from lab.peers.clients import all_clients
from lab.peers.process import ManagedProcess, free_port
from lab.pki import WALLET

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CI's slice: the clients that start quickly (the full set runs with CERTLAB_CHOICE_ALL=1)
FAST = ("openssl", "python", "go", "nss", "gnutls", "node", "erlang", "wget")
BROWSERS = ("chromium",)   # they open several connections and choose between them: s_server -www serves them all
CLIENTS = FAST + ("java", "curl", "tlslite") + BROWSERS if os.environ.get("CERTLAB_CHOICE_ALL") else FAST + BROWSERS
# certlab's scenario -> the file whose CAs s_server names
VARIANTS = {"choose-names-a": "ca.crt", "choose-names-b": "other-ca.crt", "choose-names-intermediate": "intermediate.crt"}
SIGALGS = ("rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:ECDSA+SHA256:ECDSA+SHA384:ed25519:"
           "rsa_pss_pss_sha256:RSA+SHA256:RSA+SHA384")   # lab.engine.server.CR_SCHEMES, in OpenSSL's words
CN = {"lab-client": "client", "other-client": "other-client", "lab-client-p256": "client-p256",
      "lab-client-chained": "client-chained", "lab-client-eku-server": "client-eku-server"}


def _cases(stack: str) -> list[tuple[str, str]]:
    """(scenario, TLS version) to compare: a browser takes seconds a run, so CI takes a slice."""
    if stack in BROWSERS and not os.environ.get("CERTLAB_CHOICE_ALL"):
        return [("choose-names-a", "1.3"), ("choose-names-b", "1.3")]
    return [(sid, v) for sid in VARIANTS for v in ("1.2", "1.3")]


def _certlab(stack: str, pki) -> dict[tuple[str, str], str]:
    cases = _cases(stack)
    tls = ["--tls", cases[0][1]] if len({v for _, v in cases}) == 1 else []
    proc = subprocess.run([sys.executable, "-m", "lab", "run", *dict.fromkeys(s for s, _ in cases), "--stack", stack,
                           "--pki", pki.root, "--json", *tls], cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = {}
    for r in json.loads(proc.stdout)["results"]:
        o = r["observed"] or {}
        assert r["verdict"] in ("pass", "fail"), r
        sent = o.get("client_choice") or o.get("client_certificate")
        out[(r["scenario"], r["tls_version"])] = "no Certificate" if sent == "none" else sent
    return out


def _by_hand(stack: str, version: str, cafile: str, pki, folder: str) -> str:
    """What s_server saw the client send: the wallet name of the leaf, "empty", or "no Certificate"
    (OpenSSL 3.0 has no certificate compression: tlslite-ng's CompressedCertificate is an
    unexpected message to it)."""
    port = free_port()
    rsa = pki.path("rsa", "server.crt").rsplit("/", 1)[0]
    argv = ["stdbuf", "-oL", "openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", f"{rsa}/server.crt", "-key",
            f"{rsa}/server.key", "-CAfile", f"{rsa}/{cafile}", "-verify", "4", f"-tls1_{version[-1]}",
            *(["-www"] if stack in BROWSERS else ["-naccept", "1"]),
            "-client_sigalgs", SIGALGS]
    prefix = os.path.join(folder, f"s_server-{stack}-{version}-{cafile}")
    with ManagedProcess(argv, prefix, port=port, stdin=True):
        client = all_clients()[stack](pki, version, folder, certs=WALLET)
        client.start(port)
        deadline, log = time.monotonic() + 10, ""
        while time.monotonic() < deadline and not client.finished and (stack in BROWSERS or "CIPHER is" not in log):
            time.sleep(0.05)   # s_server's handshake with it done: what it sent is in the log
            with open(prefix + ".out", errors="replace") as fh, open(prefix + ".err", errors="replace") as fe:
                log = fh.read() + fe.read()
        client.stop()
    leaf = re.findall(r"^depth=0 .*CN = ([\w-]+)", log, re.M)
    if leaf:
        return CN[leaf[-1]]
    if "CIPHER is" in log or (stack in BROWSERS and "no client certificate available" in open(
            os.path.join(folder, f"{stack}-client-{port}.out"), errors="replace").read()):
        return "empty"
    return "no Certificate" if "unexpected message" in log else f"s_server: {log.strip().splitlines()[-1:]}"


@pytest.mark.parametrize("stack", CLIENTS)
def test_the_certificate_chosen_is_the_one_chosen_against_s_server(stack, pki, tmp_path) -> None:
    ours = _certlab(stack, pki)
    theirs = {(sid, v): _by_hand(stack, v, VARIANTS[sid], pki, str(tmp_path)) for sid, v in _cases(stack)}
    assert ours == theirs


def _serve_with(pki, tmp_path, scenario: str, holds: list[str], client_argv) -> tuple[dict, int]:
    """``certlab serve SCENARIO --holds ...`` with a client program started by hand."""
    serve = subprocess.Popen([sys.executable, "-m", "lab", "serve", scenario, "--pki", pki.root, "--wait", "20",
                              "--json", *(a for h in holds for a in ("--holds", h))], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r"127\.0\.0\.1:(\d+)", serve.stderr.readline()).group(1))
        subprocess.run(client_argv(port), input="", capture_output=True, text=True, timeout=30)
        out, _ = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
    return json.loads(out)["results"][0], serve.returncode


def test_serve_holds_names_the_certificate_sent_and_what_the_request_allows(pki, tmp_path) -> None:
    """The user's client (s_client with two extended certificates, RSA and P-256) against
    `serve choose-sigalgs-ecdsa --holds rsa --holds p256`: s_client sends the P-256 one (the only
    key that can sign with the request's ECDSA schemes), and certlab names it among the user's
    files, with the RSA one not allowed and why."""
    rsa, p256 = pki.identity("rsa", "client"), pki.identity("rsa", "client-p256")

    def s_client(port: int) -> list[str]:
        return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", rsa.ca, "-quiet",
                "-xcert", rsa.cert, "-xkey", rsa.key, "-xcert", p256.cert, "-xkey", p256.key]
    result, code = _serve_with(pki, tmp_path, "choose-sigalgs-ecdsa", [rsa.cert, p256.cert], s_client)
    o = result["observed"]
    verdicts = {h["name"]: h for h in o["holdings"]}
    assert o["client_choice"] == p256.cert and o["client_chain"][0] == "CN=lab-client-p256,O=TLS Lab"
    assert verdicts[p256.cert]["fits"] and not verdicts[rsa.cert]["fits"]
    assert "signature_algorithms" in verdicts[rsa.cert]["why"]
    assert result["verdict"] == "pass" and code == 0


def test_serve_judges_a_certificate_it_was_not_told_of_as_sent(pki, tmp_path) -> None:
    """A client that sends a serverAuth-only certificate (curl given client-eku-server): serve,
    told of another certificate only, judges the one sent by itself: not allowed (RFC 5280
    4.2.1.12), so the cell fails, and exits 1."""
    other, eku = pki.identity("rsa", "other-client"), pki.identity("rsa", "client-eku-server")

    def curl(port: int) -> list[str]:
        return ["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", eku.ca,
                "--cert", eku.cert, "--key", eku.key, f"https://localhost:{port}/"]
    result, code = _serve_with(pki, tmp_path, "choose-names-b", [other.cert], curl)
    sent = [h for h in result["observed"]["holdings"] if h["name"] == result["observed"]["client_choice"]]
    assert sent and "lab-client-eku-server" in sent[0]["name"] and "clientAuth" in sent[0]["why"]
    assert result["verdict"] == "fail" and code == 1
