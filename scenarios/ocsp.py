"""OCSP, for the servers that ask a responder about client certificates (catalogue row L04;
RFC 6960): Apache's SSLOCSPEnable and nginx's ssl_ocsp, against a responder of the lab's
(lab.peers.ocsp) that says good, revoked or unknown, or against an address where nothing answers."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.dsl import ExpectAlert, ExpectAppRejected, ExpectClose, ExpectSuccess, scenario
from lab.script.setup import Setup

BOTH = {"1.2", "1.3"}


@scenario("ocsp-good-client-cert", rfc="RFC 6960 2.2 (good)", row="L04", versions=BOTH, server_mode="required-ocsp",
          summary="the server asks its OCSP responder about a valid client certificate: good, so it goes on",
          expect=ExpectSuccess())
def ocsp_good(s: Setup):
    return flows.client_auth(s.version)


@scenario("ocsp-revoked-client-cert", rfc="RFC 6960 2.2 (revoked); RFC 8446 6.2", row="L04", versions=BOTH,
          server_mode="required-ocsp",
          summary="the responder says the client certificate is revoked: the server must refuse it",
          expect=ExpectAlert("certificate_revoked") | ExpectAlert("bad_certificate") | ExpectAppRejected())
def ocsp_revoked(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate(s.chain("client-revoked")),
                             certificate_verify=gen.certificate_verify(key=s.key("client-revoked")))


@scenario("ocsp-responder-unreachable", rfc="RFC 6960 2.3 (no answer: the relying party's policy)", row="L04",
          versions=BOTH, server_mode="required-ocsp-unreachable", level="MAY",
          summary="nothing answers at the OCSP responder's address: soft fail (let the client in) or hard "
                  "fail (refuse), as the server is configured; the outcome is recorded",
          expect=ExpectSuccess() | ExpectAlert("certificate_unknown") | ExpectAlert("bad_certificate")
          | ExpectAlert("internal_error") | ExpectAlert("handshake_failure") | ExpectAppRejected() | ExpectClose())
def ocsp_unreachable(s: Setup):
    return flows.client_auth(s.version)


@scenario("ocsp-unknown-client-cert", rfc="RFC 6960 2.2 (unknown: the responder doesn't know about the certificate)",
          row="L04", versions=BOTH, server_mode="required-ocsp-unknown", level="MAY",
          summary="the responder answers \"unknown\" for a valid client certificate (it is not in its index): RFC "
                  "6960 leaves the decision to the relying party, so both letting it in and refusing it are recorded",
          expect=ExpectSuccess() | ExpectAlert("certificate_unknown") | ExpectAlert("bad_certificate")
          | ExpectAlert("handshake_failure") | ExpectAppRejected())
def ocsp_unknown(s: Setup):
    return flows.client_auth(s.version)
