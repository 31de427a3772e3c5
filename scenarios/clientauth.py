"""Core client-authentication scenarios, lab as client (catalogue groups A, C, D, F, G, H)."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.setup import Setup
from lab.script.dsl import (ExpectAlert, ExpectAppRejected, ExpectSuccess, Outcome, ReadUntil, Reconnect, Send,
                          SendAppData, SendCCS, scenario)

BOTH = {"1.2", "1.3"}


@scenario("tls12-rsa-kx-client-cert", rfc="RFC 5246 7.4.7.1, 7.4.8", row="A01/H01", versions={"1.2"},
          summary="the classic flow: RSA key exchange (TLS_RSA_WITH_AES_128_GCM_SHA256), client "
                  "Certificate and CertificateVerify", expect=ExpectSuccess(), client={"cipher_suites": (0x009C,)})
def tls12_rsa_kx(s: Setup):
    return flows.client_auth("1.2")


@scenario("tls12-ecdhe-client-cert", rfc="RFC 5246 7.4.6, 7.4.8", row="A01", versions={"1.2"},
          summary="ECDHE key exchange with a valid client certificate and CertificateVerify",
          expect=ExpectSuccess(), client={"cipher_suites": (0xC02F, 0xC02B, 0xC030, 0xC02C)})
def tls12_ecdhe(s: Setup):
    return flows.client_auth("1.2")


@scenario("tls12-dhe-client-cert", rfc="RFC 5246 7.4.6, 7.4.8", row="H01", versions={"1.2"},
          summary="finite-field DHE key exchange with a valid client certificate", tags={"dhe"},
          expect=ExpectSuccess(), client={"cipher_suites": (0x009E, 0x009F)})
def tls12_dhe(s: Setup):
    return flows.client_auth("1.2")


@scenario("tls13-client-cert", rfc="RFC 8446 4.4.2, 4.4.3", row="A01", versions={"1.3"},
          summary="TLS 1.3 with a valid client certificate and CertificateVerify", expect=ExpectSuccess())
def tls13_client_cert(s: Setup):
    return flows.client_auth("1.3")


def _empty(version: str):
    return flows.client_auth(version, certificate=gen.certificate([]), omit_cv=True)


@scenario("tls12-no-cert-optional", rfc="RFC 5246 7.4.6", row="A02", versions={"1.2"}, server_mode="optional",
          summary="empty Certificate when the server only requests one", expect=ExpectSuccess())
def tls12_no_cert_optional(s: Setup):
    return _empty("1.2")


@scenario("tls13-no-cert-optional", rfc="RFC 8446 4.4.2.4", row="A02", versions={"1.3"}, server_mode="optional",
          summary="empty Certificate when the server only requests one", expect=ExpectSuccess())
def tls13_no_cert_optional(s: Setup):
    return _empty("1.3")


@scenario("tls12-no-cert-required", rfc="RFC 5246 7.4.6", row="A03", versions={"1.2"}, level="MAY",
          summary="empty Certificate when the server requires one",
          expect=ExpectAlert("handshake_failure") | ExpectAlert("bad_certificate") | ExpectAppRejected())
def tls12_no_cert_required(s: Setup):
    return _empty("1.2")


@scenario("tls13-no-cert-required", rfc="RFC 8446 4.4.2.4, 6.2", row="A04", versions={"1.3"},
          summary="empty Certificate when the server requires one: certificate_required after our Finished",
          expect=ExpectAlert("certificate_required") | ExpectAlert("bad_certificate") | ExpectAppRejected())
def tls13_no_cert_required(s: Setup):
    return _empty("1.3")


def _untrusted(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate(s.chain("other-client")),
                             certificate_verify=gen.certificate_verify(key=s.key("other-client")))


_UNTRUSTED = ExpectAlert("unknown_ca") | ExpectAlert("bad_certificate") | ExpectAppRejected()


@scenario("tls12-untrusted-client-cert", rfc="RFC 5246 7.4.6; RFC 5280 6", row="C01", versions={"1.2"},
          summary="client certificate from a CA the server does not trust", expect=_UNTRUSTED)
def tls12_untrusted(s: Setup):
    return _untrusted(s)


@scenario("tls13-untrusted-client-cert", rfc="RFC 8446 4.4.2.4, 6.2", row="C01", versions={"1.3"},
          summary="client certificate from a CA the server does not trust", expect=_UNTRUSTED)
def tls13_untrusted(s: Setup):
    return _untrusted(s)


def _wrong_key(s: Setup):
    return flows.client_auth(s.version, certificate_verify=gen.certificate_verify(key=s.key("other-client")))


@scenario("tls12-cv-wrong-key", rfc="RFC 5246 7.4.8", row="D01", versions={"1.2"},
          summary="CertificateVerify signed with a key that does not match the certificate",
          expect=ExpectAlert("decrypt_error") | ExpectAppRejected())
def tls12_cv_wrong_key(s: Setup):
    return _wrong_key(s)


@scenario("tls13-cv-wrong-key", rfc="RFC 8446 4.4.3", row="D01", versions={"1.3"},
          summary="CertificateVerify signed with a key that does not match the certificate",
          expect=ExpectAlert("decrypt_error") | ExpectAppRejected())
def tls13_cv_wrong_key(s: Setup):
    return _wrong_key(s)


def _flip(sig: bytes) -> bytes:
    return sig[:-1] + bytes([sig[-1] ^ 0x01])


@scenario("cv-bit-flipped", rfc="RFC 8446 4.4.3; RFC 5246 7.4.8", row="D02", versions=BOTH,
          summary="CertificateVerify signature with its last bit flipped",
          expect=ExpectAlert("decrypt_error") | ExpectAppRejected())
def cv_bit_flipped(s: Setup):
    return flows.client_auth(s.version, certificate_verify=gen.certificate_verify(mutate=_flip))


@scenario("cv-omitted", rfc="RFC 8446 4.4.3; RFC 5246 7.4.8", row="A08", versions=BOTH,
          summary="a non-empty Certificate with no CertificateVerify after it",
          expect=ExpectAlert("unexpected_message") | ExpectAppRejected())
def cv_omitted(s: Setup):
    return flows.client_auth(s.version, omit_cv=True)


@scenario("tls13-cv-rsa-pkcs1", rfc="RFC 8446 4.4.3", row="D08", versions={"1.3"},
          summary="TLS 1.3 CertificateVerify with rsa_pkcs1_sha256 (RSA signatures MUST be PSS)",
          expect=ExpectAlert("illegal_parameter") | ExpectAlert("decrypt_error"))
def tls13_cv_pkcs1(s: Setup):
    return flows.client_auth("1.3", certificate_verify=gen.certificate_verify(scheme=0x0401))


@scenario("tls13-pha-client-cert", rfc="RFC 8446 4.6.2", row="F01", versions={"1.3"}, server_mode="pha",
          tags={"pha"}, summary="post-handshake authentication: the server asks after the handshake, "
                                "the client answers with Certificate, CertificateVerify, Finished",
          expect=ExpectSuccess())
def tls13_pha(s: Setup):
    return flows.post_handshake_auth(gen.certificate(), gen.certificate_verify(), gen.finished())


@scenario("tls12-renegotiation-client-cert", rfc="RFC 5246 7.4.1.1; RFC 5746 3", row="G01", versions={"1.2"},
          server_mode="renegotiation", summary="the server renegotiates (HelloRequest) to ask for the client "
          "certificate, which travels encrypted under the first handshake's keys", expect=ExpectSuccess())
def tls12_renegotiation(s: Setup):
    return flows.renegotiation(*flows.client_auth("1.2"))


@scenario("tls12-cbc-client-cert", rfc="RFC 5246 6.2.3.2, 7.4.8", row="A01", versions={"1.2"},
          summary="AES-CBC with HMAC (MAC-then-encrypt) and a valid client certificate",
          expect=ExpectSuccess(), client={"cipher_suites": (0xC013, 0xC014, 0x002F, 0x0035)})
def tls12_cbc(s: Setup):
    return flows.client_auth("1.2")


@scenario("tls12-resumption-client-cert", rfc="RFC 5246 7.3 (abbreviated handshake), 7.4.6", row="A01",
          versions={"1.2"}, summary="full handshake with a client certificate, then a new connection resuming the "
          "session: no Certificate or CertificateVerify, the identity comes from the session",
          expect=ExpectSuccess())
def tls12_resumption(s: Setup):
    return [*flows.client_auth("1.2"), SendAppData(label="request on the first connection"),
            ReadUntil(("application_data",), label="response"), Reconnect(),
            Send(gen.client_hello(), label="ClientHello offering the session"),
            ReadUntil(("finished",), label="ServerHello, ChangeCipherSpec, Finished"),
            SendCCS(), Send(gen.finished(), label="Finished")]


@scenario("tls10-client-cert", rfc="RFC 2246 7.4.8; RFC 4346 7.4.8", row="A01", versions={"1.0", "1.1"},
          level="MAY", summary="TLS 1.0/1.1 with a client certificate: CertificateVerify is RSA over MD5||SHA-1 "
          "(no SignatureAndHashAlgorithm), records AES-CBC with HMAC-SHA1", expect=ExpectSuccess())
def tls10_client_cert(s: Setup):
    return flows.client_auth("1.2")


@scenario("ca-names-differ-from-trust", rfc="RFC 5246 7.4.4 and RFC 8446 4.2.4 (certificate_authorities: the CAs "
          "the server accepts; a hint for the client)", row="E10", versions=BOTH, server_mode="names-differ",
          level="SHOULD", summary="the server names only the Other CA (Apache SSLCADNRequestFile, nginx "
          "ssl_trusted_certificate, HAProxy ca-verify-file) but trusts the lab CA too: a client that sends its "
          "lab-CA certificate anyway is let in",
          expect=Outcome("success", named=".*Other CA.*"))
def ca_names_differ(s: Setup):
    return flows.client_auth(s.version)
