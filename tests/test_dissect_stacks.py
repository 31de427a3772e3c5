"""``certlab dissect`` on captures of real stacks made at test time, compared with tshark's
reading of the same file with the same key log: message and alert sequence per direction,
record counts per direction and wire content type, certificates and CA names; plus the
byte-exact round trip of every record through our layers."""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from lab.dissect import render as report
from lab.dissect import dissect
from layers.record import TLSPlaintext
from tests.stackrec import Recording, record
from tests.tshark_ref import certlab_view, tshark_view

pytestmark = pytest.mark.stack


def s_server(pki, *extra: str, alg: str = "rsa", verify: tuple[str, ...] = ("-Verify", "1")):
    def argv(port: int, keylog: str) -> list[str]:
        srv = pki.identity(alg, "server")
        return ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", srv.cert, "-key", srv.key,
                "-CAfile", srv.ca, *verify, "-verify_return_error", "-naccept", "1", "-keylogfile", keylog,
                *extra]
    return argv


def s_client(pki, *extra: str, who: str = "client", alg: str = "rsa"):
    def argv(port: int, keylog: str) -> list[str]:
        cli = pki.identity(alg, who)
        return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                "-CAfile", pki.identity(alg, "server").ca, "-cert", cli.cert, "-key", cli.key, *extra]
    return argv


def gnutls_cli(pki, priority: str):
    def argv(port: int, keylog: str) -> list[str]:
        cli = pki.identity("rsa", "client")
        return ["gnutls-cli", "-p", str(port), "127.0.0.1", "--sni-hostname", "localhost",
                "--verify-hostname", "localhost", "--x509cafile", cli.ca, "--x509certfile", cli.cert,
                "--x509keyfile", cli.key, "--priority", priority]
    return argv


NGINX_CONF = """daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
error_log {d}/nginx-error.log info; events {{ worker_connections 16; }}
http {{ client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; access_log {d}/access.log;
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.3; ssl_client_certificate {ca}; ssl_verify_client on;
    location / {{ default_type text/plain; return 200 "verify=$ssl_client_verify dn=$ssl_client_s_dn\\n"; }} }} }}
"""


def nginx(pki, folder: str):
    def argv(port: int, keylog: str) -> list[str]:
        srv = pki.identity("rsa", "server")
        conf = os.path.join(folder, f"nginx-{port}.conf")
        with open(conf, "w") as fh:
            fh.write(NGINX_CONF.format(d=folder, port=port, cert=srv.cert, key=srv.key, ca=srv.ca))
        return ["nginx", "-e", os.path.join(folder, "nginx-stderr.log"), "-c", conf]
    return argv


def curl(pki):
    def argv(port: int, keylog: str) -> list[str]:
        cli = pki.identity("rsa", "client")
        return ["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", cli.ca,
                "--cert", cli.cert, "--key", cli.key, "--tlsv1.3", f"https://localhost:{port}/"]
    return argv


def python_pha(pki):
    """Python ssl on both ends: TLS 1.3 post-handshake client authentication (the server asks
    after the handshake; the client answers when it next reads)."""
    def talk(port: int, keylog: str) -> None:
        srv, cli = pki.identity("rsa", "server"), pki.identity("rsa", "client")
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.minimum_version = ssl.TLSVersion.TLSv1_3
        sctx.load_cert_chain(srv.cert, srv.key)
        sctx.load_verify_locations(srv.ca)
        sctx.verify_mode = ssl.CERT_REQUIRED
        sctx.post_handshake_auth = True
        sctx.keylog_filename = keylog
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(cli.ca)
        cctx.load_cert_chain(cli.cert, cli.key)
        cctx.post_handshake_auth = True
        lsock = socket.create_server(("127.0.0.1", port))
        seen: dict[str, object] = {}

        def serve() -> None:
            conn, _ = lsock.accept()
            with sctx.wrap_socket(conn, server_side=True) as s:
                s.recv(100)
                s.verify_client_post_handshake()
                s.sendall(b"send your certificate\n")
                s.recv(100)
                seen["peer"] = s.getpeercert()
                s.sendall(b"thanks\n")

        t = threading.Thread(target=serve)
        t.start()
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                cctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"hello\n")
            c.recv(100)
            c.sendall(b"here\n")
            c.recv(100)
        t.join(10)
        lsock.close()
        assert seen.get("peer"), "the Python server did not authenticate the client"
    return talk


# name -> (server, client, options, facts)
CASES = {
    "openssl-tls12-rsa-kx": lambda pki, d: record(
        d, "tls12rsa", s_server(pki, "-tls1_2", "-cipher", "AES128-GCM-SHA256"),
        s_client(pki, "-tls1_2", "-cipher", "AES128-GCM-SHA256")),
    "openssl-tls12-ecdhe": lambda pki, d: record(
        d, "tls12ecdhe", s_server(pki, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", alg="ec"),
        s_client(pki, "-tls1_2", alg="ec")),
    "openssl-tls13": lambda pki, d: record(d, "tls13", s_server(pki, "-tls1_3"), s_client(pki, "-tls1_3")),
    "openssl-tls13-hrr-ccm": lambda pki, d: record(
        d, "tls13hrr", s_server(pki, "-tls1_3", "-groups", "P-256", "-ciphersuites", "TLS_AES_128_CCM_SHA256"),
        s_client(pki, "-tls1_3", "-groups", "X25519:P-256", "-ciphersuites", "TLS_AES_128_CCM_SHA256")),
    "openssl-tls13-fragments-512": lambda pki, d: record(
        d, "frag13", s_server(pki, "-tls1_3", "-max_send_frag", "512"),
        s_client(pki, "-tls1_3", "-max_send_frag", "512")),
    "openssl-tls13-keyupdate-chacha20": lambda pki, d: record(
        d, "keyupd", s_server(pki, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
        s_client(pki, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
        server_script=[(1.0, b"K\n"), (0.3, b"after the update\n")],
        client_script=[(0.0, b"hello\n"), (1.8, b"client after the update\n")], hold=0.8),
    "openssl-tls12-cbc-etm": lambda pki, d: record(
        d, "cbc", s_server(pki, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"),
        s_client(pki, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384")),
    "openssl-tls12-fragments-512": lambda pki, d: record(
        d, "frag12", s_server(pki, "-tls1_2", "-max_send_frag", "512"),
        s_client(pki, "-tls1_2", "-max_send_frag", "512")),
    "openssl-tls12-renegotiation": lambda pki, d: record(
        d, "reneg", s_server(pki, "-tls1_2", "-no_resumption_on_reneg", verify=()),
        s_client(pki, "-tls1_2"), server_script=[(1.0, b"R\n")], hold=2.5),
    "openssl-tls12-failed-unknown-ca": lambda pki, d: record(
        d, "fail12", s_server(pki, "-tls1_2"), s_client(pki, "-tls1_2", who="other-client")),
    "openssl-tls13-failed-unknown-ca": lambda pki, d: record(
        d, "fail13", s_server(pki, "-tls1_3"), s_client(pki, "-tls1_3", who="other-client")),
    "gnutls-client-tls12": lambda pki, d: record(
        d, "gnutls12", s_server(pki, "-tls1_2"),
        gnutls_cli(pki, "NORMAL:-VERS-ALL:+VERS-TLS1.2"), keylog_from="client"),
    "gnutls-client-tls13": lambda pki, d: record(
        d, "gnutls13", s_server(pki, "-tls1_3"),
        gnutls_cli(pki, "NORMAL:-VERS-ALL:+VERS-TLS1.3"), keylog_from="client"),
    "curl-nginx-tls13": lambda pki, d: record(d, "nginx", nginx(pki, d), curl(pki), keylog_from="client"),
    "python-pha-tls13": lambda pki, d: record(d, "pha", None, python_pha(pki)),
}

# Facts each capture must show (independent of tshark): version, suite, client-auth story.
FACTS = {
    "openssl-tls12-rsa-kx": dict(version="TLS 1.2", suite="TLS_RSA_WITH_AES_128_GCM_SHA256", when="handshake",
                                 sent=True, encrypted=False, verified=True),
    "openssl-tls12-ecdhe": dict(version="TLS 1.2", suite="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                when="handshake", sent=True, encrypted=False, verified=True),
    "openssl-tls13": dict(version="TLS 1.3", when="handshake", sent=True, encrypted=True, verified=True),
    "openssl-tls13-hrr-ccm": dict(version="TLS 1.3", suite="TLS_AES_128_CCM_SHA256", when="handshake", sent=True,
                                  encrypted=True, verified=True),
    "openssl-tls13-keyupdate-chacha20": dict(version="TLS 1.3", suite="TLS_CHACHA20_POLY1305_SHA256", sent=True,
                                             encrypted=True, verified=True),
    "openssl-tls12-cbc-etm": dict(version="TLS 1.2", suite="TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", sent=True,
                                  encrypted=False, verified=True),
    "openssl-tls13-fragments-512": dict(version="TLS 1.3", sent=True, encrypted=True, verified=True),
    "openssl-tls12-fragments-512": dict(version="TLS 1.2", sent=True, encrypted=False, verified=True),
    "openssl-tls12-renegotiation": dict(version="TLS 1.2", when="renegotiation", sent=True, encrypted=True,
                                        verified=True),
    "openssl-tls12-failed-unknown-ca": dict(version="TLS 1.2", sent=True, encrypted=False,
                                            alert=("unknown_ca", "server")),
    "openssl-tls13-failed-unknown-ca": dict(version="TLS 1.3", sent=True, encrypted=True,
                                            alert=("unknown_ca", "server")),
    "gnutls-client-tls12": dict(version="TLS 1.2", sent=True, encrypted=False, verified=True),
    "gnutls-client-tls13": dict(version="TLS 1.3", sent=True, encrypted=True, verified=True),
    "curl-nginx-tls13": dict(version="TLS 1.3", sent=True, encrypted=True, verified=True),
    "python-pha-tls13": dict(version="TLS 1.3", when="post_handshake", sent=True, encrypted=True, verified=True),
}


@pytest.fixture(scope="module")
def recordings(pki, tmp_path_factory) -> dict[str, Recording]:
    return {}


def _recording(name: str, pki, recordings: dict, tmp_path_factory) -> Recording:
    if name not in recordings:
        recordings[name] = CASES[name](pki, str(tmp_path_factory.mktemp(name)))
    return recordings[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_dissect_matches_tshark(name: str, pki, recordings, tmp_path_factory) -> None:
    rec = _recording(name, pki, recordings, tmp_path_factory)
    result = dissect(rec.pcap, rec.keylog)
    assert len(result.connections) == 1, [c.notes for c in result.connections]
    conn = result.connections[0]
    doc = report.connection_json(conn)
    ours, ws = certlab_view(doc), tshark_view(rec.pcap, rec.keylog, rec.port)
    assert ws.malformed == 0
    assert sum(len(v) for v in ws.messages.values()) > 3, "tshark decoded nothing: capture or key log broken"
    assert ours.messages == ws.messages
    assert ours.records == ws.records
    assert ours.certificates["client"] == [[c.replace(":", "") for c in chain] for chain in ws.certificates["client"]]
    assert len(ours.ca_names) == len(ws.ca_names)
    for mine, theirs in zip(ours.ca_names, ws.ca_names):
        assert len(mine) == len(theirs)
        for dn, values in zip(mine, theirs):
            assert all(v in dn for v in values), (dn, values)
    # Every record's bytes survive dissection and rebuild by our layers.
    for r in conn.records:
        if r.content_type != 0x80:
            assert bytes(TLSPlaintext(r.wire)) == r.wire


@pytest.mark.parametrize("name", sorted(FACTS))
def test_client_auth_facts(name: str, pki, recordings, tmp_path_factory) -> None:
    rec = _recording(name, pki, recordings, tmp_path_factory)
    conn = dissect(rec.pcap, rec.keylog).connections[0]
    facts, auth = FACTS[name], conn.client_auth
    doc = report.connection_json(conn)
    assert doc["version"] == facts["version"]
    if "suite" in facts:
        assert doc["cipher_suite"] == facts["suite"]
    assert auth["requested"] is True
    if "when" in facts:
        assert [r["when"] for r in auth["requests"]][-1] == facts["when"]
    assert auth["certificate_sent"] is facts["sent"]
    resp = auth["responses"][-1]
    assert resp["encrypted"] is facts["encrypted"]
    assert resp["certificates"][0]["subject"].startswith("CN=")
    if "verified" in facts:
        assert resp["certificate_verify"]["verified"] is True
    if "alert" in facts:
        assert (auth["ended_by"]["alert"], auth["ended_by"]["from"]) == facts["alert"]


def test_rsa_kx_decrypts_with_server_key_alone(pki, recordings, tmp_path_factory) -> None:
    """As Wireshark's RSA keys list: the premaster secret decrypted with the server's key."""
    rec = _recording("openssl-tls12-rsa-kx", pki, recordings, tmp_path_factory)
    with_key = dissect(rec.pcap, server_keys=[pki.identity("rsa", "server").key]).connections[0]
    with_log = dissect(rec.pcap, rec.keylog).connections[0]
    assert [(m.name, m.decrypted) for m in with_key.messages] == [(m.name, m.decrypted) for m in with_log.messages]
    assert all(r.decrypted for r in with_key.records if r.encrypted)
    wrong = dissect(rec.pcap, server_keys=[pki.identity("rsa", "client").key]).connections[0]
    assert any(r.encrypted and not r.decrypted for r in wrong.records)
    assert any("no key" in n for n in wrong.notes)


def test_cli_json_contract(pki, recordings, tmp_path_factory) -> None:
    rec = _recording("openssl-tls13", pki, recordings, tmp_path_factory)
    out = subprocess.run([sys.executable, "-m", "lab", "dissect", rec.pcap, "--keylog", rec.keylog, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    conn = doc["connections"][0]
    assert set(conn) >= {"client", "server", "version", "records", "messages", "client_auth"}
    assert conn["server"] == f"127.0.0.1:{rec.port}"
    assert set(conn["records"][0]) >= {"direction", "content_type", "length", "encrypted"}
    names = [m["name"] for m in conn["messages"] if m["direction"] == "client"]
    assert names[:1] == ["client_hello"]
    assert {"certificate", "certificate_verify", "finished"} <= set(names)
    cert_msgs = [m for m in conn["messages"] if m["name"] == "certificate" and m["direction"] == "client"]
    assert cert_msgs[0]["encrypted"] is True and cert_msgs[0]["kind"] == "handshake" and cert_msgs[0]["type"] == 11


def test_tls13_without_keys_says_what_would_reveal_it(pki, recordings, tmp_path_factory) -> None:
    rec = _recording("openssl-tls13", pki, recordings, tmp_path_factory)
    conn = dissect(rec.pcap).connections[0]
    assert conn.client_auth["requested"] is None
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in conn.client_auth["hidden"]
    ws = tshark_view(rec.pcap, None, rec.port)
    ours = certlab_view(report.connection_json(conn))
    assert ours.messages == ws.messages and ours.records == ws.records


def test_keyupdate_rekeys_both_directions(pki, recordings, tmp_path_factory) -> None:
    """After KeyUpdate(update_requested) from the server and the client's answering KeyUpdate,
    both sides' later records still decrypt (under the next traffic secrets)."""
    rec = _recording("openssl-tls13-keyupdate-chacha20", pki, recordings, tmp_path_factory)
    conn = dissect(rec.pcap, rec.keylog).connections[0]
    updates = [(m.direction, m.fields.get("request_update")) for m in conn.messages if m.name == "key_update"]
    assert ("server", 1) in updates and ("client", 0) in updates
    last_update = max(i for i, m in enumerate(conn.messages) if m.name == "key_update")
    later = [m for m in conn.messages[last_update + 1:]]
    assert later and all(m.decrypted for m in later)
    assert {m.direction for m in later} == {"client", "server"}
    assert all(r.decrypted for r in conn.records if r.encrypted)
