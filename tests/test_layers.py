"""Wire layers: deterministic defaults, forgeable lengths, byte-exact round trips, the
context-dependent forms, and tshark's reading of messages built with them."""
from __future__ import annotations

import os
import subprocess

import pytest
from scapy.packet import Raw

from lab.capture.synth import Flight, frame_conversation
from lab.capture.writer import write_pcapng
from layers import (Alert, ApplicationData, ChangeCipherSpec, ClientHello, Handshake, HelloRetryRequest,
                    Hint, ServerHello, SSLv2Record, TLSPlaintext, body_class, parse_handshake)
from layers.certificate import (ASN1Cert, Certificate12, Certificate13, CertificateEntry, CertificateRequest10,
                                CertificateRequest12, CertificateRequest13, CertificateVerify,
                                CertificateVerifyLegacy, CompressedCertificate)
from layers.extensions import (ALPN, CertificateAuthorities, DistinguishedName, ExtensionCH, ExtensionCR,
                               ExtensionHRR, ExtensionSH, KeyShareCH, KeyShareEntry, KeyShareHRR, KeyShareSH,
                               OIDFilter, OIDFilters, ProtocolName, ServerName, ServerNameList,
                               SignatureAlgorithms, SupportedGroups, SupportedVersionsCH, SupportedVersionsSH)
from layers.finished import Finished, KeyUpdate, NewSessionTicket12, NewSessionTicket13, ServerHelloDone
from layers.keyexchange import (ClientKeyExchangeECDH, ClientKeyExchangeRSA, ServerKeyExchangeDHE,
                                ServerKeyExchangeECDHE, ServerKeyExchangeECDHELegacy)
from layers.registry import AlertDescription, HELLO_RETRY_REQUEST_RANDOM


def full_client_hello() -> Handshake:
    return Handshake() / ClientHello(random=bytes(range(32)), cipher_suites=[0x1301, 0xC02F, 0x009C], extensions=[
        ExtensionCH() / ServerNameList(server_name_list=[ServerName(host_name=b"localhost")]),
        ExtensionCH() / SupportedGroups(named_group_list=[29, 23]),
        ExtensionCH() / SignatureAlgorithms(supported_signature_algorithms=[0x0804, 0x0403]),
        ExtensionCH() / ALPN(protocol_name_list=[ProtocolName(protocol_name=b"h2")]),
        ExtensionCH() / SupportedVersionsCH(versions=[0x0304, 0x0303]),
        ExtensionCH(extension_type=49),
        ExtensionCH() / KeyShareCH(client_shares=[KeyShareEntry(group=29, key_exchange=b"\x01" * 32)]),
        ExtensionCH(extension_type=0x1234) / Raw(b"unknown!")])


def test_defaults_are_deterministic() -> None:
    assert bytes(Handshake() / ClientHello()) == bytes(Handshake() / ClientHello())
    assert bytes(full_client_hello()) == bytes(full_client_hello())


def test_lengths_are_computed_and_forgeable() -> None:
    good = bytes(Handshake() / Finished(verify_data=b"\x00" * 12))
    assert good[:4] == b"\x14\x00\x00\x0c"
    forged = bytes(Handshake(length=5) / Finished(verify_data=b"\x00" * 12))
    assert forged[:4] == b"\x14\x00\x00\x05"
    ext = bytes(ExtensionCH(len=99) / SupportedGroups(named_group_list=[29], named_group_list_len=7))
    assert ext == b"\x00\x0a\x00\x63\x00\x07\x00\x1d"
    rec = bytes(TLSPlaintext(type=21, length=1, messages=[Alert(level=2, description=40)]))
    assert rec == b"\x15\x03\x03\x00\x01\x02\x28"
    # A dissected wrong length is kept, so the bytes round-trip.
    assert bytes(TLSPlaintext(rec)) == rec


def test_round_trip_of_built_messages() -> None:
    msgs = [full_client_hello(),
            Handshake() / ServerHello(extensions=[ExtensionSH() / SupportedVersionsSH(),
                                                  ExtensionSH() / KeyShareSH(server_share=KeyShareEntry(
                                                      key_exchange=b"\x02" * 32))]),
            Handshake() / HelloRetryRequest(extensions=[ExtensionHRR() / KeyShareHRR(selected_group=23)]),
            Handshake() / Certificate12(certificate_list=[ASN1Cert(cert_data=b"\x30\x03\x02\x01\x01")]),
            Handshake() / Certificate13(certificate_list=[CertificateEntry(cert_data=b"\x30\x00")]),
            Handshake() / CertificateRequest12(certificate_authorities=[DistinguishedName(dn=b"\x30\x00")]),
            Handshake() / CertificateRequest13(extensions=[
                ExtensionCR() / SignatureAlgorithms(supported_signature_algorithms=[0x0807]),
                ExtensionCR() / CertificateAuthorities(authorities=[DistinguishedName(dn=b"\x30\x00")]),
                ExtensionCR() / OIDFilters(filters=[OIDFilter(certificate_extension_oid=b"\x55\x1d\x25")])]),
            Handshake() / CertificateVerify(signature=b"sig"),
            Handshake() / ServerKeyExchangeECDHE(point=b"\x04" * 65, signature=b"s"),
            Handshake() / ClientKeyExchangeRSA(encrypted_pre_master_secret=b"\x11" * 256),
            Handshake() / NewSessionTicket13(ticket=b"t"), Handshake() / KeyUpdate(request_update=1),
            Handshake() / CompressedCertificate(uncompressed_length=10, compressed_certificate_message=b"zz"),
            Handshake() / ServerHelloDone()]
    for m in msgs:
        wire = bytes(m)
        assert bytes(Handshake(wire)) == wire
        assert bytes(parse_handshake(wire)) == wire


@pytest.mark.parametrize("body,hint,expected", [
    (Certificate12(certificate_list=[ASN1Cert(cert_data=b"x" * 40)]), None, Certificate12),
    (Certificate13(certificate_list=[CertificateEntry(cert_data=b"x" * 40)]), None, Certificate13),
    (Certificate12(), None, Certificate12),
    (Certificate13(), None, Certificate13),
    (CertificateRequest12(), None, CertificateRequest12),
    (CertificateRequest13(), None, CertificateRequest13),
    (CertificateRequest10(certificate_authorities=[DistinguishedName(dn=b"\x30\x00")]), Hint(0x0301),
     CertificateRequest10),
    (CertificateVerify(signature=b"x" * 70), None, CertificateVerify),
    (CertificateVerifyLegacy(signature=b"x" * 70), None, CertificateVerifyLegacy),
    (ServerKeyExchangeECDHE(point=b"x" * 65, signature=b"s" * 70), None, ServerKeyExchangeECDHE),
    (ServerKeyExchangeECDHELegacy(point=b"x" * 65, signature=b"s" * 70), None, ServerKeyExchangeECDHELegacy),
    (ServerKeyExchangeDHE(dh_p=b"p" * 256, dh_g=b"\x02", dh_Ys=b"y" * 256, signature=b"s" * 256), None,
     ServerKeyExchangeDHE),
    (ClientKeyExchangeECDH(ecdh_Yc=b"x" * 65), Hint(0x0303, "ecdhe"), ClientKeyExchangeECDH),
    (NewSessionTicket13(ticket=b"t" * 50), None, NewSessionTicket13),
    (NewSessionTicket12(ticket=b"t" * 50), None, NewSessionTicket12),
])
def test_version_dependent_forms(body, hint, expected) -> None:
    wire = bytes(Handshake() / body)
    assert body_class(wire[0], wire[4:], hint) is expected
    assert type(parse_handshake(wire, hint).payload) is expected


def test_hello_retry_request_is_recognised() -> None:
    wire = bytes(Handshake() / HelloRetryRequest())
    assert wire[6:38] == HELLO_RETRY_REQUEST_RANDOM
    assert type(Handshake(wire).payload) is HelloRetryRequest


def test_unknown_extension_and_trailing_bytes_survive() -> None:
    wire = bytearray(bytes(full_client_hello()))
    parsed = Handshake(bytes(wire))
    unknown = [e for e in parsed.payload.extensions if e.extension_type == 0x1234][0]
    assert bytes(unknown.payload) == b"unknown!"
    # An extension with more bytes than its structure uses keeps them.
    ext = b"\x00\x0a\x00\x06\x00\x02\x00\x1d\xde\xad"
    assert bytes(ExtensionCH(ext)) == ext


def test_every_alert_description_has_its_name() -> None:
    for desc in AlertDescription:
        a = Alert(bytes([2, desc]))
        assert a.sprintf("%description%") == desc.name


def test_sslv2_client_hello() -> None:
    specs = bytes.fromhex("0000ff" "00002f" "010080")
    body = b"\x01\x03\x01" + len(specs).to_bytes(2, "big") + b"\x00\x00" + b"\x00\x10" + specs + b"C" * 16
    wire = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    rec = SSLv2Record(wire)
    hello = rec.payload
    assert hello.version == 0x0301 and hello.challenge == b"C" * 16
    assert hello.tls_cipher_suites() == [0x00FF, 0x002F]
    assert bytes(rec) == wire


def test_records_chain_and_mixed_content() -> None:
    stream = (bytes(TLSPlaintext(type=20, messages=[ChangeCipherSpec()])) +
              bytes(TLSPlaintext(type=23, messages=[ApplicationData(data=b"opaque")])))
    first = TLSPlaintext(stream)
    assert first.type == 20 and isinstance(first.payload, TLSPlaintext)
    assert bytes(first) == stream


def test_tshark_reads_what_we_build(tmp_path) -> None:
    """Messages built with our layers, framed in TCP, dissected by tshark: same values, nothing malformed."""
    ca = bytes.fromhex("3031310f300d06035504030c064c6162204341311e301c060355040a0c15546c73204c61622074657374"
                       "206f7267616e69736174")[:51]
    records = [TLSPlaintext(messages=[full_client_hello()]),
               TLSPlaintext(messages=[
                   Handshake() / ServerHello(legacy_version=0x0303, cipher_suite=0x009C),
                   Handshake() / Certificate12(certificate_list=[]),
                   Handshake() / CertificateRequest12(certificate_types=[1, 64],
                                                      supported_signature_algorithms=[0x0804, 0x0403],
                                                      certificate_authorities=[DistinguishedName(dn=ca)]),
                   Handshake() / ServerHelloDone()]),
               TLSPlaintext(messages=[Handshake() / Certificate12(),
                                      Handshake() / ClientKeyExchangeRSA(encrypted_pre_master_secret=b"\x11" * 256)]),
               TLSPlaintext(type=21, messages=[Alert(level=2, description=48)])]
    flights = [Flight(i != 1, bytes(r)) for i, r in enumerate(records)]
    path = os.path.join(tmp_path, "built.pcapng")
    write_pcapng(path, frame_conversation(flights, ("127.0.0.1", 40000), ("127.0.0.1", 443)), sidecar=False)
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-E", "separator=|", "-e", "tls.handshake.type",
                          "-e", "tls.handshake.sig_hash_alg", "-e", "tls.handshake.cert_type",
                          "-e", "tls.handshake.extensions_server_name", "-e", "tls.alert_message.desc",
                          "-e", "_ws.malformed", "-e", "tls.handshake.extension.type", "-Y", "tls"],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    rows = [line.split("|") for line in out]
    assert rows[0][0] == "1" and rows[0][3] == "localhost"
    assert rows[0][6].split(",") == ["0", "10", "13", "16", "43", "49", "51", str(0x1234)]
    assert rows[1][0] == "2,11,13,14"
    assert rows[1][1] == "0x0804,0x0403" and rows[1][2] == "1,64"
    assert rows[2][0] == "11,16"
    assert rows[3][4] == "48"
    assert not any(r[5] for r in rows)
