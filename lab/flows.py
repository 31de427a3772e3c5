"""Common step sequences, so scenarios say only what differs from a normal handshake."""
from __future__ import annotations

from lab import generators as gen
from lab.scenario import ReadUntil, Send, SendCCS, Step

SERVER_FLIGHT_12 = ("server_hello_done",)
SERVER_FLIGHT_13 = ("finished",)


def until_server_flight(version: str) -> list[Step]:
    names = SERVER_FLIGHT_13 if version == "1.3" else SERVER_FLIGHT_12
    return [Send(gen.client_hello(), label="ClientHello"),
            ReadUntil(names, label="server flight")]


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
