"""Post-handshake authentication, renegotiation, unsolicited or misordered messages, and the
record layer (catalogue groups A, F, G, J, K), lab as client."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.setup import Setup
from layers import http2
from layers.finished import KeyUpdate
from layers.handshake import Handshake
from lab.script.dsl import (Expect, ExpectAlert, ExpectAppRejected, ExpectClose, ExpectSuccess, Outcome, ReadUntil, Send,
                          SendAppData, SendCCS, SendRecords, Trigger, scenario)


def _pha(*answer, request: bool = True):
    return flows.post_handshake_auth(*answer, request=request)


@scenario("tls13-pha-empty-certificate", rfc="RFC 8446 4.6.2", row="F02", versions={"1.3"},
          server_mode="pha-required",
          tags={"pha"}, summary="post-handshake auth declined: empty Certificate and Finished",
          expect=ExpectAlert("certificate_required") | ExpectAppRejected())
def pha_empty(s: Setup):
    return _pha(gen.certificate([]), gen.finished())


@scenario("tls13-pha-bad-signature", rfc="RFC 8446 4.4.3", row="F03", versions={"1.3"}, server_mode="pha",
          tags={"pha"}, summary="post-handshake CertificateVerify with a flipped bit",
          expect=ExpectAlert("decrypt_error"))
def pha_bad_sig(s: Setup):
    return _pha(gen.certificate(), gen.certificate_verify(mutate=lambda b: b[:-1] + bytes([b[-1] ^ 1])),
                gen.finished())


@scenario("tls13-pha-wrong-context", rfc="RFC 8446 4.4.2", row="F04", versions={"1.3"}, server_mode="pha",
          tags={"pha"}, summary="post-handshake Certificate whose context does not echo the request's",
          expect=ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def pha_context(s: Setup):
    return _pha(gen.certificate(context=b"not-the-request-context"), gen.certificate_verify(), gen.finished())


@scenario("tls13-pha-finished-handshake-key", rfc="RFC 8446 4.4.1 (base key: application traffic secret)",
          row="F05", versions={"1.3"}, server_mode="pha", tags={"pha"},
          summary="post-handshake Finished keyed from the client handshake traffic secret",
          expect=ExpectAlert("decrypt_error"))
def pha_finished_key(s: Setup):
    return _pha(gen.certificate(), gen.certificate_verify(),
                lambda eng: eng.finished(eng.k.finished13(eng.k.c_hs)))


@scenario("tls13-pha-not-offered", rfc="RFC 8446 4.2.6, 4.6.2", row="F01", versions={"1.3"}, server_mode="pha",
          summary="the client did not offer post_handshake_auth: the server must not ask",
          expect=ExpectSuccess() | ExpectAppRejected() | ExpectAlert("internal_error")
          | ExpectAlert("certificate_required") | ExpectClose())
def pha_not_offered(s: Setup):
    return _pha(request=False)


@scenario("unsolicited-certificate", rfc="RFC 5246 7.4.6; RFC 8446 4.4.2", row="A06", versions={"1.2", "1.3"},
          server_mode="none", summary="a client Certificate and CertificateVerify the server did not request",
          expect=ExpectAlert("unexpected_message"))
def unsolicited(s: Setup):
    return flows.client_auth(s.version)


@scenario("tls12-cv-before-cke", rfc="RFC 5246 7.3, 7.4", row="A09", versions={"1.2"},
          summary="CertificateVerify sent before ClientKeyExchange", expect=ExpectAlert("unexpected_message"))
def cv_before_cke(s: Setup):
    return [*flows.until_server_flight("1.2"),
            Send(gen.certificate(), gen.certificate_verify(), gen.client_key_exchange(),
                 label="Certificate, CertificateVerify, ClientKeyExchange"),
            SendCCS(), Send(gen.finished(), label="Finished"), ReadUntil(("finished",))]


@scenario("tls12-duplicate-certificate", rfc="RFC 5246 7.3, 7.4", row="A09", versions={"1.2"},
          summary="the client Certificate sent twice", expect=ExpectAlert("unexpected_message"))
def duplicate_cert(s: Setup):
    return [*flows.until_server_flight("1.2"),
            Send(gen.certificate(), gen.certificate(), gen.client_key_exchange(), gen.certificate_verify(),
                 label="Certificate, Certificate, ClientKeyExchange, CertificateVerify"),
            SendCCS(), Send(gen.finished(), label="Finished"), ReadUntil(("finished",))]


@scenario("tls13-plaintext-certificate", rfc="RFC 8446 5.1 (handshake messages MUST NOT span key changes)",
          row="J02", versions={"1.3"}, summary="the client Certificate sent in a plaintext record after the keys "
          "changed", expect=ExpectAlert("unexpected_message") | ExpectAlert("bad_record_mac")
          | ExpectAlert("decode_error"))
def plaintext_cert(s: Setup):
    return [*flows.until_server_flight("1.3"), SendCCS(),
            SendRecords(lambda eng: eng.send_unprotected(eng.certificate()), label="Certificate (plaintext record)"),
            Send(gen.certificate_verify(), gen.finished(), label="CertificateVerify, Finished")]


@scenario("tls12-client-renegotiation-refused", rfc="RFC 5246 7.2.2; RFC 5746 4", row="G02", versions={"1.2"},
          summary="client-initiated renegotiation against a server that does not allow it",
          expect=ExpectAlert("no_renegotiation") | ExpectAlert("handshake_failure")
          | ExpectAlert("unexpected_message"))
def client_reneg(s: Setup):
    return [*flows.client_auth("1.2"), Send(gen.client_hello(), label="ClientHello (renegotiation)"),
            ReadUntil(("server_hello",), label="answer to the renegotiation")]


@scenario("tls-client-cert-visibility", rfc="RFC 8446 1.2, 7.1; draft-ietf-tls-keylogfile", row="K01",
          versions={"1.2", "1.3"}, summary="the same mutual-auth handshake in both versions; the pcap shows "
          "whether a passive observer sees the client certificate", expect=ExpectSuccess())
def visibility(s: Setup):
    return flows.client_auth(s.version)



@scenario("tls13-pha-keyupdate-before-answer", rfc="RFC 8446 4.6.2, 4.6.3 (the receiver of update_requested "
          "MUST send a KeyUpdate before its next application data)", row="F06", versions={"1.3"},
          server_mode="pha", tags={"pha"}, summary="KeyUpdate (update_requested) between the post-handshake "
          "CertificateRequest and the answer; Finished uses the updated secret; the server must answer with its "
          "own KeyUpdate before its application data", expect=Outcome("success", key_update_answered=True))
def pha_keyupdate(s: Setup):
    return _pha(lambda eng: Handshake() / KeyUpdate(request_update=1), gen.certificate(), gen.certificate_verify(),
                gen.finished())


@scenario("tls13-pha-keyupdate-before-bad-signature", rfc="RFC 8446 4.4.3, 4.6.3", row="F06", versions={"1.3"},
          server_mode="pha", tags={"pha"}, summary="F06's control: the same flow with a flipped bit in the "
          "CertificateVerify must be rejected, or F06's success proves nothing about the signature",
          expect=ExpectAlert("decrypt_error"))
def pha_keyupdate_bad_sig(s: Setup):
    return _pha(lambda eng: Handshake() / KeyUpdate(request_update=1), gen.certificate(),
                gen.certificate_verify(mutate=lambda b: b[:-1] + bytes([b[-1] ^ 1])), gen.finished())


@scenario("tls13-pha-data-inside-answer", rfc="RFC 8446 4.6.2 (MUST appear consecutively), 5.1", row="F07",
          versions={"1.3"}, server_mode="pha", tags={"pha"},
          summary="application data between the post-handshake Certificate and CertificateVerify",
          expect=ExpectAlert("unexpected_message"))
def pha_interleaved(s: Setup):
    steps = _pha(gen.certificate())[:-1]  # keep the final "respond" for the end
    return steps + [SendAppData(b"interleaved\n", label="application data (interleaved)"),
                    Send(gen.certificate_verify(), gen.finished(), label="CertificateVerify, Finished"),
                    Trigger("respond", label="server answers")]


# RFC 7540 9.2.1: renegotiation "MUST occur prior to sending the connection preface" and "a
# server might use an error (Section 5.4) of type HTTP_1_1_REQUIRED to request the client use a
# protocol that supports renegotiation"; RFC 8740 3: "HTTP/2 servers MUST NOT send post-handshake
# TLS 1.3 CertificateRequest messages". A 403 refuses without breaking either rule.
H2_REFUSED = Outcome("app_rejected", because=r"RST_STREAM on stream 1: HTTP_1_1_REQUIRED|:status 403")


@scenario("h2-per-location-client-cert", rfc="RFC 7540 9.2.1; RFC 8740 3", row="Q03/G04", versions={"1.2", "1.3"},
          server_mode="h2-location", tags={"pha"}, request=http2.request("/"), client={"alpn": ("h2",)},
          summary="HTTP/2 (ALPN h2) to a path that asks for a certificate per <Location>: the server may neither "
          "renegotiate nor send a post-handshake CertificateRequest (offered here in TLS 1.3), so it must refuse "
          "the stream (HTTP_1_1_REQUIRED, which sends the client back to HTTP/1.1) or answer 403",
          expect=Expect((H2_REFUSED,)))
def h2_per_location(s: Setup):
    return flows.handshake(s.version)
