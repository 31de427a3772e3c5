"""CertificateRequest variants with certlab as the server and a real client under test
(catalogue rows E01-E09, F08; role C)."""
from __future__ import annotations

from lab.script.setup import Setup
from lab.script.dsl import ExpectAlert, Outcome, ReadUntil, Send, SendAlert, scenario
from lab.script.serverflows import cr, issuer_dn, serve
from layers.extensions import ExtensionCR

BOTH = {"1.2", "1.3"}
SENT, EMPTY = Outcome("success", certificate="sent"), Outcome("success", certificate="empty")
ANY_CHOICE = SENT | EMPTY | Outcome("client_error") | ExpectAlert("handshake_failure")


@scenario("srv-ca-names-issuer", role="server", rfc="RFC 5246 7.4.4; RFC 8446 4.2.4", row="E02", versions=BOTH,
          summary="CertificateRequest naming the client's issuer: the client sends its certificate",
          expect=SENT)
def ca_issuer(s: Setup):
    return serve(s.version, cr(authorities=[issuer_dn(s)]))


@scenario("srv-ca-names-other", role="server", rfc="RFC 5246 7.4.4; RFC 8446 4.4.2.3 (SHOULD)", row="E02",
          versions=BOTH, level="MAY", summary="CertificateRequest naming only another CA: does the client send "
          "its certificate anyway, or an empty one?", expect=ANY_CHOICE)
def ca_other(s: Setup):
    return serve(s.version, cr(authorities=[issuer_dn(s, "other-client")]))


@scenario("srv-tls12-ca-names-empty", role="server", rfc="RFC 5246 7.4.4 (the client MAY send any certificate)",
          row="E01", versions={"1.2"}, level="MAY", summary="TLS 1.2 CertificateRequest with an empty CA list",
          expect=ANY_CHOICE)
def ca_empty12(s: Setup):
    return serve("1.2", cr(authorities=[]))


@scenario("srv-tls13-empty-certificate-authorities", role="server", rfc="RFC 8446 4.2.4 (authorities<3..2^16-1>)",
          row="E03", versions={"1.3"}, summary="certificate_authorities extension holding an empty list",
          expect=ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def ca_empty13(s: Setup):
    return serve("1.3", cr(authorities=[]))


@scenario("srv-tls13-cr-without-signature-algorithms", role="server", rfc="RFC 8446 4.3.2 (MUST be specified)",
          row="E04", versions={"1.3"}, summary="TLS 1.3 CertificateRequest without signature_algorithms",
          expect=ExpectAlert("missing_extension") | ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def cr_no_sigalgs(s: Setup):
    return serve("1.3", lambda e: _without_sigalgs(e.certificate_request()))


@scenario("srv-tls12-cr-empty-signature-algorithms", role="server", rfc="RFC 5246 7.4.4 "
          "(supported_signature_algorithms<2..2^16-2>)", row="E04", versions={"1.2"},
          summary="TLS 1.2 CertificateRequest with an empty supported_signature_algorithms list",
          expect=ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def cr_empty_sigalgs12(s: Setup):
    return serve("1.2", cr(authorities=[issuer_dn(s)], schemes=()))


def _without_sigalgs(msg):
    msg.payload.extensions = [x for x in msg.payload.extensions if x.extension_type != 13]
    msg.payload.extensions_len = None
    return msg


@scenario("srv-tls13-cr-unknown-extension", role="server", rfc="RFC 8446 4.3.2 (MUST ignore)", row="E05",
          versions={"1.3"}, summary="TLS 1.3 CertificateRequest carrying an unknown extension", expect=SENT)
def cr_unknown_ext(s: Setup):
    from scapy.packet import Raw
    return serve("1.3", cr(authorities=None, extensions=[ExtensionCR(extension_type=0x7F7F) / Raw(b"lab")]))


@scenario("srv-tls13-cr-nonempty-context", role="server", rfc="RFC 8446 4.3.2 (zero length in the handshake)",
          row="E06", versions={"1.3"}, summary="handshake CertificateRequest with a non-empty context",
          expect=ExpectAlert("decode_error") | ExpectAlert("illegal_parameter") | SENT)
def cr_context(s: Setup):
    return serve("1.3", cr(authorities=None, context=b"\x01\x02"))


@scenario("srv-tls12-cr-ecdsa-only", role="server", rfc="RFC 5246 7.4.4, 7.4.6", row="E07", versions={"1.2"},
          level="MAY", summary="certificate_types ecdsa_sign only, to an RSA client", expect=ANY_CHOICE)
def cr_types(s: Setup):
    return serve("1.2", cr(authorities=[issuer_dn(s)], certificate_types=(64,)))


@scenario("srv-tls13-cr-schemes-unusable", role="server", rfc="RFC 8446 4.4.2.3, 4.4.3", row="E08",
          versions={"1.3"}, level="MAY", summary="CertificateRequest offering only rsa_pkcs1_sha256, which no "
          "TLS 1.3 CertificateVerify may use", expect=EMPTY | ExpectAlert("handshake_failure")
          | Outcome("client_error"))
def cr_schemes(s: Setup):
    return serve("1.3", cr(authorities=None, schemes=(0x0401,)))


@scenario("srv-tls13-reject-after-finished", role="server", rfc="RFC 8446 4.4.2.4; RFC 8446 2", row="E09",
          versions={"1.3"}, summary="the server rejects the certificate with certificate_required after the "
          "client's Finished: when does the client program notice?",
          expect=Outcome("client_error") | Outcome("closed") | Outcome("success"))
def reject_late(s: Setup):
    return serve("1.3", cr(authorities=None), after=[ReadUntil(("application_data",), label="request"),
                                                       SendAlert(116, label="certificate_required")])



def _post_handshake(s: Setup, *after):
    return serve("1.3", None, after=[ReadUntil(("application_data",), label="request"),
                                     Send(lambda e: e.post_handshake_certificate_request(),
                                          label="post-handshake CertificateRequest"), *after])


@scenario("srv-tls13-pha", role="server", rfc="RFC 8446 4.6.2", row="F01", versions={"1.3"}, tags={"pha"},
          summary="post-handshake CertificateRequest to a client that offered post_handshake_auth",
          expect=SENT)
def srv_pha(s: Setup):
    return _post_handshake(s, ReadUntil(("finished",), label="post-handshake Certificate, CertificateVerify, "
                                                               "Finished"))


@scenario("srv-tls13-pha-not-offered", role="server", rfc="RFC 8446 4.6.2 (MUST NOT send; client: unexpected_message)",
          row="F08", versions={"1.3"}, tags={"no-pha"},
          summary="post-handshake CertificateRequest to a client that did not offer "
          "post_handshake_auth", expect=ExpectAlert("unexpected_message"))
def srv_pha_not_offered(s: Setup):
    return _post_handshake(s, ReadUntil(("finished",), label="the client's reaction"))


@scenario("srv-two-certs-ca-choice", role="server", rfc="RFC 5246 7.4.4; RFC 8446 4.4.2.3 (SHOULD)", row="E02",
          versions=BOTH, level="SHOULD", tags={"two-certs"},
          summary="the client holds certificates from two CAs; the request names only the second: which does "
                  "it send?", expect=SENT | EMPTY | Outcome("client_error"))
def two_certs(s: Setup):
    return serve(s.version, cr(authorities=[issuer_dn(s, "other-client")]))


# -- the same request over each key exchange, and through a HelloRetryRequest -------------------
@scenario("srv-tls12-rsa-kx", role="server", rfc="RFC 5246 7.4.7.1, 7.4.8", row="A01", versions={"1.2"},
          tags={"rsa-kx"},
          summary="RSA key exchange (the client encrypts the premaster secret to our certificate), "
                  "CertificateRequest naming the client's issuer", expect=SENT,
          client={"cipher_suites": (0x009C, 0x009D)})
def srv_rsa_kx(s: Setup):
    return serve("1.2", cr(authorities=[issuer_dn(s)]))


@scenario("srv-tls12-dhe", role="server", rfc="RFC 5246 7.4.3, 7.4.8", row="A01", versions={"1.2"}, tags={"dhe"},
          summary="finite-field DHE (ffdhe2048) key exchange, CertificateRequest naming the client's issuer",
          expect=SENT, client={"cipher_suites": (0x009E, 0x009F)})
def srv_dhe(s: Setup):
    return serve("1.2", cr(authorities=[issuer_dn(s)]))


@scenario("srv-tls13-hrr", role="server", rfc="RFC 8446 4.1.4, 4.3.2", row="A01", versions={"1.3"},
          summary="HelloRetryRequest for P-384 first, then the CertificateRequest: the client's "
                  "CertificateVerify covers the restarted transcript", expect=SENT, client={"groups": (24,)})
def srv_hrr(s: Setup):
    return serve("1.3", cr(authorities=[issuer_dn(s)]))


# -- CA lists that span records, and oid_filters ------------------------------------------------
def _many_names(count: int) -> list[bytes]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return [x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certlab decoy CAs"),
                       x509.NameAttribute(NameOID.COMMON_NAME, f"Decoy CA {i:04d}")]).public_bytes()
            for i in range(count)]


@scenario("srv-ca-names-many", role="server", rfc="RFC 5246 7.4.4; RFC 8446 4.2.4", row="E02", versions=BOTH,
          summary="400 CA names (about 26 KB: the CertificateRequest spans two records) with the client's "
                  "issuer last", expect=SENT)
def ca_many(s: Setup):
    return serve(s.version, cr(authorities=_many_names(400) + [issuer_dn(s)]))


EKU_OID = b"\x55\x1d\x25"   # 2.5.29.37 (extKeyUsage), the OID's DER contents as RFC 8446 4.2.5 carries them


def _eku_filter(*usages) -> list:
    from cryptography import x509
    from layers.extensions import OIDFilter, OIDFilters
    value = x509.ExtendedKeyUsage(list(usages)).public_bytes()
    return [ExtensionCR() / OIDFilters(filters=[OIDFilter(certificate_extension_oid=EKU_OID,
                                                          certificate_extension_values=value)])]


@scenario("srv-tls13-oid-filters-met", role="server", rfc="RFC 8446 4.2.5", row="E05", versions={"1.3"},
          summary="oid_filters asking for extKeyUsage clientAuth, which the client's certificate has",
          expect=SENT)
def oid_met(s: Setup):
    from cryptography.x509.oid import ExtendedKeyUsageOID
    return serve("1.3", cr(authorities=None, extensions=_eku_filter(ExtendedKeyUsageOID.CLIENT_AUTH)))


@scenario("srv-tls13-oid-filters-unmet", role="server", rfc="RFC 8446 4.2.5 (for every OID the client recognizes)",
          row="E05", versions={"1.3"}, summary="oid_filters asking for extKeyUsage emailProtection, which the "
          "client's certificate lacks: a client that knows the filter withholds it",
          expect=EMPTY | Outcome("client_error") | ExpectAlert("handshake_failure"))
def oid_unmet(s: Setup):
    from cryptography.x509.oid import ExtendedKeyUsageOID
    return serve("1.3", cr(authorities=None, extensions=_eku_filter(ExtendedKeyUsageOID.EMAIL_PROTECTION)))
