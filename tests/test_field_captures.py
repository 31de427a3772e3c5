"""Captures from the field, read the way Wireshark reads them: public captures other projects
published (tests/data/captures, provenance in its SOURCES.md) and captures of real stacks made
here (STARTTLS upgrades, cipher suites, captures cut short), each compared with tshark's reading
of the same bytes: per connection, the message sequence and the record counts per direction."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.stackrec import record
from tests.tshark_ref import certlab_view, tshark_streams

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "captures")


def dissect_json(pcap: str, *args: str) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-m", "lab", "dissect", pcap, "--json", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def assert_same_as_tshark(pcap: str, doc: dict, keylog: str | None = None, decode_as: list[str] | None = None) -> None:
    views = list(tshark_streams(pcap, keylog, decode_as=decode_as).values())
    conns = doc["connections"]
    assert len(conns) == len(views), (len(conns), len(views))
    for conn, theirs in zip(conns, views):
        ours = certlab_view(conn)
        for d in ("client", "server"):
            assert ours.messages[d] == theirs.messages[d], (conn["client"], d, ours.messages[d], theirs.messages[d])
            assert ours.records[d] == theirs.records[d], (conn["client"], d, ours.records[d], theirs.records[d])


@pytest.mark.stack
@pytest.mark.parametrize("stem", ["ssl3", "tls12-all"])
def test_every_cipher_suite_of_ssl3_and_tls12_decrypts_as_in_tshark(stem) -> None:
    """39 connections each, one suite per connection: RSA, DHE, ECDHE, ECDH; RC4, DES, 3DES, AES,
    IDEA, Camellia, SEED and export suites; SSL 3.0's own key derivation, MAC and Finished."""
    pcap, keys = os.path.join(DATA, f"wsn-{stem}-dump.pcapng"), os.path.join(DATA, f"wsn-{stem}-premaster.txt")
    doc, err = dissect_json(pcap, "--keylog", keys)
    assert err == ""
    assert_same_as_tshark(pcap, doc, keys)
    for conn in doc["connections"]:
        assert not conn["cipher_suite"].startswith("0x"), conn["cipher_suite"]
        assert all(r["decrypted"] for r in conn["records"] if r["encrypted"]), conn["cipher_suite"]
        # Each peer's Finished recomputes from the master secret: the constructions are right.
        assert conn["finished_verified"] == {"client": True, "server": True}, conn["cipher_suite"]
        # RSA, DSA and ECDSA ServerKeyExchange signatures (DHE_DSS, ECDHE_ECDSA, RSA_EXPORT) verify.
        signed = any(m["name"] == "server_key_exchange" for m in conn["messages"])
        assert conn["server_key_exchange_verified"] is (True if signed else None), conn["cipher_suite"]
        assert not conn["notes"], conn["notes"]
    names = Counter(c["cipher_suite"].split("_WITH_")[1] for c in doc["connections"])
    assert {"RC4_40_MD5", "IDEA_CBC_SHA", "DES_CBC_SHA", "SEED_CBC_SHA", "CAMELLIA_256_CBC_SHA"} <= set(names)


@pytest.mark.stack
def test_smtp_starttls_is_found_without_a_port_and_who_closed_first() -> None:
    pcap, keys = os.path.join(DATA, "wsn-smtp-ssl.pcapng"), os.path.join(DATA, "wsn-smtp-ssl.keys")
    doc, err = dissect_json(pcap, "--keylog", keys)
    assert err == ""
    [conn] = doc["connections"]
    assert conn["upgrade"] == "SMTP STARTTLS" and conn["cipher_suite"] == "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"
    assert_same_as_tshark(pcap, doc, keys)
    end = conn["client_auth"]["ended_by"]
    # tshark: frame 33 is the server's FIN, frame 35 the client's fatal unexpected_message.
    assert (end["from"], end["tcp"], end["frame"]) == ("server", "FIN", 33)
    assert (end["answer"]["from"], end["answer"]["alert"], end["answer"]["frame"]) == \
        ("client", "unexpected_message", 35)


@pytest.mark.stack
def test_sslv2_conversation_framed_as_tshark_frames_it() -> None:
    pcap = os.path.join(DATA, "wsn-sslv2.pcapng")
    doc, err = dissect_json(pcap)
    assert err == ""
    assert_same_as_tshark(pcap, doc, decode_as=["tcp.port==4433,tls"])
    [conn] = doc["connections"]
    assert conn["version"] == "SSL 2.0"
    assert all(r["content_type"] is None and r["sslv2"] for r in conn["records"])
    assert [m["name"] for m in conn["messages"][:3]] == ["client_hello", "server_hello", "client_master_key"]
    assert sum(r["encrypted"] for r in conn["records"]) == 5
    assert conn["client_auth"]["requested"] is None   # SSLv2's REQUEST-CERTIFICATE is encrypted


@pytest.mark.stack
def test_mid_stream_captures_take_direction_from_the_content() -> None:
    pcap = os.path.join(DATA, "scapy-tls_new-session-ticket.pcap")
    doc, err = dissect_json(pcap)
    assert err == "" and len(doc["connections"]) == 12
    for conn in doc["connections"]:
        assert conn["server"].endswith(":443"), conn["server"]
        assert conn["messages"][0]["direction"] == "server" and conn["messages"][0]["name"] == "new_session_ticket"
        assert conn["client_auth"]["requested"] is None   # the server's flight is not in the capture
        assert any("starts mid-connection" in n for n in conn["notes"])


def test_certificate_oddities_are_notes_not_warnings() -> None:
    doc, err = dissect_json(os.path.join(DATA, "wiki-pcapng-example.pcapng"))
    assert err == ""   # no CryptographyDeprecationWarning for its certificate's zero serial number
    certs = [c for conn in doc["connections"] for m in conn["messages"] for c in m.get("certificates", [])]
    assert any("not positive" in n for c in certs for n in c.get("notes", []))


def test_every_suite_is_named_as_tshark_names_it() -> None:
    from layers.registry import CIPHER_SUITE_NAMES
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True, timeout=60).stdout
    theirs = {int(f[2]): f[3] for f in (line.split("\t") for line in out.splitlines())
              if len(f) == 4 and f[0] == "V" and f[1] == "tls.handshake.ciphersuite"}
    assert len(theirs) > 300
    assert {c: CIPHER_SUITE_NAMES.get(c) for c in theirs} == theirs


def test_suite_parameters_read_from_names() -> None:
    from lab.engine.state import suite_params
    p = suite_params(0x0003)   # TLS_RSA_EXPORT_WITH_RC4_40_MD5
    assert (p.kx, p.cipher, p.key_len, p.mac, p.export, p.final_key_len) == ("rsa", "rc4", 5, "md5", True, 16)
    p = suite_params(0xC030)   # TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    assert (p.kx, p.cipher, p.key_len, p.mac, p.prf_hash, p.fixed_iv_len) == ("ecdhe", "aes_gcm", 32, None, "sha384", 4)
    p = suite_params(0x1303)
    assert (p.kx, p.cipher, p.key_len) == ("tls13", "chacha20", 32)
    p = suite_params(0xC050)   # TLS_RSA_WITH_ARIA_128_GCM_SHA256
    assert p.missing == "ARIA"


def _starttls(tmp_path, pki, proto: str, with_cert: bool):
    from lab.peers.process import require
    require("openssl")
    srv = pki.identity("rsa", "server")

    def server(port: int, keylog: str) -> list[str]:
        return [sys.executable, os.path.join(ROOT, "tests", "starttls_server.py"), proto, str(port), srv.cert,
                srv.key, srv.ca, keylog]

    def client(port: int, keylog: str) -> list[str]:
        cli = pki.identity("rsa", "client")
        creds = ["-cert", cli.cert, "-key", cli.key] if with_cert else []
        return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", proto, "-CAfile", srv.ca,
                "-tls1_2", *creds]
    return record(str(tmp_path), proto, server, client, client_script=[(0.3, b"QUIT\r\n")])


@pytest.mark.stack
@pytest.mark.parametrize("proto,label,decode,with_cert", [
    ("smtp", "SMTP STARTTLS", "smtp", True),
    ("postgres", "PostgreSQL SSLRequest", "pgsql", True),
    ("mysql", "MySQL SSL request", "mysql", False),
])
def test_starttls_captures_of_real_clients(tmp_path, pki, proto, label, decode, with_cert) -> None:
    """`openssl s_client -starttls` against a server that upgrades as the real ones do, on a
    port no dissector knows: certlab finds the TLS by the upgrade itself and tells the client-auth
    story (the MySQL client has no certificate: the server asks and it sends an empty one)."""
    rec = _starttls(tmp_path, pki, proto, with_cert)
    doc, err = dissect_json(rec.pcap, "--keylog", rec.keylog)
    assert err == "", err
    [conn] = doc["connections"]
    assert conn["upgrade"] == label
    assert_same_as_tshark(rec.pcap, doc, rec.keylog, decode_as=[f"tcp.port=={rec.port},{decode}"])
    auth = conn["client_auth"]
    assert auth["requested"] is True
    assert auth["certificate_sent"] is with_cert
    assert auth["responses"][0]["empty"] is (not with_cert)
    text = subprocess.run([sys.executable, "-m", "lab", "dissect", rec.pcap, "--keylog", rec.keylog],
                          capture_output=True, text=True, cwd=ROOT).stdout
    if not with_cert:
        assert "empty Certificate" in text or "EMPTY" in text.upper(), text


@pytest.mark.stack
def test_a_capture_cut_short_claims_nothing_it_cannot_see(tmp_path, pki) -> None:
    """The same TLS 1.2 client-auth capture cut after each frame: never "requested: no" before the
    server's flight is in, and a note saying where it was cut."""
    import scapy.layers.l2  # noqa: F401  (so rdpcap reads Ethernet frames, not Raw)
    from scapy.utils import rdpcap, wrpcap
    from tests.test_dissect_stacks import s_client, s_server
    rec = record(str(tmp_path), "whole", s_server(pki, "-tls1_2"), s_client(pki))
    frames = rdpcap(rec.pcap)
    server_flight = None
    for n in range(3, len(frames)):
        cut = str(tmp_path / f"cut{n}.pcap")
        wrpcap(cut, frames[:n])
        proc = subprocess.run([sys.executable, "-m", "lab", "dissect", cut, "--json", "--keylog", rec.keylog],
                              capture_output=True, text=True, cwd=ROOT)
        if proc.returncode == 2 and "no TLS traffic" in proc.stderr:
            continue   # cut before the first TLS byte
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        [conn] = json.loads(proc.stdout)["connections"]
        names = [m["name"] for m in conn["messages"]]
        if "certificate_request" in names:
            server_flight = n
            assert conn["client_auth"]["requested"] is True
        else:
            assert conn["client_auth"]["requested"] is None, (n, names)   # never "no"
        finished = {m["direction"] for m in conn["messages"] if m["name"] == "finished"}
        if conn["client_auth"]["ended_by"] is None and finished != {"client", "server"}:
            assert any(note.startswith("the capture ends") for note in conn["notes"]), (n, conn["notes"])
    assert server_flight is not None


@pytest.mark.stack
@pytest.mark.parametrize("cipher,name", [
    ("AES128-CCM8", "TLS_RSA_WITH_AES_128_CCM_8"),
    ("DHE-RSA-CHACHA20-POLY1305", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("CAMELLIA256-SHA256", "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    ("ECDHE-RSA-CAMELLIA128-SHA256", "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    ("NULL-SHA256", "TLS_RSA_WITH_NULL_SHA256"),
    ("ARIA128-GCM-SHA256", "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
])
def test_openssl_suites_decrypt_or_say_which_primitive_is_missing(tmp_path, pki, cipher, name) -> None:
    from tests.test_dissect_stacks import s_client, s_server
    spec = f"{cipher}:@SECLEVEL=0"
    rec = record(str(tmp_path), "suite", s_server(pki, "-tls1_2", "-cipher", spec),
                 s_client(pki, "-tls1_2", "-cipher", spec))
    doc, err = dissect_json(rec.pcap, "--keylog", rec.keylog)
    assert err == ""
    [conn] = doc["connections"]
    assert conn["cipher_suite"] == name
    if "ARIA" in name:   # cryptography has no ARIA: said in one line, never blamed on the key
        assert any("needs ARIA" in n for n in conn["notes"]), conn["notes"]
        assert not any("does not match" in n for n in conn["notes"])
        return
    assert_same_as_tshark(rec.pcap, doc, rec.keylog)
    assert all(r["decrypted"] for r in conn["records"] if r["encrypted"])
    assert conn["finished_verified"] == {"client": True, "server": True}


@pytest.mark.parametrize("client,server,port,protocol", [
    (b"a001 CAPABILITY\r\na002 STARTTLS\r\n", b"* OK IMAP4rev1\r\n", 143, "IMAP STARTTLS"),
    (b"CAPA\r\nSTLS\r\n", b"+OK POP3\r\n", 110, "POP3 STLS"),
    (b"AUTH TLS\r\n", b"220 FTP\r\n", 21, "FTP AUTH TLS"),
    (b"EHLO x\r\nSTARTTLS\r\n", b"220 smtp\r\n", 25, "SMTP STARTTLS"),
    (b"CAPABILITIES\r\nSTARTTLS\r\n", b"200 news\r\n", 119, "NNTP STARTTLS"),
    (b"<stream:stream to='x'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", b"<stream:stream>", 5222,
     "XMPP STARTTLS"),
    (bytes.fromhex("301d02010177188016") + b"1.3.6.1.4.1.1466.20037", bytes.fromhex("300c02010178070a010004000400"),
     389, "LDAP StartTLS"),
    (bytes.fromhex("0000000804d2162f"), b"S", 5432, "PostgreSQL SSLRequest"),
    (bytes.fromhex("2000000100aa0000") + b"\0" * 28, bytes.fromhex("4a0000000a") + b"8.0\0" + b"\0" * 60, 3306,
     "MySQL SSL request"),
])
def test_upgrade_requests_of_each_protocol(client, server, port, protocol) -> None:
    """The upgrade request of each protocol before a ClientHello, and a ServerHello after the
    server's answer (the byte layouts of RFC 3207, 2595, 4217, 4642, 6120, 4511 and the PostgreSQL
    and MySQL protocol documents)."""
    from lab.dissect.upgrade import find_upgrade
    hello = bytes.fromhex("16030100050100000100")
    shello = bytes.fromhex("16030300050200000100")
    up = find_upgrade(client + hello, server + shello, port)
    assert up is not None and up.protocol == protocol
    assert (up.client_offset, up.server_offset) == (len(client), len(server))
    assert find_upgrade(b"GET / HTTP/1.1\r\n\r\n" + hello, b"HTTP/1.1 200 OK\r\n\r\n" + shello, 80) is None


@pytest.mark.parametrize("command", ["dissect", "diagnose"])
def test_jobs_split_the_work_without_changing_the_output(command) -> None:
    pcap, keys = os.path.join(DATA, "wsn-tls12-all-dump.pcapng"), os.path.join(DATA, "wsn-tls12-all-premaster.txt")
    outs = set()
    for jobs in ("1", "2", "3"):
        for fmt in ((), ("--json",)):
            proc = subprocess.run([sys.executable, "-m", "lab", command, pcap, "--keylog", keys, "--jobs", jobs, *fmt],
                                  capture_output=True, text=True, cwd=ROOT, timeout=300)
            assert proc.returncode == 0 and proc.stderr == "", proc.stderr
            outs.add((fmt, proc.stdout))
    assert len(outs) == 2   # one text and one JSON output, the same for 1, 2 and 3 processes
    assert all(out.count("Connection ") >= 39 for fmt, out in outs if not fmt)
