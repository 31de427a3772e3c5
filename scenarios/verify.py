"""CertificateVerify scenarios (catalogue group D), lab as client."""
from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from lab.script import flows
from lab.script import generators as gen
from lab.script.setup import Setup
from lab.script.dsl import ExpectAlert, ExpectAppRejected, ExpectSuccess, scenario
from layers.certificate import CertificateVerify
from layers.handshake import Handshake

BOTH = {"1.2", "1.3"}
DECRYPT = ExpectAlert("decrypt_error") | ExpectAppRejected()
ILLEGAL = ExpectAlert("illegal_parameter") | ExpectAlert("decrypt_error") | ExpectAlert("handshake_failure")


def _cv(s: Setup, build):
    return flows.client_auth(s.version, certificate_verify=build)


def _custom(scheme_label: int, signer):
    """A CertificateVerify labelled ``scheme_label`` whose signature ``signer(engine)`` makes."""
    return lambda eng: Handshake() / CertificateVerify(algorithm=scheme_label, signature=signer(eng))


@scenario("cv-truncated", rfc="RFC 8446 4.4.3; RFC 5246 7.4.8", row="D02", versions=BOTH,
          summary="CertificateVerify signature cut to half its length (length field consistent)", expect=DECRYPT)
def cv_truncated(s: Setup):
    return _cv(s, gen.certificate_verify(mutate=lambda sig: sig[:len(sig) // 2]))


@scenario("cv-empty-signature", rfc="RFC 8446 4.4.3; RFC 5246 7.4.8", row="D02", versions=BOTH,
          summary="CertificateVerify with an empty signature",
          expect=DECRYPT | ExpectAlert("decode_error") | ExpectAlert("illegal_parameter"))
def cv_empty(s: Setup):
    return _cv(s, gen.certificate_verify(mutate=lambda sig: b""))


@scenario("cv-length-inconsistent", rfc="RFC 5246 4.3", row="D03", versions=BOTH,
          summary="signature length field one byte longer than the signature", expect=ExpectAlert("decode_error"))
def cv_length(s: Setup):
    def build(eng):
        msg = eng.certificate_verify()
        msg.payload.signature_len = len(msg.payload.signature) + 1
        return msg
    return _cv(s, build)


@scenario("cv-scheme-not-offered", rfc="RFC 8446 4.4.3; RFC 5246 7.4.8", row="D04/D07", versions={"1.2"},
          summary="CertificateVerify with rsa_pkcs1_md5, which no CertificateRequest offers (SLOTH)",
          expect=ILLEGAL)
def cv_md5(s: Setup):
    return _cv(s, _custom(0x0101, lambda eng: gen.sign(0x0101, eng.config.key, eng.signed_content())))


@scenario("cv-scheme-key-mismatch", rfc="RFC 8446 4.4.3 (MUST be compatible with the key)", row="D05", versions=BOTH,
          summary="an RSA-PSS signature labelled ecdsa_secp256r1_sha256", expect=ILLEGAL)
def cv_mismatch(s: Setup):
    return _cv(s, _custom(0x0403, lambda eng: gen.sign(0x0804, eng.config.key, eng.signed_content())))


@scenario("tls12-cv-hash-mismatch", rfc="RFC 5246 7.4.8", row="D06", versions={"1.2"},
          summary="a SHA-1 signature in a rsa_pkcs1_sha256 envelope", expect=DECRYPT)
def cv_hash_mismatch(s: Setup):
    return _cv(s, _custom(0x0401, lambda eng: gen.sign(0x0201, eng.config.key, eng.signed_content())))


@scenario("tls13-cv-sha1", rfc="RFC 8446 4.4.3 (SHA-1 MUST NOT be used)", row="D08", versions={"1.3"},
          summary="TLS 1.3 CertificateVerify with rsa_pkcs1_sha1", expect=ILLEGAL)
def cv_sha1_13(s: Setup):
    return _cv(s, gen.certificate_verify(scheme=0x0201))


@scenario("cv-pss-wrong-salt", rfc="RFC 8446 4.2.3 (salt length = hash length)", row="D09", versions=BOTH,
          summary="rsa_pss_rsae_sha256 signature with a 20-byte salt", expect=DECRYPT)
def cv_pss_salt(s: Setup):
    def signer(eng):
        return eng.config.key.sign(eng.signed_content(), padding.PSS(padding.MGF1(hashes.SHA256()), 20),
                                   hashes.SHA256())
    return _cv(s, _custom(0x0804, signer))


@scenario("tls13-cv-ecdsa-curve-mismatch", rfc="RFC 8446 4.2.3", row="D10", versions={"1.3"},
          summary="P-384 key signing as ecdsa_secp256r1_sha256",
          expect=ILLEGAL)
def cv_curve(s: Setup):
    return flows.client_auth("1.3", certificate=gen.certificate(s.chain("client-p384")),
                             certificate_verify=_custom(0x0403, lambda eng: gen.sign(
                                 0x0403, s.key("client-p384"), eng.signed_content())))


@scenario("tls12-cv-wrong-message-set", rfc="RFC 5246 7.4.8 (all handshake messages so far)", row="D11",
          versions={"1.2"}, summary="CertificateVerify over the handshake without the client Certificate",
          expect=DECRYPT)
def cv_wrong_set(s: Setup):
    def signer(eng):
        transcript = bytes(eng.k.transcript)
        cert = bytes(eng.certificate())
        return gen.sign(0x0804, eng.config.key, transcript.replace(cert, b"", 1))
    return _cv(s, _custom(0x0804, signer))


@scenario("tls13-cv-server-context", rfc="RFC 8446 4.4.3", row="D12", versions={"1.3"},
          summary="CertificateVerify signed over the server's context string", expect=DECRYPT)
def cv_server_context(s: Setup):
    return _cv(s, _custom(0x0804, lambda eng: gen.sign(0x0804, eng.config.key,
                                                   gen.cv13_content(eng.k.transcript_hash(), server=True))))


@scenario("tls12-cv-rsa-pkcs1-sha1", rfc="RFC 5246 7.4.8; RFC 9155", row="D13", versions={"1.2"}, level="MAY",
          summary="rsa_pkcs1_sha1 CertificateVerify (deprecated; servers decide)",
          expect=ExpectSuccess() | ILLEGAL)
def cv_sha1_12(s: Setup):
    return _cv(s, gen.certificate_verify(scheme=0x0201))
