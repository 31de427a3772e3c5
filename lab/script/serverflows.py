"""Server-role step sequences (certlab as the server), so scenarios say only what
differs: usually the CertificateRequest."""
from __future__ import annotations

from collections.abc import Callable

from lab.crypto import x509view
from lab.script.setup import Setup
from lab.script.dsl import Negotiate, ReadUntil, Send, SendCCS, Step


def issuer_dn(s: Setup, who: str = "client") -> bytes:
    """The DER name of ``who``'s issuer, for a CertificateRequest's CA list."""
    return x509view.certificate(s.chain(who)[0]).issuer.public_bytes()


def cr(**fields) -> Callable:
    """A CertificateRequest (``authorities``, ``schemes``, ``context``, ``certificate_types``, ``extensions``)."""
    return lambda eng: eng.certificate_request(**fields)


def serve(version: str, certificate_request: Callable | None, after: list[Step] | None = None) -> list[Step]:
    """A full handshake as the server, asking with ``certificate_request`` (None: not asking)."""
    cr_gen = [certificate_request] if certificate_request is not None else []
    steps: list[Step] = [ReadUntil(("client_hello",), label="ClientHello")]
    if version == "1.3":
        steps += [Negotiate(), Send(lambda e: e.server_hello(), label="ServerHello"), SendCCS(),
                  Send(lambda e: e.encrypted_extensions(), *cr_gen, lambda e: e.certificate(),
                       lambda e: e.certificate_verify(), lambda e: e.finished(),
                       label=f"EncryptedExtensions{', CertificateRequest' if cr_gen else ''}, Certificate, "
                             "CertificateVerify, Finished"),
                  ReadUntil(("finished",), label="client Certificate, CertificateVerify, Finished"
                            if cr_gen else "client Finished")]
    else:
        steps += handshake12(certificate_request)
    return steps + (after or [])


def handshake12(certificate_request: Callable | None, note: str = "") -> list[Step]:
    """The TLS 1.2 server's part after the ClientHello, with ``note`` appended to each label."""
    cr_gen = [certificate_request] if certificate_request is not None else []
    return [Send(lambda e: e.server_hello(), lambda e: e.certificate(), lambda e: e.server_key_exchange(), *cr_gen,
                 lambda e: e.server_hello_done(),
                 label=f"ServerHello, Certificate, ServerKeyExchange{', CertificateRequest' if cr_gen else ''}, "
                       f"ServerHelloDone{note}"),
            ReadUntil(("finished",), label=("client Certificate, ClientKeyExchange, CertificateVerify, Finished"
                                            if cr_gen else "client ClientKeyExchange, Finished") + note),
            SendCCS(), Send(lambda e: e.finished(), label=f"Finished{note}")]
