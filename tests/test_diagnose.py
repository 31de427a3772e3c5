"""``certlab diagnose`` on captures of real stacks made at test time (tcpdump on loopback), its
facts compared with tshark's reading of the same file: whether a certificate was requested and
with which CA names, the client's chain (SHA-256 of each certificate), the alert and who sent
it, the HTTP status, the client random; plus the verdict a user needs for each case."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from lab.tools import diagnose
from lab.dissect import dissect
from tests.stackrec import Recording, record
from tests.test_dissect_stacks import CASES as DISSECT_CASES
from tests.tshark_ref import tshark_view

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NGINX_CONF = """daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
error_log {d}/nginx-error.log info; events {{ worker_connections 16; }}
http {{ client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; access_log {d}/access.log;
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3; ssl_client_certificate {ca}; ssl_verify_client {verify};
    location / {{ default_type text/plain; return 200 "verify=$ssl_client_verify\\n"; }} }} }}
"""


def nginx(pki, folder: str, verify: str):
    def argv(port: int, keylog: str) -> list[str]:
        srv = pki.identity("rsa", "server")
        conf = os.path.join(folder, f"nginx-{port}.conf")
        with open(conf, "w") as fh:
            fh.write(NGINX_CONF.format(d=folder, port=port, cert=srv.cert, key=srv.key, ca=srv.ca, verify=verify))
        return ["nginx", "-e", os.path.join(folder, "nginx-stderr.log"), "-c", conf]
    return argv


def curl(pki, version: str, who: str | None = "client"):
    def argv(port: int, keylog: str) -> list[str]:
        out = ["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1",
               "--cacert", pki.identity("rsa", "server").ca, f"--tlsv{version}", "--tls-max", version]
        if who:
            ident = pki.identity("rsa", who)
            out += ["--cert", ident.cert, "--key", ident.key]
        return out + [f"https://localhost:{port}/"]
    return argv


CASES = {  # name -> recording; each a situation users bring to diagnose
    "nginx-tls12-ok": lambda pki, d: record(d, "ok12", nginx(pki, d, "on"), curl(pki, "1.2"), keylog_from="client"),
    "nginx-tls13-ok": lambda pki, d: record(d, "ok13", nginx(pki, d, "on"), curl(pki, "1.3"), keylog_from="client"),
    "nginx-tls13-no-cert": lambda pki, d: record(d, "nocert", nginx(pki, d, "on"), curl(pki, "1.3", None),
                                                 keylog_from="client"),
    "nginx-tls12-untrusted-accepted": lambda pki, d: record(d, "noca", nginx(pki, d, "optional_no_ca"),
                                                            curl(pki, "1.2", "other-client"), keylog_from="client"),
    "openssl-tls13-unknown-ca": DISSECT_CASES["openssl-tls13-failed-unknown-ca"],
    "openssl-tls12-unknown-ca": DISSECT_CASES["openssl-tls12-failed-unknown-ca"],
    "gnutls-client-tls13": DISSECT_CASES["gnutls-client-tls13"],
    "openssl-tls12-renegotiation": DISSECT_CASES["openssl-tls12-renegotiation"],
    "python-pha-tls13": DISSECT_CASES["python-pha-tls13"],
}
VERDICTS = {  # name -> (verdict, words the cause must contain)
    "nginx-tls12-ok": ("authenticated", "CN=lab-client"),
    "nginx-tls13-ok": ("authenticated", "CN=lab-client"),
    "nginx-tls13-no-cert": ("rejected", "empty Certificate (HTTP 400)"),
    "nginx-tls12-untrusted-accepted": ("accepted anyway", "CN=Other CA RSA,O=TLS Lab is not among the CAs"),
    "openssl-tls13-unknown-ca": ("rejected", "CN=Other CA RSA,O=TLS Lab is not among the CAs"),
    "openssl-tls12-unknown-ca": ("rejected", "CN=Other CA RSA,O=TLS Lab is not among the CAs"),
    "gnutls-client-tls13": ("authenticated", "CN=lab-client"),
    "openssl-tls12-renegotiation": ("authenticated", "CN=lab-client"),
    "python-pha-tls13": ("authenticated", "CN=lab-client"),
}


@pytest.fixture(scope="module")
def recordings() -> dict[str, Recording]:
    return {}


def _rec(name: str, pki, recordings: dict, factory) -> Recording:
    if name not in recordings:
        recordings[name] = CASES[name](pki, str(factory.mktemp(name)))
    return recordings[name]


def _http_status(rec: Recording) -> int | None:
    out = subprocess.run(["tshark", "-r", rec.pcap, "-o", f"tls.keylog_file:{rec.keylog}", "-d",
                          f"tls.port=={rec.port},http", "-Y", "http.response.code", "-T", "fields", "-e",
                          "http.response.code"], capture_output=True, text=True, timeout=60).stdout.split()
    return int(out[0]) if out else None


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnose_facts_match_tshark(name: str, pki, recordings, tmp_path_factory) -> None:
    rec = _rec(name, pki, recordings, tmp_path_factory)
    [d] = diagnose.diagnose(dissect(rec.pcap, rec.keylog))
    ws = tshark_view(rec.pcap, rec.keylog, rec.port)
    assert ws.malformed == 0
    ws_requested = ("handshake", 13) in ws.messages["server"]
    assert d["requested"] is ws_requested
    if ws.ca_names:  # the CA names of the (last) request, value by value
        named = d["request"].get("certificate_authorities", [])
        assert len(named) == len(ws.ca_names[-1])
        for dn, values in zip(named, ws.ca_names[-1]):
            assert all(v in dn for v in values), (dn, values)
    ws_chain = ws.certificates["client"][-1] if ws.certificates["client"] else []
    ours = [c["sha256"] for c in d.get("chain", [])]
    assert ours == [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest() for c in ws_chain]
    assert d["answer"] == ("certificate" if ws_chain else "empty" if ("handshake", 11) in ws.messages["client"]
                           else "none")
    ws_alerts = {side: [code for kind, code in ws.messages[side] if kind == "alert" and code != 0]
                 for side in ("client", "server")}
    alert = d["ending"].get("alert")
    if alert:
        assert alert["code"] in ws_alerts[alert["from"]]
    else:
        assert not ws_alerts["client"] and not ws_alerts["server"]
    if "nginx" in name:
        assert d["ending"]["http"]["status"] == _http_status(rec)
    verdict, words = VERDICTS[name]
    assert d["verdict"] == verdict and words in d["cause"] + d["fix"], d


def test_diagnose_tls13_without_keys_names_the_key_log_lines(pki, recordings, tmp_path_factory) -> None:
    """Without a key log a TLS 1.3 certificate exchange is hidden: the verdict says so and names
    the key log lines (and the client random tshark reads in the ClientHello) that would reveal it."""
    rec = _rec("nginx-tls13-ok", pki, recordings, tmp_path_factory)
    proc = subprocess.run([sys.executable, "-m", "lab", "diagnose", rec.pcap, "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [d] = json.loads(proc.stdout)["connections"]
    random = subprocess.run(["tshark", "-r", rec.pcap, "-d", f"tcp.port=={rec.port},tls", "-Y",
                             "tls.handshake.type==1", "-T", "fields", "-e", "tls.handshake.random"],
                            capture_output=True, text=True, timeout=60).stdout.split()[0].replace(":", "")
    assert d["verdict"] == "unknown" and d["requested"] is None
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in d["hidden"] and random in d["hidden"]


def test_diagnose_tls12_without_keys_still_reads_the_certificate(pki, recordings, tmp_path_factory) -> None:
    """TLS 1.2 sends the client certificate in the clear: the verdict needs no key log."""
    rec = _rec("nginx-tls12-untrusted-accepted", pki, recordings, tmp_path_factory)
    [d] = diagnose.diagnose(dissect(rec.pcap))
    assert d["answer"] == "certificate" and d["chain"][0]["subject"] == "CN=other-client,O=TLS Lab"
    assert d["chain_facts"]["reaches_named_ca"] is False
