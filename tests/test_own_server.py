"""`certlab run --to`: the user's own server with the user's own PKI. The PKI is made outside
certlab (``openssl req``/``openssl x509 -req``, ``openssl pkcs12 -export``), nginx is configured
by hand, and what certlab reports is checked against nginx's own error log and against
``openssl s_client`` with the same credentials."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from tests import ownpki

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NGINX = """daemon off; master_process off; worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name app.internal;
    ssl_certificate {d}/srv.crt; ssl_certificate_key {d}/srv.key;
    ssl_client_certificate {d}/ca.crt; ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ return 200 "hello $ssl_client_s_dn\\n"; }}
  }}
}}
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A CA, a server and an encrypted-key ECDSA client ("alice", also as PKCS#12), all from the
    openssl CLI, and nginx requiring a client certificate under that CA."""
    if not shutil.which("nginx"):
        pytest.fail("nginx is missing: run scripts/setup")
    d = ownpki.make(str(tmp_path_factory.mktemp("own")))
    port = ownpki.free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as fh:
        fh.write(NGINX.format(d=d, port=port))
    with ownpki.nginx(os.path.join(d, "nginx.conf"), port):
        yield d, port


def certlab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "CERTLAB_KEY_PASSWORD"}
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**base, **(env or {})})


def _errors(d: str) -> list[str]:
    with open(os.path.join(d, "error.log")) as fh:
        return re.findall(r"client SSL certificate verify error: \((\d+):", fh.read())


def _s_client(d: str, port: int, *creds: str) -> str:
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "app.internal",
                          "-CAfile", os.path.join(d, "ca.crt"), "-quiet", *creds],
                         input=b"GET / HTTP/1.1\r\nHost: app.internal\r\nConnection: close\r\n\r\n",
                         capture_output=True, timeout=30)
    return out.stdout.decode("latin-1")


def test_your_own_certificate_with_an_encrypted_key_is_accepted_as_s_client_sees(own) -> None:
    d, port = own
    ours = certlab("run", "tls13-client-cert", "tls12-ecdhe-client-cert", "--to", f"127.0.0.1:{port}",
                   "--sni", "app.internal", "--server-ca", f"{d}/ca.crt", "--cert", f"{d}/alice.crt",
                   "--key", f"{d}/alice.key", "--http", "/", env={"CERTLAB_KEY_PASSWORD": "s3cret"})
    theirs = _s_client(d, port, "-cert", f"{d}/alice.crt", "-key", f"{d}/alice.key", "-pass", "pass:s3cret")
    assert "200 OK" in theirs and "hello CN=alice,O=Acme" in theirs
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert ours.stdout.count("success HTTP 200") == 2


def test_faulty_certificates_minted_under_your_ca_are_refused_for_the_reasons_nginx_logs(own) -> None:
    d, port = own
    before = len(_errors(d))
    ours = certlab("run", "expired-client-cert", "eku-server-only-client-cert", "client-cert-chained", "--tls", "1.3",
                   "--to", f"127.0.0.1:{port}", "--sni", "app.internal", "--server-ca", f"{d}/ca.crt",
                   "--p12", f"{d}/alice.p12", "--password-file", f"{d}/p12pw.txt",
                   "--client-ca", f"{d}/ca.crt", "--client-ca-key", f"{d}/ca.key", "--http", "/", "--json")
    assert ours.returncode == 0, ours.stderr
    import json
    doc = json.loads(ours.stdout)
    results = {r["scenario"]: r for r in (doc["results"] if isinstance(doc, dict) else doc)}
    assert results["expired-client-cert"]["observed"]["http_status"] == 400
    assert results["eku-server-only-client-cert"]["observed"]["http_status"] == 400
    assert results["client-cert-chained"]["observed"]["http_status"] == 200   # minted intermediate, under your CA
    assert results["client-cert-chained"]["server_certificate"]["trusted"] is True
    # X509_V_ERR_CERT_HAS_EXPIRED (10), X509_V_ERR_INVALID_PURPOSE (26): nginx's own reasons
    assert _errors(d)[before:] == ["10", "26"]


def test_a_variant_that_cannot_be_minted_is_na_with_the_option_it_needs(own) -> None:
    d, port = own
    ours = certlab("run", "expired-client-cert", "--tls", "1.3", "--to", f"127.0.0.1:{port}", "--insecure",
                   "--p12", f"{d}/alice.p12", "--password-file", f"{d}/p12pw.txt")
    assert ours.returncode == 0 and ours.stdout.startswith("SKIP")
    assert "needs --client-ca and --client-ca-key to mint a client-expired certificate under your CA" in ours.stdout


def test_a_server_your_trust_store_does_not_vouch_for_is_an_error_unless_insecure(own) -> None:
    d, port = own
    args = ("run", "tls13-client-cert", "--to", f"127.0.0.1:{port}", "--sni", "app.internal", "--http", "/",
            "--p12", f"{d}/alice.p12", "--password-file", f"{d}/p12pw.txt")
    system = certlab(*args)
    assert system.returncode == 1 and system.stdout.startswith("ERROR")
    assert "not trusted by /etc/ssl/certs/ca-certificates.crt for app.internal" in system.stdout
    assert certlab(*args, "--insecure").stdout.startswith("PASS")


@pytest.mark.parametrize("creds, env, message", [
    (("--cert", "alice.crt", "--key", "srv.key"), {}, "the key does not match the certificate (CN=alice,O=Acme)"),
    (("--cert", "ext.cnf", "--key", "alice.key"), {}, "not a certificate in PEM or DER form"),
    (("--cert", "alice.crt", "--key", "alice.key"), {}, "is encrypted: give --password-file FILE or set "
                                                         "CERTLAB_KEY_PASSWORD"),
    (("--cert", "alice.crt", "--key", "alice.key"), {"CERTLAB_KEY_PASSWORD": "wrong"}, "the password does not decrypt"),
    (("--p12", "alice.p12"), {"CERTLAB_KEY_PASSWORD": "wrong"}, "the password does not open it"),
    (("--cert", "alice.crt"), {}, "--cert and --key go together"),
])
def test_credentials_that_cannot_be_used_are_one_line_exit_2(own, creds, env, message) -> None:
    d, port = own
    creds = tuple(f"{d}/{c}" if not c.startswith("--") else c for c in creds)
    proc = certlab("run", "tls13-client-cert", "--to", f"127.0.0.1:{port}", "--insecure", *creds, env=env)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_matrix_puts_your_server_beside_the_managed_stacks(own, tmp_path) -> None:
    import json
    d, port = own
    out = tmp_path / "m"
    proc = certlab("matrix", "--stacks", "openssl", "--scenarios", "tls13-client-cert,expired-client-cert",
                   "--tls", "1.3", "--to", f"127.0.0.1:{port}", "--sni", "app.internal", "--server-ca", f"{d}/ca.crt",
                   "--p12", f"{d}/alice.p12", "--password-file", f"{d}/p12pw.txt", "--client-ca", f"{d}/ca.crt",
                   "--client-ca-key", f"{d}/ca.key", "--http", "/", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {(r["scenario"], r["stack"]): r for r in json.loads((out / "results.json").read_text())["results"]}
    mine = f"127.0.0.1:{port}"
    assert results[("tls13-client-cert", mine)]["observed"]["http_status"] == 200
    assert results[("expired-client-cert", mine)]["observed"]["http_status"] == 400
    assert results[("expired-client-cert", "openssl")]["observed"]["alert"] == "certificate_expired"
    assert f"| {mine} (your server) |" in (out / "report.md").read_text()


def test_serve_with_your_certificate_checks_the_client_against_your_ca(own, tmp_path) -> None:
    """`serve --cert/--key --client-ca`: openssl s_client trusts the server by your CA; the
    client's chain is judged as `openssl verify -purpose sslclient` judges it."""
    import json
    d, _ = own
    pki = tmp_path / "lab"
    assert certlab("pki", "init", str(pki)).returncode == 0
    for cert, key, trusted in ((f"{d}/alice.crt", f"{d}/alice-plain.key", True),
                               (f"{pki}/rsa/client.crt", f"{pki}/rsa/client.key", False)):
        serve = subprocess.Popen([sys.executable, "-m", "lab", "serve", "srv-tls12-rsa-kx", "--pki", str(pki),
                                  "--cert", f"{d}/srv.crt", "--key", f"{d}/srv.key", "--client-ca", f"{d}/ca.crt",
                                  "--wait", "20", "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)
        try:
            line = serve.stderr.readline()
            assert "your certificate (CN=app.internal)" in line
            port = int(line.split("127.0.0.1:")[1].split(";")[0])
            client = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                                     "app.internal", "-CAfile", f"{d}/ca.crt", "-verify_return_error", "-cert", cert,
                                     "-key", key, "-tls1_2"], input=b"Q\n", capture_output=True, timeout=30)
            out, _ = serve.communicate(timeout=30)
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGTERM)
                serve.wait(10)
        assert b"Verify return code: 0 (ok)" in client.stdout
        check = json.loads(out)["results"][0]["client_certificate_check"]
        assert check["trusted"] is trusted, check
        if not trusted:
            assert "unable to get local issuer certificate" in check["problem"]


def test_an_openssl_s_server_run_by_hand_agrees_with_run_and_probe(own, tmp_path) -> None:
    """`openssl s_server -Verify 1` with the openssl-made PKI: what certlab reports (required; the
    untrusted client refused with unknown_ca; yours taken) is what s_server itself prints."""
    import json
    d, _ = own
    port = ownpki.free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", f"{d}/srv.crt",
                               "-key", f"{d}/srv.key", "-CAfile", f"{d}/ca.crt", "-Verify", "1",
                               "-verify_return_error", "-www"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert ownpki.listening(port), "s_server did not start"
        creds = ("--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key")
        ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "--to", f"127.0.0.1:{port}",
                       "--sni", "app.internal", "--server-ca", f"{d}/ca.crt", "--http", "/", *creds, "--json")
        results = {r["scenario"]: r["observed"] for r in json.loads(ours.stdout)["results"]}
        probe = json.loads(certlab("probe", f"127.0.0.1:{port}", "--sni", "app.internal", "--tls", "1.3", "--json",
                                   *creds).stdout)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        said = server.communicate(timeout=10)[0].decode("latin-1")
    assert results["tls13-client-cert"]["http_status"] == 200
    assert (results["tls13-untrusted-client-cert"]["alert"], results["tls13-untrusted-client-cert"]["alert_from"]) \
        == ("unknown_ca", "server")
    assert "unable to get local issuer certificate" in said      # s_server's own account of the refusal
    pol = probe["versions"]["1.3"]["policy"]
    assert pol["required"] is True and pol["certificate_authorities"] == ["CN=Acme Client CA,O=Acme"]
    # the stacks built on this machine's OpenSSL 3.0 behave alike; the closest must be one of them
    openssl_based = {"openssl", "python", "nginx", "apache", "haproxy", "lighttpd-openssl", "stunnel", "node"}
    assert probe["fingerprint"]["stacks"][0] in openssl_based, probe["fingerprint"]


def test_direct_tls_with_alpn_postgresql_as_s_server_and_tshark_see_it(own, tmp_path) -> None:
    """`--starttls none --alpn postgresql` (PostgreSQL 17's direct TLS, even on 5432): no
    SSLRequest, the ALPN offered; `openssl s_server -alpn postgresql` and tshark both see it."""
    d, _ = own
    port = ownpki.free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", f"{d}/srv.crt",
                               "-key", f"{d}/srv.key", "-CAfile", f"{d}/ca.crt", "-verify", "1", "-alpn",
                               "postgresql", "-www"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert ownpki.listening(port), "s_server did not start"
        ours = certlab("run", "tls13-client-cert", "--to", f"127.0.0.1:{port}", "--starttls", "none", "--alpn",
                       "postgresql", "--insecure", "--no-app", "--cert", f"{d}/alice.crt", "--key",
                       f"{d}/alice-plain.key", "--pcap-dir", str(tmp_path))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        said = server.communicate(timeout=10)[0].decode("latin-1")
    assert ours.stdout.startswith("PASS"), ours.stdout + ours.stderr
    assert "CN = alice" in said                                    # s_server saw the client's certificate
    [pcap] = [p for p in tmp_path.iterdir() if p.suffix == ".pcapng"]
    # tshark, decrypting with the embedded key log: offered in the ClientHello, chosen in EncryptedExtensions
    ws = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.handshake.extensions_alpn_str", "-T", "fields",
                         "-e", "tls.handshake.type", "-e", "tls.handshake.extensions_alpn_str"],
                        capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in ws.stdout.splitlines()]
    assert [r[0].split(",")[0] for r in rows] == ["1", "2"] and all(r[1] == "postgresql" for r in rows), ws.stdout


def test_an_ipv6_server_is_played_and_its_capture_is_ipv6(own, tmp_path) -> None:
    """`--to [::1]:PORT`: the connection, and a pcap that tshark reads as IPv6."""
    d, _ = own
    with socket.socket(socket.AF_INET6) as s6:
        s6.bind(("::1", 0))
        port = s6.getsockname()[1]
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"[::1]:{port}", "-cert", f"{d}/srv.crt", "-key",
                               f"{d}/srv.key", "-CAfile", f"{d}/ca.crt", "-Verify", "1", "-www"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        assert ownpki.listening(port, host="::1"), "s_server did not start"
        ours = certlab("run", "tls13-client-cert", "--to", f"[::1]:{port}", "--sni", "app.internal", "--server-ca",
                       f"{d}/ca.crt", "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key", "--http", "/",
                       "--pcap-dir", str(tmp_path))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    assert ours.stdout.startswith("PASS") and "HTTP 200" in ours.stdout, ours.stdout + ours.stderr
    [pcap] = [p for p in tmp_path.iterdir() if p.suffix == ".pcapng"]
    ws = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ipv6.src", "-e", "tls.handshake.type"],
                        capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in ws.stdout.splitlines()]
    assert all(r[0] == "::1" for r in rows) and any("11" in r[1].split(",") for r in rows)
