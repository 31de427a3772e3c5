"""Revocation, for every server that checks it (catalogue group L). The revoked certificate under
a current CRL is C05 (scenarios/chains.py); here the lists that trouble real deployments."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.dsl import ExpectAlert, ExpectAppRejected, ExpectClose, ExpectSuccess, scenario
from lab.script.setup import Setup

BOTH = {"1.2", "1.3"}
# RFC 5280 leaves to the relying party what a CRL past its nextUpdate means; stacks differ (some
# reject every client): each outcome is recorded, none is a violation.
_ANY_POLICY = (ExpectSuccess() | ExpectAlert("certificate_expired") | ExpectAlert("bad_certificate")
               | ExpectAlert("certificate_unknown") | ExpectAlert("handshake_failure") | ExpectAlert("unknown_ca")
               | ExpectAlert("internal_error") | ExpectAlert("access_denied") | ExpectAppRejected() | ExpectClose())


@scenario("crl-expired-valid-client-cert", rfc="RFC 5280 5.1.2.5, 6.3.3", row="L02", versions=BOTH, level="MAY",
          server_mode="required-crl-expired",
          summary="a valid client certificate, and the server's CRL is past its nextUpdate: does the "
                  "server still let clients in (stacks differ; some reject everyone)", expect=_ANY_POLICY)
def crl_expired_valid(s: Setup):
    return flows.client_auth(s.version)


@scenario("crl-expired-revoked-client-cert", rfc="RFC 5280 5.1.2.5, 6.3.3", row="L02", versions=BOTH,
          server_mode="required-crl-expired", level="SHOULD",
          summary="a client certificate the expired CRL lists as revoked: a stale list still says revoked",
          expect=ExpectAlert("certificate_revoked") | ExpectAlert("bad_certificate") | ExpectAlert("certificate_expired")
          | ExpectAlert("certificate_unknown") | ExpectAppRejected())
def crl_expired_revoked(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate(s.chain("client-revoked")),
                             certificate_verify=gen.certificate_verify(key=s.key("client-revoked")))


@scenario("crl-missing-for-intermediate", rfc="RFC 5280 6.3.3 (no CRL for an issuer in the path: the status is "
          "undetermined, the relying party's policy decides)", row="L03", versions=BOTH, level="MAY",
          server_mode="required-crl",
          summary="a valid certificate issued by the intermediate, sent with it, to a server whose CRL file holds "
                  "the root's CRL only: a server that checks the whole chain has no CRL for the intermediate",
          expect=_ANY_POLICY)
def crl_missing_for_intermediate(s: Setup):
    return flows.client_auth(s.version, certificate=gen.certificate(s.chain("client-chained")),
                             certificate_verify=gen.certificate_verify(key=s.key("client-chained")))
