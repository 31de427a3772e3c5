"""Bad input gets one clear line on stderr, exit code 2, no traceback, no half-written output."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from lab.capture.synth import Flight, frame_conversation
from lab.capture.writer import write_pcapng
from lab.tools.demo import record_handshake

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def certlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def assert_clean_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def good_capture(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    flights, _ = record_handshake(pki, "1.3", str(folder / "keys"))
    with open(folder / "keys") as fh:
        keys = fh.read()
    path = str(folder / "good.pcapng")
    write_pcapng(path, frame_conversation(flights, ("127.0.0.1", 40001), ("127.0.0.1", 443)), keys)
    plain = str(folder / "plain.pcap")
    wrpcap(plain, frame_conversation(flights, ("127.0.0.1", 40001), ("127.0.0.1", 443)))
    return path, plain, folder


def test_missing_file(tmp_path) -> None:
    assert_clean_error(certlab("dissect", str(tmp_path / "nope.pcap")), "cannot read", "nope.pcap")


def test_not_a_capture(tmp_path) -> None:
    p = tmp_path / "x.pcap"
    p.write_text("hello, I am text\n")
    assert_clean_error(certlab("dissect", str(p)), "not a pcap or pcapng")


def test_truncated_header(good_capture, tmp_path) -> None:
    p = tmp_path / "t.pcapng"
    with open(good_capture[0], "rb") as fh:
        p.write_bytes(fh.read()[:10])
    assert_clean_error(certlab("dissect", str(p)), "malformed")


def test_truncated_in_the_middle_is_a_note(good_capture, tmp_path) -> None:
    with open(good_capture[1], "rb") as fh:
        data = fh.read()
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[:len(data) * 2 // 3])
    proc = certlab("dissect", str(p))
    assert proc.returncode == 0, proc.stderr
    assert "capture ends inside" in proc.stdout or "no key" in proc.stdout


def test_unknown_link_type(tmp_path) -> None:
    p = tmp_path / "link.pcap"
    with open(p, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))
        fh.write(struct.pack("<IIII", 0, 0, 4, 4) + b"abcd")
    assert_clean_error(certlab("dissect", str(p)), "unsupported link type 147")


def test_non_tls_traffic(tmp_path) -> None:
    p = str(tmp_path / "http.pcap")
    wrpcap(p, frame_conversation([Flight(True, b"GET / HTTP/1.0\r\n\r\n"), Flight(False, b"HTTP/1.0 200 OK\r\n\r\n")],
                                 ("127.0.0.1", 40002), ("127.0.0.1", 80)))
    assert_clean_error(certlab("dissect", p), "no TLS traffic", "--port")


def test_udp_only_is_not_tls(tmp_path) -> None:
    from scapy.layers.inet import UDP
    p = str(tmp_path / "udp.pcap")
    wrpcap(p, [Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=1, dport=2) / b"\x16\x03\x01\x00\x01\x01"])
    assert_clean_error(certlab("dissect", p), "no TLS traffic")


def test_bad_keylog(good_capture, tmp_path) -> None:
    k = tmp_path / "bad.keys"
    k.write_text("CLIENT_RANDOM not-hex nope\n")
    assert_clean_error(certlab("dissect", good_capture[1], "--keylog", str(k)), "line 1", "SSLKEYLOGFILE")
    k.write_bytes(b"\xff\xfe binary")
    assert_clean_error(certlab("dissect", good_capture[1], "--keylog", str(k)), "not a text key log")


def test_keylog_for_another_capture(good_capture, tmp_path) -> None:
    k = tmp_path / "other.keys"
    k.write_text("CLIENT_RANDOM " + "11" * 32 + " " + "22" * 48 + "\n")
    proc = certlab("dissect", good_capture[1], "--keylog", str(k))
    assert proc.returncode == 0
    assert "encrypted, no key for this connection" in proc.stdout
    assert "matches no connection" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_server_key(good_capture, tmp_path) -> None:
    k = tmp_path / "key.pem"
    k.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert_clean_error(certlab("dissect", good_capture[1], "--server-key", str(k)), "PEM private key")


def test_no_half_written_output(tmp_path) -> None:
    out = tmp_path / "out.json"
    bad = tmp_path / "x.pcap"
    bad.write_text("junk")
    assert_clean_error(certlab("dissect", str(bad), "--json", "--out", str(out)))
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".certlab-")]


def test_embedded_key_log_is_used(good_capture) -> None:
    proc = certlab("dissect", good_capture[0])
    assert proc.returncode == 0, proc.stderr
    assert "5 embedded" in proc.stdout and "signature verifies" in proc.stdout
    assert "Certificate*, Certificate Verify*, Finished*" in proc.stdout


def test_tcp_segment_without_ip_payload(tmp_path) -> None:
    p = str(tmp_path / "tiny.pcap")
    wrpcap(p, [Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=5, dport=443, flags="S")])
    assert_clean_error(certlab("dissect", p), "no TLS traffic")


def test_sslv2_client_hello_is_dissected(tmp_path) -> None:
    """An SSLv2-compatible CLIENT-HELLO (RFC 5246 appendix E.2) starting a connection on any port."""
    specs = bytes.fromhex("0000ff00002f")
    body = b"\x01\x03\x01" + len(specs).to_bytes(2, "big") + b"\x00\x00\x00\x20" + specs + b"R" * 32
    wire = bytes([0x80, len(body)]) + body
    alert = b"\x15\x03\x01\x00\x02\x02\x28"
    p = str(tmp_path / "v2.pcap")
    wrpcap(p, frame_conversation([Flight(True, wire), Flight(False, alert)], ("127.0.0.1", 40003),
                                 ("127.0.0.1", 9999)))
    proc = certlab("dissect", p, "--json")
    assert proc.returncode == 0, proc.stderr
    import json
    conn = json.loads(proc.stdout)["connections"][0]
    assert conn["messages"][0]["name"] == "client_hello" and conn["messages"][0]["sslv2"] is True
    assert conn["messages"][1]["name"] == "handshake_failure" and conn["messages"][1]["direction"] == "server"
    assert conn["client_auth"]["ended_by"]["alert"] == "handshake_failure"
