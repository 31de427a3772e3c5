"""STARTTLS and its kin, both ways, against programs certlab did not write: a real PostgreSQL
(``hostssl ... cert``) for the client side, ``openssl s_client -starttls PROTO`` for every
protocol ``certlab serve --starttls`` answers, and tshark reading the pcaps' preambles."""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import re
import sys
import tempfile
import time

import pytest

from lab.peers.protocols import POSTFIX_MASTER, dovecot_conf
from lab.transport.starttls import PROTOCOLS
from tests import ownpki

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(ROOT, "tests", "starttls_server.py")


def certlab(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CERTLAB_KEY_PASSWORD"}
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env=env, **kw)


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root (CI), run its programs as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A PostgreSQL cluster with ``ssl = on`` and ``hostssl all all 127.0.0.1/32 cert``: the
    client certificate's CN is the user; role and database ``alice`` exist."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.fail("PostgreSQL is missing: run scripts/setup")
    bindir = os.path.dirname(found[-1])
    d = ownpki.make(str(tmp_path_factory.mktemp("pgpki")))
    top = tempfile.mkdtemp(prefix="certlab-pg-")   # under /tmp: the postgres user cannot enter pytest's folders
    data, port = os.path.join(top, "data"), ownpki.free_port()
    if os.geteuid() == 0:
        shutil.chown(top, "postgres")
    subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust"]),
                   check=True, capture_output=True, timeout=120)
    for name in ("srv.crt", "srv.key", "ca.crt"):
        shutil.copy(os.path.join(d, name), os.path.join(data, name))
        os.chmod(os.path.join(data, name), 0o600)
        if os.geteuid() == 0:
            shutil.chown(os.path.join(data, name), "postgres")
    with open(os.path.join(data, "postgresql.conf"), "a") as fh:
        fh.write(f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{top}'\nssl = on\n"
                 "ssl_cert_file = 'srv.crt'\nssl_key_file = 'srv.key'\nssl_ca_file = 'ca.crt'\nlog_connections = on\n")
    with open(os.path.join(data, "pg_hba.conf"), "w") as fh:
        fh.write("local all all trust\nhostssl all all 127.0.0.1/32 cert\n")
    log = os.path.join(top, "server.log")
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-l", log, "-w", "start"]), check=True,
                   capture_output=True, timeout=60)
    try:
        for sql in ("create user alice", "create database alice owner alice"):
            subprocess.run(_as_postgres([f"{bindir}/psql", "-h", top, "-p", str(port), "-U", "postgres", "-c", sql]),
                           check=True, capture_output=True, timeout=30)
        yield d, port, log
    finally:
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(top, ignore_errors=True)


def test_postgresql_cert_auth_through_sslrequest_as_psql_and_the_server_log_see_it(postgres, tmp_path) -> None:
    d, port, log = postgres
    conninfo = (f"host=127.0.0.1 port={port} user=alice dbname=alice sslmode=verify-ca sslrootcert={d}/ca.crt "
                f"sslcert={d}/alice.crt sslkey={d}/alice-plain.key")
    psql = subprocess.run(["psql", conninfo, "-tAc", "select 1"], capture_output=True, text=True, timeout=30)
    assert psql.stdout.strip() == "1", psql.stderr                      # the server takes alice's certificate
    ours = certlab("run", "tls13-client-cert", "tls12-ecdhe-client-cert", "tls13-untrusted-client-cert",
                   "--to", f"127.0.0.1:{port}", "--starttls", "postgres", "--server-ca", f"{d}/ca.crt",
                   "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key", "--pcap-dir", str(tmp_path), "--json")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    doc = json.loads(ours.stdout)
    results = {(r["scenario"], r["tls_version"]): r for r in (doc["results"] if isinstance(doc, dict) else doc)}
    assert results[("tls13-client-cert", "1.3")]["observed"]["outcome"] == "success"   # AuthenticationOk
    assert results[("tls12-ecdhe-client-cert", "1.2")]["observed"]["outcome"] == "success"
    untrusted = results[("tls13-untrusted-client-cert", "1.3")]["observed"]
    assert (untrusted["outcome"], untrusted["alert"]) == ("alert", "unknown_ca")
    with open(log) as fh:
        text = fh.read()
    assert 'identity="CN=alice,O=Acme" method=cert' in text and "certificate verify failed" in text
    pcap = results[("tls13-client-cert", "1.3")]["pcap"]
    shown = certlab("dissect", pcap).stdout
    assert "TLS starts inside PostgreSQL SSLRequest" in shown and "Hello Retry Request" in shown  # P-256 asked for
    ws = subprocess.run(["tshark", "-r", pcap, "-d", f"tcp.port=={port},pgsql", "-T", "fields", "-e", "pgsql.type",
                         "-e", "tls.handshake.type"], capture_output=True, text=True, timeout=60)
    assert "SSL request" in ws.stdout and "1" in ws.stdout.split()


MASTER_CF = POSTFIX_MASTER


@pytest.fixture(scope="module")
def postfix(tmp_path_factory):
    """Postfix's smtpd on a free port, asking for a client certificate (``smtpd_tls_ask_ccert``)
    under the openssl-made CA, logging to stdout (``postfix start-fg``)."""
    if not os.path.exists("/usr/sbin/postfix"):
        pytest.fail("Postfix is missing: run scripts/setup")
    if os.geteuid() != 0:
        pytest.fail("Postfix's master starts as root only: run the tests as root (CI does)")
    d = ownpki.make(str(tmp_path_factory.mktemp("pfxpki")))
    top = tempfile.mkdtemp(prefix="certlab-postfix-")   # its daemons, as user postfix, reach the queue here
    os.chmod(top, 0o755)
    conf, port = os.path.join(top, "conf"), ownpki.free_port()
    os.makedirs(conf)
    os.makedirs(os.path.join(top, "data"))
    os.makedirs(os.path.join(top, "queue"))
    shutil.chown(os.path.join(top, "data"), "postfix")
    with open(os.path.join(conf, "main.cf"), "w") as fh:
        fh.write(f"compatibility_level = 3.6\nqueue_directory = {top}/queue\ndata_directory = {top}/data\n"
                 "mail_owner = postfix\nmyhostname = mail.internal\ninet_interfaces = 127.0.0.1\n"
                 "inet_protocols = ipv4\nmaillog_file = /dev/stdout\nsmtputf8_enable = no\n"
                 f"smtpd_tls_cert_file = {d}/srv.crt\nsmtpd_tls_key_file = {d}/srv.key\n"
                 f"smtpd_tls_CAfile = {d}/ca.crt\nsmtpd_tls_security_level = may\nsmtpd_tls_ask_ccert = yes\n"
                 "smtpd_tls_loglevel = 1\n")
    with open(os.path.join(conf, "master.cf"), "w") as fh:
        fh.write(MASTER_CF.format(port=port))
    log = open(os.path.join(top, "postfix.log"), "w")
    proc = subprocess.Popen(["postfix", "-c", conf, "start-fg"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        if not ownpki.listening(port):
            with open(os.path.join(top, "postfix.log")) as fh:
                pytest.fail(f"Postfix did not start: {fh.read()[-500:]}")
        yield d, port, os.path.join(top, "postfix.log")
    finally:
        subprocess.run(["postfix", "-c", conf, "stop"], capture_output=True, timeout=60)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(top, ignore_errors=True)


def test_postfix_smtp_starttls_trust_as_its_log_says(postfix) -> None:
    """A real mail server: run --to and probe through SMTP STARTTLS, each connection's verdict
    set beside the "Trusted / Untrusted / Anonymous TLS connection" line Postfix logs for it."""
    d, port, log = postfix
    creds = ("--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key")
    ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "--to", f"127.0.0.1:{port}",
                   "--starttls", "smtp", "--sni", "app.internal", "--server-ca", f"{d}/ca.crt", *creds, "--json")
    with open(log) as fh:
        assert ours.returncode in (0, 1), ours.stderr + fh.read()[-2000:]
    doc = json.loads(ours.stdout)
    outcomes = [r["observed"]["outcome"] for r in doc["results"]]
    assert outcomes == ["success", "success"], ours.stdout   # ask_ccert: it asks, and takes any certificate
    probe = json.loads(certlab("probe", f"127.0.0.1:{port}", "--starttls", "smtp", "--tls", "1.3", "--json",
                               *creds).stdout)
    pol = probe["versions"]["1.3"]["policy"]
    assert pol["requests_certificate"] == ["handshake"] and pol["required"] is False
    assert pol["certificate_authorities"] == ["CN=Acme Client CA,O=Acme"]
    said = _logged(log, r"(Trusted|Untrusted|Anonymous) TLS connection established", 5)
    # run: alice (trusted), the lab's other client (untrusted); probe: none, self-signed, yours
    assert said == ["Trusted", "Untrusted", "Anonymous", "Untrusted", "Trusted"], said


def _logged(path: str, pattern: str, count: int, seconds: float = 15.0) -> list:
    """The matches of ``pattern`` in the server's log once there are ``count`` of them (servers
    write a connection's line when they are done with it), or what there is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with open(path, errors="replace") as fh:
                found = re.findall(pattern, fh.read())
        except FileNotFoundError:
            found = []
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _daemon(argv: list[str], port: int, log: str):
    """Start a server program in its own session and wait for its port; the Popen."""
    out = open(log + ".out", "w")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    if ownpki.listening(port):
        return proc
    os.killpg(proc.pid, signal.SIGKILL)
    with open(log + ".out") as fh:
        pytest.fail(f"{argv[0]} did not start: {fh.read()[-500:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()





def test_dovecot_imap_and_pop3_starttls_as_its_log_says(tmp_path) -> None:
    """Dovecot asks for a certificate at STARTTLS and judges it at login: certlab sees the TLS
    handshake and the first command succeed for both the trusted and the untrusted client, and
    Dovecot's log says which certificate it took ("no auth attempts") and which it did not
    ("client sent an invalid cert")."""
    if not os.path.exists("/usr/sbin/dovecot"):
        pytest.fail("Dovecot is missing: run scripts/setup")
    d = ownpki.make(str(tmp_path))
    top = tempfile.mkdtemp(prefix="certlab-dovecot-")
    os.chmod(top, 0o755)
    imap, pop3 = ownpki.free_port(), ownpki.free_port()
    with open(os.path.join(top, "dovecot.conf"), "w") as fh:
        fh.write(dovecot_conf(top, f"{d}/srv.crt", f"{d}/srv.key", f"ssl_ca = <{d}/ca.crt\nssl_verify_client_cert = yes\n"
                              "ssl_require_crl = no\nauth_ssl_require_client_cert = yes\n", {"imap": imap, "pop3": pop3}))
    proc = _daemon(["dovecot", "-F", "-c", os.path.join(top, "dovecot.conf")], imap, os.path.join(top, "dovecot"))
    try:
        for proto, port in (("imap", imap), ("pop3", pop3)):
            ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "--to", f"127.0.0.1:{port}",
                           "--starttls", proto, "--sni", "app.internal", "--server-ca", f"{d}/ca.crt",
                           "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key", "--json")
            outcomes = [r["observed"]["outcome"] for r in json.loads(ours.stdout)["results"]]
            assert outcomes == ["success", "success"], (proto, ours.stdout)
        said = _logged(os.path.join(top, "dovecot.log"), r"(imap|pop3)-login: Info: Disconnected: .*?\((no auth "
                       r"attempts|client sent an invalid cert)", 4)
    finally:
        _stop(proc)
        shutil.rmtree(top, ignore_errors=True)
    assert [(p, "valid" if w.startswith("no auth") else "invalid") for p, w in said] == \
        [("imap", "valid"), ("imap", "invalid"), ("pop3", "valid"), ("pop3", "invalid")]


def test_vsftpd_auth_tls_refuses_the_untrusted_certificate_as_its_log_says(tmp_path) -> None:
    """vsftpd with ``require_cert`` and ``validate_cert``: the trusted client is in, the untrusted
    one refused with unknown_ca, and vsftpd logs "CERT PRESENTED" and "certificate verify failed"."""
    if not os.path.exists("/usr/sbin/vsftpd"):
        pytest.fail("vsftpd is missing: run scripts/setup")
    d = ownpki.make(str(tmp_path))
    port = ownpki.free_port()
    os.makedirs("/var/run/vsftpd/empty", exist_ok=True)
    conf = tmp_path / "vsftpd.conf"
    conf.write_text(f"listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n"
                    "anonymous_enable=NO\nlocal_enable=YES\nssl_enable=YES\nssl_tlsv1=YES\n"
                    f"rsa_cert_file={d}/srv.crt\nrsa_private_key_file={d}/srv.key\nca_certs_file={d}/ca.crt\n"
                    "require_cert=YES\nvalidate_cert=YES\nsecure_chroot_dir=/var/run/vsftpd/empty\n"
                    f"vsftpd_log_file={tmp_path}/vsftpd.log\nxferlog_enable=YES\nlog_ftp_protocol=YES\ndebug_ssl=YES\n")
    conf.chmod(0o600)
    proc = _daemon(["vsftpd", str(conf)], port, str(tmp_path / "vsftpd"))
    try:
        ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "--to", f"127.0.0.1:{port}",
                       "--starttls", "ftp", "--sni", "app.internal", "--server-ca", f"{d}/ca.crt",
                       "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key", "--json")
        _logged(str(tmp_path / "vsftpd.log"), r"certificate verify failed", 1)
        log = (tmp_path / "vsftpd.log").read_text()
    finally:
        _stop(proc)
    results = {r["scenario"]: r["observed"] for r in json.loads(ours.stdout)["results"]}
    assert results["tls13-client-cert"]["outcome"] == "success"
    assert results["tls13-untrusted-client-cert"]["alert"] == "unknown_ca"
    assert "CERT PRESENTED" in log and "certificate verify failed" in log


def test_mariadb_ssl_request_as_the_mariadb_client_sees_it(tmp_path, pki) -> None:
    """MariaDB verifies a client certificate during TLS: the `mariadb` client with alice's
    certificate gets in (as a user that REQUIREs her subject), and with the lab's unrelated one
    is refused "tlsv1 alert unknown ca"; certlab through the SSL request packet sees the same."""
    if not os.path.exists("/usr/sbin/mariadbd"):
        pytest.fail("MariaDB is missing: run scripts/setup")
    if os.geteuid() != 0:
        pytest.fail("the MariaDB test starts mariadbd as user mysql: run it as root (CI does)")
    (tmp_path / "pki").mkdir()
    d = ownpki.make(str(tmp_path / "pki"))
    top = tempfile.mkdtemp(prefix="certlab-mariadb-")
    for name in ("srv.crt", "srv.key", "ca.crt"):
        shutil.copy(os.path.join(d, name), os.path.join(top, name))
    subprocess.run(["chown", "-R", "mysql", top], check=True)
    port = ownpki.free_port()
    subprocess.run(["mariadb-install-db", f"--datadir={top}/data", "--user=mysql", "--skip-test-db",
                    "--auth-root-authentication-method=normal"], check=True, capture_output=True, timeout=120)
    proc = _daemon(["mariadbd", "--no-defaults", f"--datadir={top}/data", "--user=mysql", f"--port={port}",
                    "--bind-address=127.0.0.1", f"--socket={top}/sock", f"--pid-file={top}/pid",
                    f"--log-error={top}/err.log", f"--ssl-cert={top}/srv.crt", f"--ssl-key={top}/srv.key",
                    f"--ssl-ca={top}/ca.crt", "--skip-name-resolve"], port, os.path.join(top, "mariadbd"))
    try:
        subprocess.run(["mariadb", "--no-defaults", "-S", f"{top}/sock", "-u", "root", "-e",
                        "CREATE USER 'alice'@'127.0.0.1' REQUIRE SUBJECT '/O=Acme/CN=alice'"], check=True,
                       capture_output=True, timeout=30)

        def client(cert: str, key: str) -> subprocess.CompletedProcess:
            # TLS 1.2: the refusal comes inside the handshake, so the client reads the alert (in TLS
            # 1.3 it has already sent its login and may see only the reset)
            return subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", "alice",
                                   f"--ssl-ca={d}/ca.crt", f"--ssl-cert={cert}", f"--ssl-key={key}",
                                   "--tls-version=TLSv1.2", "-e", "select current_user()"],
                                  capture_output=True, text=True, timeout=30)
        alice = client(f"{d}/alice.crt", f"{d}/alice-plain.key")
        other = client(pki.identity("rsa", "other-client").cert, pki.identity("rsa", "other-client").key)
        ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "--to", f"127.0.0.1:{port}",
                       "--starttls", "mysql", "--sni", "app.internal", "--server-ca", f"{d}/ca.crt",
                       "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key", "--json")
    finally:
        _stop(proc)
        shutil.rmtree(top, ignore_errors=True)
    assert "alice@127.0.0.1" in alice.stdout, alice.stderr
    assert "unknown ca" in other.stderr
    results = {r["scenario"]: r["observed"] for r in json.loads(ours.stdout)["results"]}
    assert results["tls13-client-cert"]["outcome"] == "success"
    assert results["tls13-untrusted-client-cert"]["alert"] == "unknown_ca"


def test_slapd_ldap_starttls_as_its_log_says(tmp_path) -> None:
    """OpenLDAP's slapd with ``TLSVerifyClient demand``: alice's certificate is in; for the
    untrusted one and for none it ends the connection without an alert (certlab: "closed", which
    the RFC's expectation marks FAIL), and slapd logs "TLS negotiation failure" for each."""
    if not os.path.exists("/usr/sbin/slapd"):
        pytest.fail("slapd is missing: run scripts/setup")
    d = ownpki.make(str(tmp_path))
    port = ownpki.free_port()
    conf = tmp_path / "slapd.conf"
    conf.write_text(f"include /etc/ldap/schema/core.schema\npidfile {tmp_path}/slapd.pid\n"
                    f"TLSCertificateFile {d}/srv.crt\nTLSCertificateKeyFile {d}/srv.key\n"
                    f"TLSCACertificateFile {d}/ca.crt\nTLSVerifyClient demand\n")
    proc = _daemon(["slapd", "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "256"], port,
                   str(tmp_path / "slapd"))
    try:
        ours = certlab("run", "tls13-client-cert", "tls13-untrusted-client-cert", "tls13-no-cert-required",
                       "--to", f"127.0.0.1:{port}", "--starttls", "ldap", "--sni", "app.internal",
                       "--server-ca", f"{d}/ca.crt", "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key",
                       "--json")
        _logged(str(tmp_path / "slapd.out"), r"closed \(TLS negotiation failure\)", 2)
    finally:
        _stop(proc)
    log = (tmp_path / "slapd.out").read_text()
    outcomes = {r["scenario"]: r["observed"]["outcome"] for r in json.loads(ours.stdout)["results"]}
    assert outcomes == {"tls13-client-cert": "success", "tls13-untrusted-client-cert": "closed",
                        "tls13-no-cert-required": "closed"}
    assert log.count("STARTTLS") >= 3 and log.count("closed (TLS negotiation failure)") == 2


def _helper(proto: str, tmp_path, d: str) -> tuple[subprocess.Popen, int]:
    port = ownpki.free_port()
    proc = subprocess.Popen([sys.executable, HELPER, proto, str(port), f"{d}/srv.crt", f"{d}/srv.key", f"{d}/ca.crt",
                             str(tmp_path / f"{proto}.keys")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "listening"
    return proc, port


@pytest.mark.parametrize("proto", ["smtp", "mysql"])
def test_client_upgrades_in_band_and_tshark_reads_the_preamble(proto: str, tmp_path) -> None:
    """SMTP STARTTLS and MySQL's SSL request against a server written with Python's ssl (the
    helper answers every first connection's upgrade, then "221 bye")."""
    d = ownpki.make(str(tmp_path))
    proc, port = _helper(proto, tmp_path, d)
    try:
        ours = certlab("run", "tls12-ecdhe-client-cert", "--to", f"127.0.0.1:{port}", "--starttls", proto,
                       "--server-ca", f"{d}/ca.crt", "--sni", "app.internal", "--cert", f"{d}/alice.crt",
                       "--key", f"{d}/alice-plain.key", "--send", "QUIT\\r\\n", "--expect", "^221",
                       "--pcap-dir", str(tmp_path))
        assert ours.stdout.startswith("PASS") and "success" in ours.stdout, ours.stdout + ours.stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    [pcap] = glob.glob(str(tmp_path / "*.pcapng"))
    ws = subprocess.run(["tshark", "-r", pcap, "-d", f"tcp.port=={port},{proto}", "-T", "fields", "-e", "_ws.col.Info",
                         "-e", "tls.handshake.type"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in ws.stdout.splitlines()]
    if proto == "smtp":
        assert any(r[0].startswith("C: STARTTLS") for r in rows), ws.stdout
    else:   # the client's SSL request: a login request packet with CLIENT_SSL set
        verbose = subprocess.run(["tshark", "-r", pcap, "-d", f"tcp.port=={port},mysql", "-V"], capture_output=True,
                                 text=True, timeout=60).stdout
        login = verbose[verbose.index("Login Request"):]
        assert "Switch to SSL after handshake: Set" in login[:login.index("Extended Client Capabilities")]
    assert any("11" in r[-1].split(",") for r in rows)   # and the TLS after it: the Certificate


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_serve_answers_each_upgrade_as_openssl_s_client_speaks_it(proto: str, tmp_path) -> None:
    """``openssl s_client -starttls PROTO`` against ``certlab serve --starttls PROTO``: the
    handshake completes, the server's certificate verifies, and certlab saw the client's."""
    pki = str(tmp_path / "pki")
    assert certlab("pki", "init", pki).returncode == 0
    serve = subprocess.Popen([sys.executable, "-m", "lab", "serve", "srv-tls12-rsa-kx", "--starttls", proto,
                              "--pki", pki, "--wait", "20", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = serve.stderr.readline()
        port = int(line.split("127.0.0.1:")[1].split()[0].rstrip(";"))
        client = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", proto,
                                 "-CAfile", f"{pki}/rsa/ca.crt", "-cert", f"{pki}/rsa/client.crt",
                                 "-key", f"{pki}/rsa/client.key", "-tls1_2"],
                                input=b"Q\n", capture_output=True, timeout=30)
        out, _ = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(10)
    assert b"Verify return code: 0 (ok)" in client.stdout, client.stdout[-400:] + client.stderr[-400:]
    doc = json.loads(out)
    result = doc["results"][0] if isinstance(doc, dict) and "results" in doc else (doc[0] if isinstance(doc, list)
                                                                                  else doc)
    assert result["observed"]["client_certificate"] == "sent"
    assert result["observed"]["cv_verified"] is True


def test_probe_through_sslrequest_finds_cert_authentication_required(postgres) -> None:
    """PostgreSQL's ``cert`` method completes TLS without a certificate and refuses in the startup
    phase: probe says so in the server's own words, and takes alice's certificate (CN = user)."""
    d, port, _ = postgres
    proc = certlab("probe", f"127.0.0.1:{port}", "--starttls", "postgres", "--tls", "1.3", "--json",
                   "--cert", f"{d}/alice.crt", "--key", f"{d}/alice-plain.key")
    assert proc.returncode == 0, proc.stderr
    attempts = {a["identity"]: a for a in json.loads(proc.stdout)["versions"]["1.3"]["attempts"]}
    assert attempts["none"]["outcome"] == "rejected at the application layer"
    assert attempts["none"]["reason"] == "connection requires a valid client certificate"
    assert attempts["self-signed"]["alert"] == "unknown_ca"
    assert attempts["yours"]["outcome"] == "accepted"
