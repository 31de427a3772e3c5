"""`certlab probe` over a fleet: several targets and server names at once. nginx, configured by
hand with two virtual hosts on one port that ask for different CAs (the vhost trap), and a port
where nothing listens; the CA names are compared with what `openssl s_client -servername` lists."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests import ownpki

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VHOST = """  server {{
    listen 127.0.0.1:{port} ssl;
    server_name {name};
    ssl_certificate {d}/srv.crt; ssl_certificate_key {d}/srv.key;
    ssl_client_certificate {d}/{ca}; ssl_verify_client {verify};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ return 200 "hello\\n"; }}
  }}
"""


@pytest.fixture(scope="module")
def vhosts(tmp_path_factory):
    d = ownpki.make(str(tmp_path_factory.mktemp("fleet")))
    ownpki.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "partner-ca.key", "-out",
                   "partner-ca.crt", "-subj", "/O=Partner/CN=Partner CA", "-days", "30", cwd=d)
    port = ownpki.free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(f"daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n"
                 f"error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\nhttp {{\n"
                 f"  access_log {d}/access.log; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n"
                 f"  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
                 + VHOST.format(port=port, name="app.internal", d=d, ca="ca.crt", verify="on")
                 + VHOST.format(port=port, name="partner.internal", d=d, ca="partner-ca.crt", verify="optional")
                 + "}\n")
    with ownpki.nginx(conf, port):
        yield d, port


def _s_client_cas(port: int, name: str) -> list[str]:
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name, "-tls1_3"],
                         input=b"", capture_output=True, timeout=30).stdout.decode()
    block = out.split("Acceptable client certificate CA names")[1].split("Requested Signature")[0]
    return [line.strip() for line in block.strip().splitlines() if "=" in line]


def test_fleet_reports_each_name_and_the_ca_names_that_differ(vhosts, tmp_path) -> None:
    d, port = vhosts
    dead = ownpki.free_port()
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# the fleet\n127.0.0.1:{port}\n127.0.0.1:{dead}   # nothing listens here\n")
    proc = subprocess.run([sys.executable, "-m", "lab", "probe", "--targets", str(listing), "--sni",
                           "app.internal,partner.internal", "--tls", "1.3", "--jobs", "4", "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert proc.returncode == 1, proc.stderr           # one target could not be probed
    fleet = json.loads(proc.stdout)
    by = {(r["target"], r["server_name"]): r for r in fleet["targets"]}
    app = by[(f"127.0.0.1:{port}", "app.internal")]["versions"]["1.3"]["policy"]
    partner = by[(f"127.0.0.1:{port}", "partner.internal")]["versions"]["1.3"]["policy"]
    assert app["required"] is True and partner["required"] is False
    # openssl prints "O = Acme, CN = Acme Client CA"; certlab RFC 4514 order "CN=Acme Client CA,O=Acme"
    def norm(dn: str) -> set[str]:
        return {p.replace(" ", "") for p in re.split(r",\s*", dn)}
    assert [norm(c) for c in app["certificate_authorities"]] == [norm(c) for c in _s_client_cas(port, "app.internal")]
    assert [norm(c) for c in partner["certificate_authorities"]] == \
        [norm(c) for c in _s_client_cas(port, "partner.internal")]
    [diff] = fleet["sni_differences"]
    assert diff["target"] == f"127.0.0.1:{port}" and set(diff["certificate_authorities"]) == {"app.internal",
                                                                                              "partner.internal"}
    assert "cannot connect" in by[(f"127.0.0.1:{dead}", "app.internal")]["error"]
    text = subprocess.run([sys.executable, "-m", "lab", "probe", f"127.0.0.1:{port}", "--sni",
                           "app.internal,partner.internal", "--tls", "1.3"], capture_output=True, text=True,
                          cwd=ROOT, timeout=180).stdout
    assert f"CA names differ by SNI on 127.0.0.1:{port} TLS 1.3" in text and "required (handshake)" in text


def test_a_hand_configured_nginx_is_recognised_as_nginx(vhosts) -> None:
    d, port = vhosts
    proc = subprocess.run([sys.executable, "-m", "lab", "probe", f"127.0.0.1:{port}", "--sni", "app.internal",
                           "--json"], capture_output=True, text=True, cwd=ROOT, timeout=180)
    fp = json.loads(proc.stdout)["fingerprint"]
    assert fp["stacks"] == ["nginx"] and fp["confidence"] == 1.0, fp


def test_a_fleet_of_mixed_policies_is_reported_server_by_server(tmp_path, pki) -> None:
    """30 servers (Python ssl: no request, CERT_OPTIONAL, CERT_REQUIRED in turn), 16 at a time:
    each policy comes out as the server was configured (benchmarks/bench_probe.py does 200)."""
    import threading
    from tests.policy_servers import MODES, serve
    stop = threading.Event()
    modes = [list(MODES)[i % 3] for i in range(30)]
    try:
        ports = [serve(pki, m, stop) for m in modes]
        listing = tmp_path / "fleet.txt"
        listing.write_text("".join(f"127.0.0.1:{p}\n" for p in ports))
        proc = subprocess.run([sys.executable, "-m", "lab", "probe", "--targets", str(listing), "--jobs", "16",
                               "--tls", "1.3", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    finally:
        stop.set()
    assert proc.returncode == 0, proc.stderr
    seen = []
    for r in json.loads(proc.stdout)["targets"]:
        pol = r["versions"]["1.3"]["policy"]
        seen.append("none" if pol["requests_certificate"] == ["never"] else
                    "required" if pol["required"] else "optional")
    assert seen == modes
