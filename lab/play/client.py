"""certlab as the client: the conversation with a real server, and a scenario played through it.
After the steps, a verdict the server sends right after our last flight is awaited (so "after
our Finished" and "only on the first read" can be told apart), then application data probes the
server: TLS 1.3 servers judge the client certificate after the client's Finished, so without it
every rejection would look like a success."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

from lab.dissect.describe import certificate_request_facts
from lab.engine.client import ClientConfig, ClientEngine
from lab.engine.endpoint import Event
from lab.peers.backend import received
from lab.play import http2
from lab.play.conversation import HTTP_INFORMATIONAL, HTTP_STATUS, Conversation, play
from lab.play.observed import Observed
from lab.script.dsl import ReadUntil, Reconnect, Scenario, SendAppData, Step, Trigger
from lab.script.setup import Setup
from lab.transport import Transport
from layers.http2 import is_request as opens_http2

PROBE = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
Hooks = dict[str, Callable[[], bytes | None]]


class ClientConversation(Conversation):
    peer = "server"
    close_notify_ends = True

    def __init__(self, engine: ClientEngine, transport: Transport, timeout: float, hooks: Hooks | None = None,
                 connect: Callable[[], Transport] | None = None) -> None:
        super().__init__(engine, transport, timeout)
        self.hooks, self.connect = hooks or {}, connect
        self.hrr_answered: ClientEngine | None = None   # the engine whose HelloRetryRequest was answered

    @property
    def phase(self) -> str:
        e = self.engine
        done = e.main_done if e.tls13 else bool(e.client_verify_data)
        return "after_client_finished" if done else "before_client_finished"

    def awaited(self, ev: Event, names: tuple[str, ...]) -> bool:
        if names:
            return ev.name in names
        # Empty records (OpenSSL's TLS 1.0 BEAST countermeasure) and "100 Continue" are not answers.
        return ev.kind == "application_data" and bool(ev.raw) and not HTTP_INFORMATIONAL.match(ev.raw)

    def batch_ends_read(self, events: list[Event], names: tuple[str, ...]) -> bool:
        if "hello_retry_request" not in names and any(e.name == "hello_retry_request" for e in events) \
                and self.engine.hrr is not None and self.hrr_answered is not self.engine:
            # A server that wants another key share group (PostgreSQL's OpenSSL asks for P-256):
            # the second ClientHello answers it (RFC 8446 4.1.4) and the read goes on.
            self.hrr_answered = self.engine
            self.send(self.engine.send_handshake(self.engine.client_hello()), "ClientHello (after HelloRetryRequest)")
            return False
        if self.engine.owe_key_update:
            self.engine.owe_key_update = False
            self.send(self.engine.key_update(0), "KeyUpdate (answering update_requested)")
        return not names and any(ev.kind == "application_data" for ev in events)

    def perform_role(self, step: Step) -> None:
        if isinstance(step, Reconnect):
            if self.connect is None:
                self.end(Observed("error", reason="this transport cannot reconnect"))
            else:
                self.reconnect(self.connect())
        elif isinstance(step, Trigger):
            hook = self.hooks.get(step.action)
            data = hook() if hook is not None else None   # no hook: this peer acts by itself
            if data:  # some stacks are nudged by the client's own data (gnutls-serv's **REAUTH**)
                self.send(self.engine.send_application_data(data), step.label)
        else:
            super().perform_role(step)

    def reconnect(self, transport: Transport) -> None:
        """Close properly (close_notify both ways: OpenSSL forgets sessions of connections that end
        without it), keep what the connection did, and start a new engine offering its session."""
        self.send(self.engine.send_alert(0, level=1), "close_notify")
        for _ in range(5):  # the server's own close_notify (and whatever precedes it), briefly
            data = self.transport.recv(0.2)
            if not data:
                break
            self.keep(data, "server: closing", len(self.engine.receive_bytes(data)))
        self.transport.close()
        self.earlier.append((self.flights, *self.addresses(len(self.earlier)), self.engine.keylog))
        cfg = dataclasses.replace(self.engine.config, session=self.engine.session())
        self.engine, self.transport, self.backlog = ClientEngine(cfg), transport, []
        self.flights = list(getattr(transport, "preamble", ()))
        self.new_connection()

    def addresses(self, index: int) -> tuple[tuple[str, int], tuple[str, int]]:
        local = getattr(self.transport, "local", ("127.0.0.1", 50000 + index))
        remote = getattr(self.transport, "remote", ("127.0.0.1", 443))
        return (local[0], local[1]), (remote[0], remote[1])


def closing_steps(conv: ClientConversation, settle: float, answer: list[Event],
                  probe: bytes | None = PROBE, complete: Callable[[bytes], bool] | None = None,
                  server_speaks_first: bool = False) -> Iterator[Step]:
    """Listen ``settle`` seconds (0 skips it), then send ``probe`` (None: nothing) unless the server
    already answered; ``answer`` receives the events that hold the server's answer. ``complete``
    says whether the answer so far is whole (an IMAP tagged reply after its untagged lines comes
    in a record of its own): until it is, the read goes on while the server keeps sending.
    ``server_speaks_first``: what came while listening is not an answer (HTTP/2's SETTINGS) but
    the start of one; the probe is sent anyway."""
    if settle > 0:
        yield ReadUntil((), "after our last flight", when="after_client_finished", timeout=settle)
        answer[:] = [e for e in conv.last if not (e.kind == "application_data" and HTTP_INFORMATIONAL.match(e.raw))]
    if probe is not None and (server_speaks_first or not any(e.kind == "application_data" for e in answer)):
        yield SendAppData(probe, label="application data (probe)")
        yield ReadUntil((), "response to the probe", when="on_first_read")
        answer[:] = (answer if server_speaks_first else []) + conv.last
        while complete is not None and conv.observed is None and not conv.quiet and \
                not complete(b"".join(e.raw for e in answer if e.kind == "application_data")):
            yield ReadUntil((), "rest of the response", when="on_first_read", quiet_ok=True)
            answer += conv.last


def http_complete(data: bytes) -> bool:
    """Whether an HTTP answer is whole: its headers, and as much body as Content-Length says."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return length is None or len(body) >= int(length.group(1))


def classify_response(data: bytes) -> Observed:
    """Success, or an application-level rejection (an HTTP status of 400 or more, as nginx answers
    a bad client certificate), or a timeout when nothing came."""
    if not data:
        return Observed("timeout", when="on_first_read", waiting_for=("application data",))
    m = HTTP_STATUS.match(data)
    status = int(m.group(1)) if m else None
    return Observed("app_rejected" if status and status >= 400 else "success", when="on_first_read",
                    response=data[:200].decode("latin-1"), http_status=status, forwarded=received(data))


def client_config(sc: Scenario, setup: Setup) -> ClientConfig:
    options = {"server_name": setup.server_name, "alpn": setup.alpn, **dict(sc.client)}
    return ClientConfig(version=setup.version, chain=tuple(setup.chain()), key=setup.key(),
                        offer_pha="pha" in sc.tags, **options)


def play_client(sc: Scenario, setup: Setup, transport: Transport, *, timeout: float = 3.0, settle: float = 0.3,
                hooks: Hooks | None = None, connect: Callable[[], Transport] | None = None,
                trace: Callable[[str], None] | None = None, app=None) -> ClientConversation:
    """The scenario's steps, then the closing steps; ``conv.observed`` is what happened. ``trace``
    receives a line per message as it goes (``run -v``); ``app`` (a ``lab.play.target.AppCheck``)
    replaces the HTTP probe the managed stacks answer."""
    conv = ClientConversation(ClientEngine(client_config(sc, setup)), transport, timeout, hooks, connect)
    if trace:
        from lab.play.trace import Trace
        conv.trace = Trace(trace, "server")
    play(sc.build(setup), conv)
    answer: list[Event] = []
    # A proxy's backend answers in several records: what it was told is only in the whole answer.
    whole = http_complete if any(o.forwarded for o in sc.expect(setup.version).outcomes) else None
    judge = app.judge if app else classify_response
    h2 = app is None and opens_http2(sc.request)   # the scenario speaks HTTP/2 (ALPN h2)
    if h2:
        whole, judge = http2.complete, http2.judge
    play(closing_steps(conv, settle, answer, app.request if app else (sc.request or PROBE),
                       app.complete if app else whole, server_speaks_first=h2), conv)
    data = b"".join(e.raw for e in answer if e.kind == "application_data")
    if app is not None and data and conv.observed is not None and conv.observed.outcome == "closed":
        # the protocol's answer came (PostgreSQL's FATAL), and the server closed after it: the
        # answer is the outcome, the close only ended it
        conv.observed = judge(data).but(when=conv.observed.when)
    conv.end(judge(data))
    eng = conv.engine
    conv.observed = conv.observed.but(server_errors=tuple(eng.notes), resumed=True if eng.resumed else None,
                                      key_update_answer=eng.key_update_answer, ca_names=_ca_names(eng),
                                      cut=conv.cut_note())
    conv.transport.close()
    return conv


def _ca_names(engine: ClientEngine) -> tuple[str, ...] | None:
    """The CA names the server's CertificateRequest carried, as RFC 4514 strings."""
    if engine.cert_request is None:
        return None
    try:
        return tuple(certificate_request_facts(engine.cert_request.payload).get("certificate_authorities", []))
    except (AttributeError, TypeError, ValueError):
        return None
