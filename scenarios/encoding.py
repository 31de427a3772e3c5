"""Certificate message encoding, message order and record-layer scenarios (catalogue groups
A, B and J), lab as client."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.setup import Setup
from lab.script.dsl import ExpectAlert, ExpectAppRejected, ExpectSuccess, ReadUntil, Send, SendCCS, scenario
from layers.certificate import ASN1Cert, Certificate12, Certificate13, CertificateEntry
from layers.handshake import Handshake

BOTH = {"1.2", "1.3"}
DECODE = ExpectAlert("decode_error") | ExpectAlert("bad_certificate")


def _cert_msg(version: str, entries: list[bytes], **fields):
    if version == "1.3":
        return Handshake() / Certificate13(certificate_list=[CertificateEntry(cert_data=c) for c in entries], **fields)
    return Handshake() / Certificate12(certificate_list=[ASN1Cert(cert_data=c) for c in entries], **fields)


@scenario("cert-zero-byte-body", rfc="RFC 5246 7.4.2; RFC 8446 4.4.2", row="B01", versions=BOTH,
          summary="Certificate message with an empty body (no list length) instead of an empty list",
          expect=ExpectAlert("decode_error"))
def zero_byte_body(s: Setup):
    return flows.client_auth(s.version, certificate=gen.raw(b"\x0b\x00\x00\x00"), omit_cv=True)


@scenario("cert-empty-entry", rfc="RFC 5246 7.4.2 (ASN.1Cert<1..2^24-1>)", row="B02", versions=BOTH,
          summary="certificate list holding the valid leaf followed by a zero-length entry", expect=DECODE)
def empty_entry(s: Setup):
    return flows.client_auth(s.version, certificate=lambda eng: _cert_msg(s.version, [s.chain()[0], b""]))


@scenario("cert-list-length-inconsistent", rfc="RFC 5246 4.3", row="B03", versions=BOTH,
          summary="certificate_list length one byte longer than the entries it holds", expect=DECODE)
def inconsistent_length(s: Setup):
    def build(eng):
        msg = _cert_msg(s.version, s.chain())
        msg.payload.certificate_list_len = len(bytes(msg.payload)) - (4 if s.version == "1.3" else 3) + 1
        return msg
    return flows.client_auth(s.version, certificate=build)


@scenario("cert-garbage-leaf", rfc="RFC 8446 4.4.2.4", row="B04", versions=BOTH,
          summary="64 zero bytes where the DER leaf certificate should be", expect=DECODE)
def garbage_leaf(s: Setup):
    return flows.client_auth(s.version, certificate=lambda eng: _cert_msg(s.version, [b"\x00" * 64]))


@scenario("cert-trailing-bytes", rfc="RFC 5246 4.3; RFC 8446 4.4.2", row="B05", versions=BOTH,
          summary="two bytes of trailing data after the Certificate body", expect=ExpectAlert("decode_error"))
def trailing(s: Setup):
    def build(eng):
        raw = bytes(eng.certificate()) + b"\x00\x00"
        return raw[:1] + (len(raw) - 4).to_bytes(3, "big") + raw[4:]
    return flows.client_auth(s.version, certificate=build)


@scenario("tls13-cert-nonempty-context", rfc="RFC 8446 4.4.2", row="B06", versions={"1.3"},
          summary="a non-empty certificate_request_context in the handshake's client Certificate",
          expect=ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def nonempty_context(s: Setup):
    return flows.client_auth("1.3", certificate=gen.certificate(context=b"\x01\x02\x03\x04"))


@scenario("cert-omitted", rfc="RFC 5246 7.4.6; RFC 8446 4.4.2", row="A05", versions=BOTH,
          summary="no Certificate at all after a CertificateRequest (1.2: ClientKeyExchange first; "
                  "1.3: CertificateVerify first)", expect=ExpectAlert("unexpected_message"))
def cert_omitted(s: Setup):
    steps = flows.until_server_flight(s.version)
    if s.version == "1.3":
        return steps + [SendCCS(), Send(gen.certificate_verify(), gen.finished(), label="CertificateVerify, Finished")]
    return steps + [Send(gen.client_key_exchange(), gen.certificate_verify(), label="ClientKeyExchange, "
                         "CertificateVerify"), SendCCS(), Send(gen.finished(), label="Finished"),
                    ReadUntil(("finished",))]


@scenario("cv-after-empty-certificate", rfc="RFC 5246 7.4.8; RFC 8446 4.4.3", row="A07", versions=BOTH,
          server_mode="optional", summary="CertificateVerify after an empty Certificate",
          expect=ExpectAlert("unexpected_message") | ExpectAlert("decrypt_error"))
def cv_after_empty(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate([]))


@scenario("cert-fragmented-64", rfc="RFC 5246 6.2.1; RFC 8446 5.1", row="J01", versions=BOTH,
          summary="the client's Certificate and CertificateVerify split over 64-byte records",
          expect=ExpectSuccess())
def fragmented(s: Setup):
    return flows.client_auth(s.version, fragment=64)


@scenario("cert-chain-extraneous", rfc="RFC 8446 4.4.2 (SHOULD tolerate extraneous certificates)", row="C07",
          versions=BOTH, level="SHOULD", summary="leaf, then an unrelated CA certificate the server does not need",
          expect=ExpectSuccess() | ExpectAlert("unknown_ca") | ExpectAlert("bad_certificate") | ExpectAppRejected())
def extra_cert(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate([s.chain()[0]] + s.chain("other-ca")))
