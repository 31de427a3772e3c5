"""The servers where client certificates are configured in practice (Apache, HAProxy, lighttpd on
four TLS libraries, stunnel, Node.js, Erlang/OTP, tlslite-ng), checked against an independent observation of the same
servers: `openssl s_client` with no certificate and with an untrusted one must see the alert (or
the HTTP status, or the silent close) certlab reports; Apache's per-<Location> request to a TLS 1.3
client without post-handshake auth must be what curl itself reports."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from layers.registry import ALERT_NAMES
from lab.peers.servers import server_classes

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACKS = ("apache", "haproxy", "lighttpd-openssl", "lighttpd-gnutls", "lighttpd-wolfssl", "lighttpd-mbedtls",
          "stunnel", "node", "erlang", "tlslite")
CASES = [(stack, version, case) for stack in STACKS for version in ("1.2", "1.3") for case in ("no-cert", "untrusted")
         if not (stack == "lighttpd-mbedtls" and version == "1.3")]
# A CRL past its nextUpdate (L02), where the stack checks CRLs and starts with such a list
CASES += [(stack, version, "crl-expired") for stack in ("apache", "haproxy", "lighttpd-openssl", "lighttpd-gnutls",
                                                         "stunnel", "erlang", "nginx") for version in ("1.2", "1.3")]
SCENARIOS = {"no-cert": "tls1{v}-no-cert-required", "untrusted": "tls1{v}-untrusted-client-cert",
             "crl-expired": "crl-expired-valid-client-cert"}


def _certlab(scenario: str, stack: str, pki, version: str | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-m", "lab", "run", scenario, "--stack", stack, "--pki", pki.root,
                           "--json", *(["--tls", version] if version else [])], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    [result] = json.loads(proc.stdout)["results"]
    assert result["verdict"] in ("pass", "fail"), result
    return result["observed"]


def _s_client(port: int, version: str, pki, who: str | None) -> tuple[str | None, int | None]:
    """What openssl s_client sees: the alert it received or the HTTP status (else curl's status)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", f"-tls1_{version[-1]}", "-servername",
            "localhost", "-CAfile", pki.path("rsa", "ca.crt"), "-ign_eof"]
    if who:
        argv += ["-cert", pki.path("rsa", f"{who}.crt"), "-key", pki.path("rsa", f"{who}.key")]
    proc = subprocess.run(argv, input="GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", capture_output=True, text=True,
                          timeout=30)
    out = proc.stdout + proc.stderr
    alert = re.search(r"alert number (\d+)", out)
    seen = re.search(r"^HTTP/1\.[01] (\d{3})", proc.stdout, re.M)
    if alert or seen:
        return (ALERT_NAMES.get(int(alert.group(1))) if alert else None), (int(seen.group(1)) if seen else None)
    # s_client fed from a pipe may not wait for a TLS 1.3 answer: then curl reads the HTTP status
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"--tlsv1.{version[-1]}", "--tls-max", version,
            "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", pki.path("rsa", "ca.crt"),
            *(["--cert", pki.path("rsa", f"{who}.crt"), "--key", pki.path("rsa", f"{who}.key")] if who else []),
            f"https://localhost:{port}/"]
    code = subprocess.run(curl, capture_output=True, text=True, timeout=30).stdout
    status = int(code) if code.isdigit() and code != "000" else None
    return None, status


@pytest.mark.parametrize("stack,version,case", CASES, ids=[f"{s}-tls{v}-{c}" for s, v, c in CASES])
def test_what_certlab_reports_is_what_openssl_s_client_sees(stack, version, case, pki, tmp_path) -> None:
    observed = _certlab(SCENARIOS[case].format(v=version[-1]), stack, pki, version)
    mode = "required-crl-expired" if case == "crl-expired" else "required"
    who = {"no-cert": None, "untrusted": "other-client", "crl-expired": "client"}[case]
    with server_classes()[stack](pki, version, mode, str(tmp_path)) as peer:
        alert, status = _s_client(peer.port, version, pki, who)
    assert observed["alert"] == alert, (observed, alert, status)
    if alert is None:
        assert observed["http_status"] == status, (observed, status)


def test_apache_per_location_asks_after_the_request_as_curl_reports(pki, tmp_path) -> None:
    """Apache's per-<Location> SSLVerifyClient require, TLS 1.3: curl (which offers post-handshake
    auth) is asked after its request; with a certificate it gets 200, without one curl itself
    reports Apache's certificate_required alert. certlab's client that does not offer
    post-handshake auth (tls13-pha-not-offered) gets the 403 Apache gives a client it cannot ask."""
    observed = _certlab("tls13-pha-not-offered", "apache", pki)
    assert observed["outcome"] == "app_rejected" and observed["http_status"] == 403, observed
    asked = _certlab("tls13-pha-empty-certificate", "apache", pki)
    with server_classes()["apache"](pki, "1.3", "pha-required", str(tmp_path)) as peer:
        base = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--tlsv1.3", "--resolve",
                f"localhost:{peer.port}:127.0.0.1", "--cacert", pki.path("rsa", "ca.crt")]
        url = f"https://localhost:{peer.port}/"
        with_cert = subprocess.run([*base, "--cert", pki.path("rsa", "client.crt"), "--key",
                                    pki.path("rsa", "client.key"), url], capture_output=True, text=True, timeout=30)
        without = subprocess.run([*base, url], capture_output=True, text=True, timeout=30)
    assert with_cert.stdout == "200", with_cert.stderr
    assert without.stdout == "000" and "alert certificate required" in without.stderr, without.stderr
    assert asked["alert"] == "certificate_required", asked


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_apache_per_location_over_http2_refuses_the_stream_as_curl_reports(version, pki, tmp_path) -> None:
    """The same per-<Location> request over HTTP/2, where Apache may neither renegotiate nor ask
    after the handshake (RFC 7540 9.2.1, RFC 8740): curl --http2 reports stream 1 reset with
    HTTP_1_1_REQUIRED, retries over HTTP/1.1 and there is asked (renegotiation in TLS 1.2,
    post-handshake auth in TLS 1.3), 200 with its certificate; certlab's HTTP/2 client, which
    offers post-handshake auth in TLS 1.3 too, sees the same reset and no CertificateRequest."""
    observed = _certlab("h2-per-location-client-cert", "apache", pki, version)
    with server_classes()["apache"](pki, version, "h2-location", str(tmp_path)) as peer:
        curl = subprocess.run(["curl", "-sv", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--http2",
                               f"--tlsv{version}", "--tls-max", version, "--resolve", f"localhost:{peer.port}:127.0.0.1",
                               "--cacert", pki.path("rsa", "ca.crt"), "--cert", pki.path("rsa", "client.crt"),
                               "--key", pki.path("rsa", "client.key"), f"https://localhost:{peer.port}/"],
                              capture_output=True, text=True, timeout=30)
    assert "HTTP/2 stream 1 was not closed cleanly: HTTP_1_1_REQUIRED" in curl.stderr, curl.stderr
    assert curl.stdout == "200 1.1", curl.stdout
    assert observed["outcome"] == "app_rejected", observed
    assert observed["reason"].startswith("HTTP/2 RST_STREAM on stream 1: HTTP_1_1_REQUIRED"), observed


def test_the_http2_exchange_in_the_pcap_is_what_tshark_dissects(pki, tmp_path) -> None:
    """The pcap of the HTTP/2 cell, opened as Wireshark opens it (decrypted by its embedded
    secrets): tshark's own HTTP/2 dissector finds certlab's GET of / on stream 1 and Apache's
    RST_STREAM with error 13 (HTTP_1_1_REQUIRED) on it, the frames certlab judged."""
    subprocess.run([sys.executable, "-m", "lab", "run", "h2-per-location-client-cert", "--stack", "apache", "--tls",
                    "1.3", "--pki", pki.root, "--pcap-dir", str(tmp_path)], cwd=ROOT, capture_output=True, timeout=120)
    [pcap] = tmp_path.glob("*.pcapng")
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "http2", "-T", "fields", "-E", "separator=;", "-e",
                          "http2.type", "-e", "http2.streamid", "-e", "http2.rst_stream.error", "-e",
                          "http2.header.name", "-e", "http2.header.value"], capture_output=True, text=True,
                         timeout=60).stdout
    rows = [line.split(";") for line in out.splitlines()]
    assert any("1" in r[0].split(",") and ":path" in r[3] and r[4].split(",")[r[3].split(",").index(":path")] == "/"
               for r in rows), out
    assert any("3" in r[0].split(",") and r[2] == "13" for r in rows), out


def _identity(lines) -> list[tuple[str, str]]:
    return sorted((h.split(":", 1)[0].lower(), h.split(":", 1)[1].strip()) for h in lines or ()
                  if "client" in h.split(":", 1)[0].lower())


@pytest.mark.parametrize("stack,mode", [("nginx", "proxy"), ("apache", "proxy"), ("haproxy", "proxy"),
                                        ("apache", "proxy-append"), ("haproxy", "proxy-append")])
def test_what_the_application_behind_a_proxy_is_told_is_what_curl_gets_it_told(stack, mode, pki, tmp_path) -> None:
    """certlab's forged identity headers and curl sending the same forged headers through the same
    proxy: the application is told the same thing. Set as the documentation shows, the proxy
    overwrites them; added instead (proxy-append), the forged values reach the application too."""
    from lab.peers.backend import received
    scenario = "proxy-spoofed-identity-headers" if mode == "proxy" else "proxy-appended-identity-headers"
    proc = subprocess.run([sys.executable, "-m", "lab", "run", scenario, "--stack", stack,
                           "--tls", "1.3", "--pki", pki.root, "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    [result] = json.loads(proc.stdout)["results"]
    with server_classes()[stack](pki, "1.3", mode, str(tmp_path)) as peer:
        curl = subprocess.run(["curl", "-sS", "--tlsv1.3", "--resolve", f"localhost:{peer.port}:127.0.0.1",
                               "--cacert", pki.path("rsa", "ca.crt"), "-H", "X-SSL-Client-Verify: SUCCESS",
                               "-H", "X-SSL-Client-DN: CN=admin,O=TLS Lab", f"https://localhost:{peer.port}/"],
                              capture_output=True, timeout=30)
    told_curl = _identity(received(curl.stdout))
    assert told_curl and _identity(result["observed"]["forwarded"]) == told_curl
    forged = ("x-ssl-client-dn", "CN=admin,O=TLS Lab") in told_curl
    assert forged == (mode == "proxy-append")
    assert result["verdict"] == ("pass" if mode == "proxy" else "fail")


def test_the_ocsp_responder_answers_as_openssl_ocsp_reads_it(pki, tmp_path) -> None:
    from lab.peers.ocsp import OcspResponder
    with OcspResponder(pki, str(tmp_path / "ocsp")) as responder:
        for who, status in (("client", "good"), ("client-revoked", "revoked")):
            out = subprocess.run(["openssl", "ocsp", "-issuer", pki.path("rsa", "ca.crt"), "-cert",
                                  pki.path("rsa", f"{who}.crt"), "-url", responder.url, "-CAfile",
                                  pki.path("rsa", "ca.crt")], capture_output=True, text=True, timeout=30)
            assert f"{who}.crt: {status}" in out.stdout and "Response verify OK" in out.stderr, out
    with OcspResponder(pki, str(tmp_path / "ocsp-unknown"), unknown=("client.crt",)) as responder:
        out = subprocess.run(["openssl", "ocsp", "-issuer", pki.path("rsa", "ca.crt"), "-cert",
                              pki.path("rsa", "client.crt"), "-url", responder.url, "-CAfile",
                              pki.path("rsa", "ca.crt")], capture_output=True, text=True, timeout=30)
        assert "client.crt: unknown" in out.stdout and "Response verify OK" in out.stderr, out


@pytest.mark.parametrize("stack", ["apache", "nginx"])
def test_an_unknown_answer_is_judged_as_s_client_sees_it(stack, pki, tmp_path) -> None:
    """Mode required-ocsp-unknown (the responder has no record of the lab client certificate):
    what certlab observes is what openssl s_client (and curl for the status) sees."""
    observed = _certlab("ocsp-unknown-client-cert", stack, pki, "1.2")
    with server_classes()[stack](pki, "1.2", "required-ocsp-unknown", str(tmp_path)) as peer:
        seen = _s_client(peer.port, "1.2", pki, "client")
    assert seen == (observed["alert"], observed["http_status"]), (seen, observed)


@pytest.mark.parametrize("stack", ["apache", "nginx"])
def test_a_revoked_certificate_is_refused_because_the_responder_said_so(stack, pki, tmp_path) -> None:
    """The revoked certificate is let in without OCSP (no CRL loaded) and refused with it, by
    openssl s_client's and curl's account as by certlab's."""
    observed = _certlab("ocsp-revoked-client-cert", stack, pki, "1.2")
    assert observed["outcome"] in ("alert", "app_rejected"), observed
    seen = {}
    for mode in ("required", "required-ocsp"):
        with server_classes()[stack](pki, "1.2", mode, str(tmp_path / mode)) as peer:
            seen[mode] = _s_client(peer.port, "1.2", pki, "client-revoked")
    assert seen["required"] == (None, 200)
    assert seen["required-ocsp"] == (observed["alert"], observed["http_status"])


@pytest.mark.parametrize("stack", ["apache", "nginx", "haproxy"])
def test_the_ca_names_sent_are_those_openssl_s_client_lists(stack, pki, tmp_path) -> None:
    """Mode names-differ: the names of the CertificateRequest (certlab's reading) are those
    s_client lists as acceptable, the Other CA only, and a lab-CA certificate is let in anyway."""
    observed = _certlab("ca-names-differ-from-trust", stack, pki, "1.2")
    with server_classes()[stack](pki, "1.2", "names-differ", str(tmp_path)) as peer:
        proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{peer.port}", "-tls1_2",
                               "-CAfile", pki.path("rsa", "ca.crt"), "-nameopt", "RFC2253"], input="",
                              capture_output=True, text=True, timeout=30)
    listed = proc.stdout.split("Acceptable client certificate CA names", 1)[1].split("Client Certificate Types", 1)[0]
    names = [line.strip() for line in listed.splitlines() if line.strip()]
    assert names == list(observed["ca_names"]) and "Other CA" in names[0], (names, observed["ca_names"])
    assert observed["outcome"] == "success"


def test_postgresql_as_a_managed_peer_says_what_psql_says(pki, tmp_path) -> None:
    """The managed PostgreSQL (hostssl ... cert): psql with the lab client's certificate logs in as
    its CN, as certlab's client does; without a certificate psql gets the FATAL that certlab
    reports as an application-level rejection, with the same text."""
    ok = _certlab("tls13-client-cert", "postgresql", pki)
    refused = _certlab("tls13-no-cert-required", "postgresql", pki)
    with server_classes()["postgresql"](pki, "1.3", "required", str(tmp_path)) as peer:
        base = (f"host=127.0.0.1 port={peer.port} user=lab-client dbname=lab-client sslmode=verify-ca "
                f"sslrootcert={pki.path('rsa', 'ca.crt')}")
        cert = f" sslcert={pki.path('rsa', 'client.crt')} sslkey={pki.path('rsa', 'client.key')}"
        env = dict(os.environ, PGSSLCERT="/nonexistent", PGSSLKEY="/nonexistent")   # no ~/.postgresql defaults
        logged_in = subprocess.run(["psql", base + cert, "-tAc", "select current_user"], capture_output=True,
                                   text=True, timeout=30, env=env)
        without = subprocess.run(["psql", base, "-tAc", "select 1"], capture_output=True, text=True, timeout=30,
                                 env=env)
    assert logged_in.stdout.strip() == "lab-client", logged_in.stderr
    assert ok["outcome"] == "success"
    assert "connection requires a valid client certificate" in without.stderr
    assert refused["outcome"] == "app_rejected" and refused["reason"] == "connection requires a valid client certificate"


def test_mariadb_as_a_managed_peer_says_what_the_mariadb_client_says(pki, tmp_path) -> None:
    """The managed MariaDB (a user created REQUIRE X509): the `mariadb` client with the lab
    client's certificate logs in as lab-client, as certlab's client does; without one both are
    refused at login with the same "Access denied" (error 1045), which certlab reports as an
    application-level rejection after a completed handshake."""
    ok = _certlab("tls13-client-cert", "mariadb", pki)
    refused = _certlab("tls13-no-cert-required", "mariadb", pki)
    with server_classes()["mariadb"](pki, "1.3", "required", str(tmp_path)) as peer:
        base = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(peer.port), "-u", "lab-client",
                f"--ssl-ca={pki.path('rsa', 'ca.crt')}", "--ssl", "-N", "-e", "select current_user()"]
        with_cert = subprocess.run([*base, f"--ssl-cert={pki.path('rsa', 'client.crt')}",
                                    f"--ssl-key={pki.path('rsa', 'client.key')}"], capture_output=True, text=True,
                                   timeout=30)
        without = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert with_cert.stdout.strip() == "lab-client@%", with_cert.stderr
    assert ok["outcome"] == "success"
    denied = re.search(r"ERROR 1045 \(28000\)[^:]*: (.*)", without.stderr)
    assert denied, without.stderr
    assert refused["outcome"] == "app_rejected" and refused["reason"] == f"ERROR 1045: {denied.group(1).strip()}"


def test_mosquitto_as_a_managed_peer_says_what_mosquitto_pub_says(pki, tmp_path) -> None:
    """The managed Mosquitto (require_certificate, use_identity_as_username): mosquitto_pub with
    the lab client's certificate gets CONNACK 0 as certlab's client does; without one the broker
    refuses the TLS handshake for both."""
    ok = _certlab("tls13-client-cert", "mosquitto", pki)
    refused = _certlab("tls13-no-cert-required", "mosquitto", pki)
    with server_classes()["mosquitto"](pki, "1.3", "required", str(tmp_path)) as peer:
        base = ["mosquitto_pub", "-h", "localhost", "-p", str(peer.port), "--cafile", pki.path("rsa", "ca.crt"),
                "-t", "certlab", "-m", "hello", "-d"]
        with_cert = subprocess.run([*base, "--cert", pki.path("rsa", "client.crt"), "--key",
                                    pki.path("rsa", "client.key")], capture_output=True, text=True, timeout=30)
        without = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert "received CONNACK (0)" in with_cert.stdout, with_cert.stdout + with_cert.stderr
    assert ok["outcome"] == "success"
    assert without.returncode != 0 and "CONNACK" not in without.stdout
    assert refused["alert"] == "certificate_required"


def test_dovecot_as_a_managed_peer_says_what_curl_imap_says(pki, tmp_path) -> None:
    """The managed Dovecot (STARTTLS, auth_ssl_require_client_cert): curl's IMAP login with the
    lab client's certificate is accepted as certlab's LOGIN is; with an untrusted one TLS goes on
    and the login is denied, for both."""
    ok = _certlab("tls13-client-cert", "dovecot", pki)
    denied = _certlab("tls13-untrusted-client-cert", "dovecot", pki)
    with server_classes()["dovecot"](pki, "1.3", "required", str(tmp_path)) as peer:
        base = ["curl", "-v", "--ssl-reqd", "--cacert", pki.path("rsa", "ca.crt"), "-u", "lab-client:x",
                "--resolve", f"localhost:{peer.port}:127.0.0.1", f"imap://localhost:{peer.port}/"]
        good = subprocess.run([*base, "--cert", pki.path("rsa", "client.crt"), "--key", pki.path("rsa", "client.key")],
                              capture_output=True, text=True, timeout=30)
        bad = subprocess.run([*base, "--cert", pki.path("rsa", "other-client.crt"), "--key",
                              pki.path("rsa", "other-client.key")], capture_output=True, text=True, timeout=30)
    # curl logs in, then lists mailboxes, which this mail-less Dovecot cannot: the login is what counts
    assert re.search(r"^< A\d+ OK Logged in", good.stderr, re.M), good.stderr[-1500:]
    assert ok["outcome"] == "success"
    assert bad.returncode == 67 and "Login denied" in bad.stderr, (bad.returncode, bad.stderr[-1500:])  # LOGIN_DENIED
    assert denied["outcome"] == "app_rejected" and "valid SSL certificate" in denied["reason"]


def test_postfix_as_a_managed_peer_says_what_openssl_s_client_starttls_smtp_sees(pki, tmp_path) -> None:
    """The managed Postfix (smtpd_tls_req_ccert): after STARTTLS, s_client's EHLO with the lab
    client's certificate gets 250, with an untrusted one the 421 certlab reports, same text."""
    ok = _certlab("tls13-client-cert", "postfix", pki)
    refused = _certlab("tls13-untrusted-client-cert", "postfix", pki)
    said = {}
    with server_classes()["postfix"](pki, "1.3", "required", str(tmp_path)) as peer:
        for who in ("client", "other-client"):
            proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{peer.port}", "-starttls", "smtp",
                                   "-tls1_3", "-quiet", "-CAfile", pki.path("rsa", "ca.crt"), "-cert",
                                   pki.path("rsa", f"{who}.crt"), "-key", pki.path("rsa", f"{who}.key")],
                                  input="EHLO certlab.test\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
            said[who] = proc.stdout
    assert re.search(r"^250[ -]", said["client"], re.M) and ok["outcome"] == "success", said["client"]
    assert "421 4.7.1" in said["other-client"] and refused["outcome"] == "app_rejected"
    assert refused["reason"] in said["other-client"], (refused["reason"], said["other-client"])
