"""Server-role scenarios where the certificate is asked for later or where it travels
(catalogue rows G01 and K01 from the server side): a TLS 1.2 HelloRequest that renegotiates to
ask for the certificate, and the same mutual-auth handshake in both versions for a passive
observer."""
from __future__ import annotations

from lab.pki import LAB_PSK
from lab.script.setup import Setup
from lab.script.dsl import ExpectAlert, Outcome, ReadUntil, Send, scenario
from lab.script.serverflows import cr, handshake12, issuer_dn, serve

SENT = Outcome("success", certificate="sent")


@scenario("srv-tls12-renegotiation-hello-request", role="server", rfc="RFC 5246 7.4.1.1; RFC 5746 3.5, 3.7",
          row="G01", versions={"1.2"}, summary="a handshake without CertificateRequest; after the request a "
          "HelloRequest, and the renegotiation asks for the certificate (encrypted under the first keys)",
          expect=SENT | ExpectAlert("no_renegotiation"))
def renegotiate(s: Setup):
    return serve("1.2", None, after=[
        ReadUntil(("application_data",), label="request"),
        Send(lambda e: e.hello_request(), label="HelloRequest"),
        ReadUntil(("client_hello",), label="ClientHello (renegotiation)"),
        *handshake12(cr(authorities=[issuer_dn(s)]), " (renegotiation)")])


@scenario("srv-client-cert-visibility", role="server", rfc="RFC 8446 1.2, 7.1; draft-ietf-tls-keylogfile",
          row="K01", versions={"1.2", "1.3"}, summary="the same mutual-auth handshake in both versions; the pcap "
          "shows whether a passive observer sees the client's certificate", expect=SENT)
def visibility(s: Setup):
    return serve(s.version, cr(authorities=[issuer_dn(s)]))


# -- A10: a CertificateRequest where the handshake forbids one ----------------------------------
@scenario("srv-tls12-cr-in-anon-suite", role="server", rfc="RFC 5246 7.4.4 (only a non-anonymous server may "
          "request a certificate)", row="A10", versions={"1.2"}, tags={"anon"},
          summary="TLS_DH_anon suite (no server certificate) with a CertificateRequest",
          expect=ExpectAlert("unexpected_message") | ExpectAlert("handshake_failure"),
          client={"cipher_suites": (0x00A6, 0x00A7)})
def cr_in_anon(s: Setup):
    return serve("1.2", cr(authorities=[issuer_dn(s)]))


@scenario("srv-tls13-cr-in-psk-handshake", role="server", rfc="RFC 8446 4.3.2 (a PSK server MUST NOT send a "
          "CertificateRequest in the main handshake)", row="A10", versions={"1.3"}, tags={"psk"},
          summary="external-PSK handshake (no certificates) with a CertificateRequest",
          expect=ExpectAlert("unexpected_message"), client={"psk": LAB_PSK, "cipher_suites": (0x1301, 0x1303)})
def cr_in_psk(s: Setup):
    return serve("1.3", cr(authorities=[issuer_dn(s)]))


@scenario("srv-tls13-psk-without-cr", role="server", rfc="RFC 8446 2.2, 4.2.11", row="A10", versions={"1.3"},
          tags={"psk"}, summary="the same external-PSK handshake without a CertificateRequest: the control "
          "that shows the PSK itself is accepted", expect=Outcome("success", certificate="none"),
          client={"psk": LAB_PSK, "cipher_suites": (0x1301, 0x1303)})
def psk_plain(s: Setup):
    return serve("1.3", None)
