"""The server engine, sans-IO, against Python's ssl client (OpenSSL underneath) over memory BIOs:
real client behaviour for TLS 1.2 (ECDHE, RSA key exchange) and 1.3 (with and without HRR), and
what the engine records of the client's authentication."""
from __future__ import annotations

import ssl

import pytest

from lab.engine.server import ServerConfig, ServerEngine
from lab.script.setup import Setup
from lab.crypto.x509view import certificate


def _client(pki, version: str, who: str | None = "client", ciphers: str | None = None):
    cli = pki.identity("rsa", who or "client")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    ctx.load_verify_locations(cli.ca)
    if who:
        ctx.load_cert_chain(cli.cert, cli.key)
    if ciphers:
        ctx.set_ciphers(ciphers)  # Python's defaults leave out RSA key exchange
    cin, cout = ssl.MemoryBIO(), ssl.MemoryBIO()
    return ctx.wrap_bio(cin, cout, server_hostname="localhost"), cin, cout


def _step(obj) -> None:
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass


def handshake(pki, version: str, who: str | None = "client", suites: tuple[int, ...] = (), hrr: int | None = None):
    s = Setup(pki, version)
    eng = ServerEngine(ServerConfig(version=version, chain=tuple(s.chain("server")), key=s.key("server"),
                                    cipher_suites=suites, groups=(hrr,) if hrr else (29, 23, 24)))
    client, cin, cout = _client(pki, version, who, "AES128-GCM-SHA256" if 0x009C in suites else None)
    _step(client)
    eng.receive_bytes(cout.read())
    ca_dn = certificate(s.chain("client")[0]).issuer.public_bytes()
    if version == "1.3":
        if hrr:
            cin.write(eng.send_handshake(eng.hello_retry_request(hrr)))
            _step(client)
            eng.receive_bytes(cout.read())
        wire = eng.send_handshake(eng.server_hello())
        for gen in (eng.encrypted_extensions, lambda: eng.certificate_request(authorities=[ca_dn]),
                    eng.certificate, eng.certificate_verify, eng.finished):
            eng.stage(gen())
        cin.write(wire + eng.flush())
        _step(client)
        eng.receive_bytes(cout.read())
    else:
        for gen in (eng.server_hello, eng.certificate, eng.server_key_exchange if not suites else None,
                    lambda: eng.certificate_request(authorities=[ca_dn]), eng.server_hello_done):
            if gen:
                eng.stage(gen())
        cin.write(eng.flush())
        _step(client)
        eng.receive_bytes(cout.read())
        cin.write(eng.send_ccs() + eng.send_handshake(eng.finished()))
        _step(client)
    client.write(b"ping")
    events = eng.receive_bytes(cout.read())
    cin.write(eng.send_application_data(b"pong"))
    return eng, client, events


@pytest.mark.parametrize("version,suites,hrr", [("1.3", (), None), ("1.3", (), 23), ("1.2", (), None),
                                                ("1.2", (0x009C,), None)])
def test_python_client_authenticates_to_the_server_engine(pki, version, suites, hrr) -> None:
    eng, client, events = handshake(pki, version, suites=suites, hrr=hrr)
    assert not eng.notes, eng.notes
    assert eng.client_finished
    assert [e.raw for e in events if e.kind == "application_data"] == [b"ping"]
    assert client.read(10) == b"pong"
    assert certificate(eng.auth.chain[0]).subject.rfc4514_string() == "CN=lab-client,O=TLS Lab"
    assert eng.auth.cv_verified is True and eng.auth.cv_scheme == 0x0804
    assert client.version() == ("TLSv1.3" if version == "1.3" else "TLSv1.2")


def test_client_without_certificate_sends_an_empty_one(pki) -> None:
    eng, client, _ = handshake(pki, "1.3", who=None)
    assert eng.auth.empty is True and eng.auth.cv_scheme is None
