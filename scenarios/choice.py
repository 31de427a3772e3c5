"""Which certificate does the client send? Certificate-choice scenarios (role C, tag "wallet"):
the client holds every certificate of ``lab.pki.WALLET`` it can hold, certlab's server varies one
field of the CertificateRequest, and the result names the certificate the client chose.

What the RFCs say, and so what each scenario expects:
- MUST: the end-entity key can make a CertificateVerify with an offered scheme (RFC 5246 7.4.8,
  RFC 8446 4.4.3), its type is one of the listed certificate_types (RFC 5246 7.4.6), it matches
  the oid_filters the client recognizes (RFC 8446 4.2.5), and a certificate whose extKeyUsage
  lacks clientAuth is not used for it (RFC 5280 4.2.1.12). With none suitable, the client MUST
  send an empty Certificate (RFC 5246 7.4.6, RFC 8446 4.4.2). A choice outside these fails.
- SHOULD: a certificate of a listed CA (RFC 5246 7.4.6: "one of the certificates in the
  certificate chain SHOULD be issued by one of the listed CAs"; RFC 8446 4.2.4: the CAs "SHOULD be
  used by the receiving endpoint to guide certificate selection"). ``should`` names those; the
  certificate-choice view compares each client's choice with it.
In TLS 1.3 the requests that narrow signature_algorithms add signature_algorithms_cert with the
lab CAs' own scheme, so that only the CertificateVerify is narrowed, not the chain."""
from __future__ import annotations

from lab.pki import WALLET
from lab.script.dsl import Outcome, scenario
from lab.script.serverflows import cr, issuer_dn, serve
from lab.script.setup import Setup
from layers.extensions import ExtensionCR, SignatureAlgorithmsCert

BOTH = {"1.2", "1.3"}
USABLE = tuple(w for w in WALLET if w != "client-eku-server")   # RFC 5280 4.2.1.12: not for client auth
UNDER_A = ("client", "client-p256", "client-chained")            # issued under Lab Root CA RSA
RSA_KEYS = ("client", "other-client", "client-chained")
CHAIN_SCHEMES = (0x0401, 0x0804)   # what the lab CAs sign with: rsa_pkcs1_sha256 (and rsa_pss_rsae_sha256)
ECDSA, PSS, ED25519 = (0x0403, 0x0503), (0x0804, 0x0805, 0x0806), (0x0807,)
NOTE = "RFC 5246 7.4.6; RFC 8446 4.2.4, 4.4.2"


def choice(must: tuple[str, ...]) -> Outcome:
    """The acceptable outcomes: an empty Certificate, or one of ``must`` sent."""
    empty = Outcome("success", certificate="empty")
    return empty | Outcome("success", certificate="sent", chosen=must) if must else empty


def _narrowed(version: str, schemes: tuple[int, ...], **fields):
    """A request whose signature_algorithms are ``schemes`` (in TLS 1.3, the chain's own scheme
    allowed apart, in signature_algorithms_cert)."""
    if version == "1.3":
        fields["extensions"] = [ExtensionCR() / SignatureAlgorithmsCert(supported_signature_algorithms=list(CHAIN_SCHEMES))]
        fields.setdefault("authorities", None)
    return cr(schemes=schemes, **fields)


def _names(s: Setup, *who: str) -> list[bytes]:
    return [issuer_dn(s, w) for w in who]


@scenario("choose-names-a", role="server", rfc=NOTE, row="E02", versions=BOTH, level="SHOULD", tags={"wallet"},
          should=UNDER_A, summary="the CA names name CA A only: a certificate under A should be chosen",
          expect=choice(USABLE))
def names_a(s: Setup):
    return serve(s.version, cr(authorities=_names(s, "client")))


@scenario("choose-names-b", role="server", rfc=NOTE, row="E02", versions=BOTH, level="SHOULD", tags={"wallet"},
          should=("other-client",), summary="the CA names name CA B only (the wallet's second certificate)",
          expect=choice(USABLE))
def names_b(s: Setup):
    return serve(s.version, cr(authorities=_names(s, "other-client")))


@scenario("choose-names-both", role="server", rfc=NOTE, row="E02", versions=BOTH, level="SHOULD", tags={"wallet"},
          should=USABLE, summary="the CA names name both CA A and CA B", expect=choice(USABLE))
def names_both(s: Setup):
    return serve(s.version, cr(authorities=_names(s, "client", "other-client")))


@scenario("choose-names-neither", role="server", rfc=NOTE, row="E11", versions=BOTH, level="SHOULD",
          tags={"wallet"}, should=(), summary="the CA names name a CA that issued none of the client's "
          "certificates: an empty Certificate, or any, at the client's choice", expect=choice(USABLE))
def names_neither(s: Setup):
    from scenarios.serverrole import _many_names
    return serve(s.version, cr(authorities=_many_names(1)))


@scenario("choose-names-intermediate", role="server", rfc=NOTE, row="E12", versions=BOTH, level="SHOULD",
          tags={"wallet"}, should=("client-chained",), summary="the CA names name only the intermediate under "
          "CA A: only the certificate it issued is issued by a listed CA", expect=choice(USABLE))
def names_intermediate(s: Setup):
    return serve(s.version, cr(authorities=_names(s, "client-chained")))


@scenario("choose-names-empty", role="server", rfc="RFC 5246 7.4.4 (an empty list: the client MAY send any "
          "certificate of the appropriate type)", row="E01", versions={"1.2"}, level="MAY", tags={"wallet"},
          should=USABLE, summary="TLS 1.2 request with an empty CA list", expect=choice(USABLE))
def names_empty(s: Setup):
    return serve("1.2", cr(authorities=[]))


@scenario("choose-no-authorities", role="server", rfc="RFC 8446 4.2.4 (certificate_authorities is optional)",
          row="E13", versions={"1.3"}, level="MAY", tags={"wallet"}, should=USABLE,
          summary="TLS 1.3 request without certificate_authorities", expect=choice(USABLE))
def no_authorities(s: Setup):
    return serve("1.3", cr(authorities=None))


@scenario("choose-names-many", role="server", rfc=NOTE, row="E02", versions=BOTH, level="SHOULD", tags={"wallet"},
          should=("other-client",), summary="400 CA names (two records) with CA B last", expect=choice(USABLE))
def names_many(s: Setup):
    from scenarios.serverrole import _many_names
    return serve(s.version, cr(authorities=_many_names(400) + _names(s, "other-client")))


def _printable(s: Setup) -> bytes:
    """CA A's name with each value a PrintableString (cryptography writes UTF8String; its string
    type is chosen through NameAttribute's ``_type``, the only way cryptography offers)."""
    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    name = x509.load_der_x509_certificate(s.chain("client")[0]).issuer
    return x509.Name([x509.NameAttribute(a.oid, a.value, _type=_ASN1Type.PrintableString) for a in name]).public_bytes()


@scenario("choose-names-printable", role="server", rfc="RFC 5280 7.1 (names match after RFC 4518 string "
          "preparation, whatever their string type); " + NOTE, row="E14", versions=BOTH, level="SHOULD",
          tags={"wallet"}, should=UNDER_A, summary="the CA names name CA A, its name written with PrintableString "
          "where the certificates have UTF8String: the same name, in other bytes", expect=choice(USABLE))
def names_printable(s: Setup):
    return serve(s.version, cr(authorities=[_printable(s)]))


@scenario("choose-sigalgs-ecdsa", role="server", rfc="RFC 8446 4.4.2.3, 4.4.3 (the CertificateVerify's scheme "
          "MUST be one offered)", row="E15", versions={"1.3"}, tags={"wallet"}, should=("client-p256",),
          summary="signature_algorithms ECDSA only (the chain's scheme in signature_algorithms_cert): only the "
          "P-256 key can sign", expect=choice(("client-p256",)))
def sigalgs_ecdsa(s: Setup):
    return serve("1.3", _narrowed("1.3", ECDSA))


@scenario("choose-sigalgs-pss", role="server", rfc="RFC 8446 4.4.2.3, 4.4.3", row="E15", versions={"1.3"},
          tags={"wallet"}, should=RSA_KEYS, summary="signature_algorithms RSA-PSS only: the RSA keys can sign, "
          "the P-256 key cannot", expect=choice(RSA_KEYS))
def sigalgs_pss(s: Setup):
    return serve("1.3", _narrowed("1.3", PSS))


@scenario("choose-sigalgs-unusable", role="server", rfc="RFC 5246 7.4.6, 7.4.8; RFC 8446 4.4.2 (no suitable "
          "certificate: the client MUST send an empty Certificate)", row="E08", versions=BOTH, tags={"wallet"},
          should=(), summary="signature_algorithms Ed25519 only, which none of the client's keys can make",
          expect=choice(()))
def sigalgs_unusable(s: Setup):
    return serve(s.version, _narrowed(s.version, ED25519, **({} if s.version == "1.3" else {"authorities": []})))


@scenario("choose-types-ecdsa", role="server", rfc="RFC 5246 7.4.4, 7.4.6 (the key MUST be compatible with "
          "the certificate_types)", row="E07", versions={"1.2"}, tags={"wallet"}, should=("client-p256",),
          summary="certificate_types ecdsa_sign only: only the P-256 certificate fits", expect=choice(("client-p256",)))
def types_ecdsa(s: Setup):
    return serve("1.2", cr(authorities=[], certificate_types=(64,)))


@scenario("choose-oid-filters-client-auth", role="server", rfc="RFC 8446 4.2.5 (the certificate MUST match the "
          "filters the client recognizes); RFC 5280 4.2.1.12", row="E16", versions={"1.3"}, tags={"wallet"},
          should=USABLE, summary="oid_filters asking for extKeyUsage clientAuth: the serverAuth-only "
          "certificate must not be chosen", expect=choice(USABLE))
def oid_filters_client_auth(s: Setup):
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from scenarios.serverrole import _eku_filter
    return serve("1.3", cr(authorities=None, extensions=_eku_filter(ExtendedKeyUsageOID.CLIENT_AUTH)))
