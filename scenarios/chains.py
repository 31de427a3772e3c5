"""Client key types and certificate-chain validation (catalogue rows A01, C02-C10), lab as client."""
from __future__ import annotations

from lab.script import flows
from lab.script import generators as gen
from lab.script.setup import Setup
from lab.script.dsl import ExpectAlert, ExpectAppRejected, ExpectSuccess, scenario

BOTH = {"1.2", "1.3"}


def _as(who: str, chain=None):
    """The normal flow, presenting ``who``'s certificate (or ``chain``) and signing with its key."""
    def build(s: Setup):
        return flows.client_auth(s.version, certificate=gen.certificate(chain(s) if chain else s.chain(who)),
                                 certificate_verify=gen.certificate_verify(key=s.key(who)))
    return build


for _who, _label, _tags in (("client-p256", "ECDSA P-256", set()), ("client-p384", "ECDSA P-384", set()),
                            ("client-ed25519", "Ed25519", {"ed25519-cert"}),
                            ("client-pss", "RSA-PSS (rsa_pss_pss_*)", {"rsassa-pss-cert"})):
    scenario(f"{_who.replace('client-', 'client-cert-')}", rfc="RFC 8446 4.4.2-4.4.3; RFC 5246 7.4.8", row="A01",
             versions=BOTH, summary=f"valid {_label} client certificate and CertificateVerify",
             expect=ExpectSuccess(), tags=_tags)(_as(_who))

scenario("client-cert-chained", rfc="RFC 8446 4.4.2; RFC 5246 7.4.2", row="C02", versions=BOTH,
         summary="leaf and intermediate sent; the server trusts only the root", expect=ExpectSuccess())(
    _as("client-chained"))

_CHAIN_ERROR = ExpectAlert("unknown_ca") | ExpectAlert("bad_certificate") | ExpectAppRejected()

scenario("intermediate-omitted", rfc="RFC 8446 4.4.2", row="C02", versions=BOTH,
         summary="leaf issued by an intermediate, sent without it", expect=_CHAIN_ERROR)(
    _as("client-chained", chain=lambda s: s.chain("client-chained")[:1]))

scenario("leaf-not-first", rfc="RFC 8446 4.4.2 (the end-entity MUST be first); RFC 5246 7.4.2", row="C08",
         versions=BOTH, summary="intermediate first, then the leaf",
         expect=_CHAIN_ERROR | ExpectAlert("decrypt_error") | ExpectAlert("unsupported_certificate"))(
    _as("client-chained", chain=lambda s: s.chain("client-chained")[::-1]))

scenario("self-signed-client-cert", rfc="RFC 8446 6.2; RFC 5280 6", row="C01", versions=BOTH,
         summary="a self-signed client certificate", expect=_CHAIN_ERROR)(_as("client-self-signed"))

scenario("expired-client-cert", rfc="RFC 5280 4.1.2.5", row="C03", versions=BOTH,
         summary="an expired client certificate",
         expect=ExpectAlert("certificate_expired") | ExpectAlert("bad_certificate") | ExpectAppRejected())(
    _as("client-expired"))

scenario("not-yet-valid-client-cert", rfc="RFC 5280 4.1.2.5", row="C04", versions=BOTH,
         summary="a client certificate valid only from tomorrow",
         expect=ExpectAlert("bad_certificate") | ExpectAlert("certificate_expired") | ExpectAppRejected())(
    _as("client-not-yet-valid"))

scenario("revoked-client-cert", rfc="RFC 5280 6.3", row="C05", versions=BOTH, server_mode="required-crl",
         summary="a client certificate revoked in the CRL the server loads",
         expect=ExpectAlert("certificate_revoked") | ExpectAlert("bad_certificate") | ExpectAppRejected())(
    _as("client-revoked"))

_PURPOSE = ExpectAlert("unsupported_certificate") | ExpectAlert("bad_certificate") | ExpectAppRejected()

scenario("eku-server-only-client-cert", rfc="RFC 5280 4.2.1.12", row="C06", versions=BOTH,
         summary="client certificate whose extendedKeyUsage is serverAuth only", expect=_PURPOSE)(
    _as("client-eku-server"))

scenario("no-digital-signature-client-cert", rfc="RFC 5280 4.2.1.3; RFC 8446 4.4.2.4", row="C06", versions=BOTH,
         summary="client certificate whose keyUsage lacks digitalSignature", expect=_PURPOSE)(
    _as("client-no-digsig"))

_WEAK = ExpectAlert("bad_certificate") | ExpectAlert("unknown_ca") | ExpectAlert("insufficient_security") | \
    ExpectAlert("handshake_failure") | ExpectAppRejected()

scenario("sha1-signed-client-cert", rfc="RFC 8446 4.4.2.4 (SHA-1 SHOULD be rejected)", row="C10", versions=BOTH,
         level="SHOULD", summary="client certificate signed with SHA-1", expect=_WEAK)(_as("client-sha1"))

scenario("rsa1024-client-cert", rfc="RFC 8446 4.4.2.4; security policy", row="C10", versions=BOTH, level="SHOULD",
         summary="RSA-1024 client key (below OpenSSL's default security level)", expect=_WEAK)(
    _as("client-rsa1024"))


@scenario("oversized-chain", rfc="RFC 5246 7.4.2; server message limits", row="C09", versions=BOTH,
          summary="about 120 KiB of certificates: the leaf, then its intermediate repeated",
          expect=ExpectAlert("illegal_parameter") | ExpectAlert("decode_error") | ExpectAlert("handshake_failure")
          | ExpectAlert("unknown_ca") | ExpectAlert("bad_certificate") | ExpectAppRejected())
def oversized(s: Setup):
    leaf, inter = s.chain("client-chained")
    return flows.client_auth(s.version, certificate=gen.certificate([leaf] + [inter] * (120 * 1024 // len(inter))),
                             certificate_verify=gen.certificate_verify(key=s.key("client-chained")))
