"""certlab as the server: a real client program connects to a free loopback port, the server
engine plays the scenario's steps, and the result records what the client did (the chain it
sent or an empty Certificate, its CertificateVerify, its alerts) and what the client program
itself reported (exit status, error text)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from lab.crypto import x509view
from lab.crypto.kx import KeyExchangeError
from lab.engine.endpoint import Event
from lab.engine.server import ServerConfig, ServerEngine
from lab.engine.state import EngineError
from lab.crypto.choice import Request, judge
from lab.peers.clients import ClientPeer, ClientResult, ExternalClient
from lab.play.conversation import HTTP_STATUS, Conversation, play
from lab.play.observed import Observed
from lab.script.dsl import Negotiate, ReadUntil, Scenario, SendAlert, SendRecords, Shutdown, Step
from lab.script.setup import Setup
from lab.transport import ListeningTransport
from layers.registry import SIGNATURE_SCHEME_NAMES

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\ncertlab\n"
REQUEST_KEPT = 64 * 1024                 # what is kept of the client's request
UNTIL_CLOSE = ("(the client closes)",)   # no message has this name: read until close or timeout


class ServerConversation(Conversation):
    peer = "client"
    close_notify_ends = False    # a client's close_notify comes with its close: the close ends it

    def __init__(self, engine: ServerEngine, transport: ListeningTransport, timeout: float) -> None:
        super().__init__(engine, transport, timeout)
        self.request = b""
        self.server_alert: int | None = None
        self.retried = False   # a later connection of a client that left at the CertificateRequest

    @property
    def phase(self) -> str:
        return "after_client_finished" if self.engine.client_finished else "before_client_finished"

    def saw(self, ev: Event) -> None:
        if ev.kind == "application_data" and self.engine.client_finished and len(self.request) < REQUEST_KEPT:
            self.request += ev.raw[:REQUEST_KEPT - len(self.request)]

    def ending(self, ev: Event, when: str | None) -> Observed | None:
        if ev.kind == "application_data" and not self.engine.client_finished:
            # Data before the handshake is not a request: RFC 8446 5 and RFC 5246 6.2.1 have no
            # unprotected application data, and a client that sends it has not authenticated.
            return Observed("error", when=when or self.phase,
                            reason=f"the client sent {len(ev.raw)} bytes of application data before its handshake "
                                   "finished (unexpected_message): no request was made over TLS")
        return super().ending(ev, when)

    def awaited(self, ev: Event, names: tuple[str, ...]) -> bool:
        return (ev.name in names) if names else bool(self.request)

    def perform(self, step: Step) -> None:
        try:
            super().perform(step)
        except (EngineError, KeyExchangeError) as exc:  # e.g. no suite in common: a real server's answer
            self.send(self.engine.send_alert(40), "handshake_failure")
            self.end(Observed("error", reason=f"the lab server cannot go on: {exc}"))
            return
        if isinstance(step, SendAlert) and step.level == 2:
            # A fatal alert ends the connection: no answer, just the close.
            self.transport.shutdown()
            self.read(UNTIL_CLOSE, "close")
            self.end(Observed("closed"))
            self.server_alert = step.description

    def perform_role(self, step: Step) -> None:
        eng = self.engine
        if isinstance(step, Shutdown):
            self.transport.shutdown()
        elif isinstance(step, Negotiate):
            if eng.tls13 and eng.group is None:
                offered = eng.client_groups()
                group = next((g for g in eng.config.groups if g in offered), None)
                if group is None:
                    self.end(Observed("error", reason="no key-share group in common with the client"))
                    return
                self.send(eng.send_handshake(eng.hello_retry_request(group)), "HelloRetryRequest")
                self.read(("client_hello",), "second ClientHello")
        else:
            super().perform_role(step)

    def addresses(self, index: int) -> tuple[tuple[str, int], tuple[str, int]]:
        remote = self.transport.remote
        return (remote[0], remote[1] or 50000), self.transport.local


def closing_steps(conv: ServerConversation) -> Iterator[Step]:
    """The client's request, our answer, then its close: the client program reports the rest.
    HTTP/1.0: answer, then close (close_notify, then the TCP connection)."""
    if not conv.request:
        yield ReadUntil((), "request")
    yield SendRecords(lambda eng: eng.send_application_data(RESPONSE) + eng.send_alert(0, level=1),
                      label="response, close_notify")
    yield Shutdown()
    yield ReadUntil(UNTIL_CLOSE, "close")


def _dh_parameters(setup: Setup) -> bytes | None:
    try:
        with open(setup.pki.dh_parameters, "rb") as fh:
            return fh.read()
    except FileNotFoundError:  # no openssl program to make them: the server offers no DHE suite
        return None


def play_server(sc: Scenario, setup: Setup, client: ClientPeer, *, timeout: float = 3.0,
                transport: ListeningTransport | None = None, accept_timeout: float = 15.0,
                trace: Callable[[str], None] | None = None, starttls: str | None = None) -> ServerConversation:
    """Start ``client``, play the steps with it, wait for its program; ``conv.observed`` says
    what the client did. The client program never outlives the call (Ctrl-C and SIGTERM too).
    ``starttls``: the protocol whose plaintext preamble comes first (``lab.transport.starttls``)."""
    cfg = ServerConfig(version=setup.version, chain=tuple(setup.chain("server")), key=setup.key("server"),
                       dh_parameters=_dh_parameters(setup), **dict(sc.client))
    transport = transport or ListeningTransport()
    conv = ServerConversation(ServerEngine(cfg), transport, timeout)
    if trace:
        from lab.play.trace import Trace
        conv.trace = Trace(trace, "client")
    try:
        client.start(transport.port)
        if not transport.accept(accept_timeout):
            conv.end(Observed("error", reason="the client did not connect"))
        elif starttls:
            _upgrade(conv, starttls, timeout)
        play(sc.build(setup), conv)
        for _ in range(4 if client.reconnects else 0):   # a browser's next connection, its choice made
            earlier = _came_back(conv, transport)
            if not earlier:
                break
            trace_sink = conv.trace
            conv = ServerConversation(ServerEngine(cfg), transport, timeout)
            conv.earlier, conv.trace, conv.retried = earlier, trace_sink, True
            play(sc.build(setup), conv)
        play(closing_steps(conv), conv)
        transport.shutdown()
        client.release()
        result = client.wait(3.0)
        if result.exit_code is None:  # some clients (tstclnt) leave only when the connection is gone entirely
            transport.close()
            result = client.wait()
    except BaseException:
        client.stop()
        transport.close()
        raise
    transport.close()
    conv.observed = judge_client(conv, result)
    if conv.retried and conv.observed.reason is None:
        conv.observed = conv.observed.but(reason=RETRIED)
    return _what_it_chose(conv, client, setup, sc)


RETRIED = ("the client closed its connection on the CertificateRequest without a word and came back on a new one "
           "with its choice made (as browsers do); the result is the last connection's, the pcap holds them all")


def _came_back(conv: ServerConversation, transport: ListeningTransport, wait: float = 10.0) -> list | None:
    """If the client left at our CertificateRequest without a word (no Certificate, no alert)
    and connected again, as Chromium does (it aborts the handshake to choose a certificate, then
    starts over with it): the first connection, for the pcap; else None."""
    eng = conv.engine
    if conv.observed is None or conv.observed.outcome != "closed" or eng.cert_request is None \
            or eng.auth.empty is not None or conv.request:
        return None
    first, old = conv.connections(), transport.sock
    if not transport.accept(wait):
        return None
    if old is not None:
        old.close()
    return first


def _what_it_chose(conv: ServerConversation, client: ClientPeer, setup: Setup, sc: Scenario) -> ServerConversation:
    """Which of the certificates the client held it sent, and (for a certificate-choice
    scenario, or ``serve --holds``) how the request judges each of them."""
    chains = client.held_chains(setup)
    sent = list(conv.engine.auth.chain or ())
    if sent:
        who = next((who for who, chain in chains.items() if chain[0] == sent[0]), None)
        if who is None and isinstance(client, ExternalClient):   # not one it was said to hold: judged as sent
            who = f"the certificate it sent ({x509view.summary(sent[0]).get('subject', '?')})"
            chains = {**chains, who: sent}
        conv.observed = conv.observed.but(client_choice=who or "a certificate it was not given")
    if chains and conv.engine.cert_request is not None and (isinstance(client, ExternalClient) or "wallet" in sc.tags):
        request = request_of(conv.engine.cert_request.payload, setup.version)
        if request is not None:   # None: a request forged past reading (the scenario's own point)
            conv.observed = conv.observed.but(holdings=tuple(dataclasses.asdict(v) for v in judge(request, chains)))
    return conv


def request_of(body, version: str) -> Request | None:
    """The fields of a CertificateRequest (either form) that decide which certificate fits; None
    when its fields cannot be read (a scenario's forged request)."""
    import scapy.asn1.ber as ber
    import scapy.asn1.mib  # noqa: F401 - scapy's OID table, which its BER decoder needs
    try:
        return _request_of(body, version, ber)
    except (AttributeError, TypeError, ValueError, ber.BER_Decoding_Error):
        return None


def _request_of(body, version: str, ber) -> Request:
    if version != "1.3":
        return Request(version, tuple(body.supported_signature_algorithms),
                       tuple(bytes(d.dn) for d in body.certificate_authorities), tuple(body.certificate_types))
    schemes, authorities, eku = (), None, ()
    for ext in body.extensions:
        if ext.extension_type == 13:
            schemes = tuple(ext.payload.supported_signature_algorithms)
        elif ext.extension_type == 47:
            authorities = tuple(bytes(d.dn) for d in ext.payload.authorities)
        elif ext.extension_type == 48:
            for f in ext.payload.filters:
                if bytes(f.certificate_extension_oid) == b"\x55\x1d\x25":   # extKeyUsage: its values are OIDs
                    seq, _ = ber.BERcodec_Object.dec(bytes(f.certificate_extension_values))
                    eku += tuple(str(o.val) for o in seq.val)
    return Request(version, schemes, authorities, None, eku)


def _upgrade(conv: ServerConversation, proto: str, timeout: float) -> None:
    """Answer the client's in-band upgrade; the TLS conversation runs on what follows it."""
    from lab.transport.starttls import StartTLSError, upgrade_server
    try:
        conv.transport, preamble = upgrade_server(proto, conv.transport, timeout)
    except StartTLSError as exc:
        conv.end(Observed("error", reason=str(exc)))
        return
    conv.flights[:0] = preamble


def judge_client(conv: ServerConversation, result: ClientResult) -> Observed:
    """What the connection showed, joined with what the client program reported."""
    wire = conv.observed or Observed("closed")
    if wire.outcome in ("alert", "error"):
        observed = wire
    elif conv.server_alert is not None:  # we rejected the client: did its program notice?
        observed = wire if not result.ran else Observed("success" if result.ok else "client_error")
    elif conv.request and (result.ok or not result.ran):   # it asked and had our answer
        observed = Observed("success")
    elif not result.ran:   # no program to ask (``serve``): the wire is the answer
        observed = wire
    elif not result.ok:
        observed = Observed("client_error", wire=wire.outcome)  # the client program failed
    else:
        observed = wire
    auth, eng = conv.engine.auth, conv.engine
    failed = None
    if not result.ok and result.exit_code is not None:
        # When the client program learnt of the failure: its handshake call had already returned
        # if it sent its request (the TLS 1.3 late rejection), else during the handshake.
        failed = "after its handshake returned" if conv.request else "during the handshake"
    tail = [line for line in result.output.strip().splitlines() if line.strip()][-2:]
    m = HTTP_STATUS.match(result.output.encode("latin-1", "replace"))
    return observed.but(
        client_certificate="none" if auth.empty is None else ("empty" if auth.empty else "sent"),
        client_chain=tuple(x509view.summary(c).get("subject", "?") for c in auth.chain) if auth.chain else None,
        cv_scheme=None if auth.cv_scheme is None else SIGNATURE_SCHEME_NAMES.get(auth.cv_scheme,
                                                                                 hex(auth.cv_scheme)),
        cv_verified=auth.cv_verified if auth.cv_scheme is not None else None,
        client_sent_request=bool(conv.request), client_failed=failed, client_exit=result.exit_code,
        client_output=" | ".join(tail)[:300], http_status=int(m.group(1)) if m else observed.http_status,
        client_errors=tuple(eng.notes), server_alert=conv.server_alert, cut=conv.cut_note())
