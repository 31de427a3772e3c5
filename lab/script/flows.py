"""Common step sequences, so scenarios say only what differs from a normal handshake."""
from __future__ import annotations

from lab.script import generators as gen
from lab.script.dsl import ReadUntil, Send, SendAppData, SendCCS, Step, Trigger

SERVER_FLIGHT_12 = ("server_hello_done",)
SERVER_FLIGHT_13 = ("finished",)


def until_server_flight(version: str) -> list[Step]:
    names = SERVER_FLIGHT_13 if version == "1.3" else SERVER_FLIGHT_12
    return [Send(gen.client_hello(), label="ClientHello"),
            ReadUntil(names, label="server flight")]


def handshake(version: str) -> list[Step]:
    """A whole handshake in which the server asks for no certificate (and none is sent)."""
    if version == "1.3":
        return [*until_server_flight("1.3"), SendCCS(), Send(gen.finished(), label="Finished")]
    return [*until_server_flight("1.2"), Send(gen.client_key_exchange(), label="ClientKeyExchange"), SendCCS(),
            Send(gen.finished(), label="Finished"), ReadUntil(("finished",), label="server Finished")]


def client_auth(version: str, certificate=None, certificate_verify=None, *, omit_cv: bool = False,
                fragment: int | None = None) -> list[Step]:
    """The whole client-authenticated handshake; pass generators to replace the Certificate or
    CertificateVerify, ``gen.certificate([])`` for an empty one, ``omit_cv`` to leave it out."""
    cert = certificate or gen.certificate()
    cv = None if omit_cv else (certificate_verify or gen.certificate_verify())
    steps = until_server_flight(version)
    if version == "1.3":
        msgs = [cert] + ([cv] if cv else []) + [gen.finished()]
        steps += [SendCCS(), Send(*msgs, label="Certificate, CertificateVerify, Finished", fragment=fragment)]
    else:
        msgs = [cert, gen.client_key_exchange()] + ([cv] if cv else [])
        steps += [Send(*msgs, label="Certificate, ClientKeyExchange, CertificateVerify", fragment=fragment),
                  SendCCS(), Send(gen.finished(), label="Finished"),
                  ReadUntil(("finished",), label="server ChangeCipherSpec, Finished")]
    return steps


def post_handshake_auth(*answer, request: bool = True) -> list[Step]:
    """TLS 1.3 handshake without client auth, a request, the peer's post-handshake
    CertificateRequest (``request_certificate`` pokes stacks that need it), then ``answer``."""
    steps = [*handshake("1.3"), SendAppData(label="request"),
             Trigger("request_certificate", label="server asks for a certificate")]
    if request:
        steps.append(ReadUntil(("certificate_request",), label="post-handshake CertificateRequest"))
    if answer:
        steps.append(Send(*answer, label="post-handshake answer"))
    return steps + [Trigger("respond", label="server answers")]


def renegotiation(*second: Step) -> list[Step]:
    """A TLS 1.2 handshake without client auth, a request, then the server's HelloRequest and
    ``second`` (the renegotiation handshake)."""
    return [*handshake("1.2"), SendAppData(label="request"), Trigger("renegotiate", label="server sends HelloRequest"),
            ReadUntil(("hello_request",), label="HelloRequest"), *second,
            Trigger("respond", label="server answers")]
