"""Running a server-role scenario: certlab listens on a free loopback port, a real client peer
connects, the server engine plays the steps, and the result records what the client did: the
chain it sent or an empty Certificate, its CertificateVerify, its alerts, and what the client
program itself reported (exit status, error text)."""
from __future__ import annotations

import os
import time
from typing import Any

from lab.crypto import x509view
from lab.capture.synth import Flight, frame_conversation
from lab.capture.writer import write_pcapng
from lab.engine.endpoint import Event
from lab.crypto.kx import KeyExchangeError
from lab.engine.server import ServerConfig, ServerEngine
from lab.engine.state import EngineError
from lab.peers.clients import ClientPeer
from lab.play.conversation import HTTP_STATUS, Setup, next_events, send_step
from lab.script.dsl import Negotiate, ReadUntil, Scenario, SendAlert
from lab.transport import ListeningTransport

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\ncertlab\n"
UNTIL_CLOSE = ("(the client closes)",)   # no message has this name: read until close or timeout


class ServerRun:
    def __init__(self, engine: ServerEngine, transport: ListeningTransport, timeout: float) -> None:
        self.engine, self.transport, self.timeout = engine, transport, timeout
        self.flights: list[Flight] = []
        self.observed: dict[str, Any] | None = None
        self.request = b""
        self.backlog: list[Event] = []

    def send(self, wire: bytes, label: str) -> None:
        if wire:
            self.transport.send(wire)
            self.flights.append(Flight(False, wire, label))

    def read(self, names: tuple[str, ...], label: str) -> list[Event]:
        """Events until one named in ``names`` (none: until the client's request), an alert, the
        close or the timeout. Events that arrived with the awaited one wait for the next read: a
        client often sends its Finished and its request in one segment."""
        seen: list[Event] = []
        deadline = time.monotonic() + self.timeout
        while self.observed is None:
            if time.monotonic() > deadline and names:
                self.observed = {"outcome": "timeout", "waiting_for": list(names),
                                 "reason": f"the client kept sending for {self.timeout:g} s without it"}
                return seen
            status, events = next_events(self, deadline, f"client: {label}")
            if status == "quiet":
                if names:
                    self.observed = {"outcome": "timeout", "waiting_for": list(names)}
                return seen
            if status == "closed":
                self.observed = {"outcome": "closed"}
                return seen
            for i, ev in enumerate(events):
                seen.append(ev)
                if ev.kind == "problem" and ev.level == 2:
                    self.observed = {"outcome": "error", "reason": f"the client sent {ev.name}"}
                    return seen
                if ev.kind == "alert" and ev.type != 0:
                    self.observed = {"outcome": "alert", "alert": ev.name, "alert_code": ev.type,
                                     "alert_level": "fatal" if ev.level == 2 else "warning", "alert_from": "client",
                                     "when": "after_client_finished" if self.engine.client_finished
                                     else "before_client_finished"}
                    return seen
                if ev.kind == "application_data":
                    self.request += ev.raw
                if (ev.name in names) if names else bool(self.request):
                    self.backlog = events[i + 1:]
                    return seen
        return seen


def _dh_parameters(setup: Setup) -> bytes | None:
    try:
        with open(setup.pki.dh_parameters, "rb") as fh:
            return fh.read()
    except FileNotFoundError:  # no openssl program to make them: the server offers no DHE suite
        return None


def execute_server(sc: Scenario, setup: Setup, client: ClientPeer, *, timeout: float = 3.0,
                   transport: ListeningTransport | None = None, accept_timeout: float = 15.0) -> tuple[dict, ServerRun]:
    cfg = ServerConfig(version=setup.version, chain=tuple(setup.chain("server")), key=setup.key("server"),
                       dh_parameters=_dh_parameters(setup), **dict(sc.client))
    transport = transport or ListeningTransport()
    run = ServerRun(ServerEngine(cfg), transport, timeout)
    try:
        return _serve_client(sc, setup, client, run, transport, accept_timeout)
    except BaseException:   # Ctrl-C/SIGTERM: the client program must not outlive the run
        client.stop()
        transport.close()
        raise


def _serve_client(sc: Scenario, setup: Setup, client: ClientPeer, run: ServerRun, transport: ListeningTransport,
                  accept_timeout: float) -> tuple[dict, ServerRun]:
    eng = run.engine
    client.start(transport.port)
    if not transport.accept(accept_timeout):
        run.observed = {"outcome": "error", "reason": "the client did not connect"}
    for step in sc.build(setup) if run.observed is None else []:
        if run.observed is not None:
            break
        try:
            sent = send_step(step, eng, run.send)
        except (EngineError, KeyExchangeError) as exc:  # e.g. no suite in common: a real server's answer
            run.send(eng.send_alert(40), "handshake_failure")
            run.observed = {"outcome": "error", "reason": f"the lab server cannot go on: {exc}"}
            break
        if sent:
            if isinstance(step, SendAlert) and step.level == 2:
                # A fatal alert ends the connection: no answer, just the close.
                transport.shutdown()
                run.read(UNTIL_CLOSE, "close")
                run.observed = run.observed or {"outcome": "closed"}
                run.observed["server_alert"] = step.description
            continue
        if isinstance(step, ReadUntil):
            run.read(step.names, step.label)
        elif isinstance(step, Negotiate):
            if eng.tls13 and eng.group is None:
                offered = eng._client_groups()
                group = next((g for g in eng.config.groups if g in offered), None)
                if group is None:
                    run.observed = {"outcome": "error", "reason": "no key-share group in common with the client"}
                    break
                run.send(eng.send_handshake(eng.hello_retry_request(group)), "HelloRetryRequest")
                run.read(("client_hello",), "second ClientHello")
    if run.observed is None:
        # The client's request, our answer, then its close: the client program reports the rest.
        if not run.request:
            run.read((), "request")
        if run.observed is None:
            # HTTP/1.0: answer, then close (close_notify, then the TCP connection).
            run.send(eng.send_application_data(RESPONSE) + eng.send_alert(0, level=1), "response, close_notify")
            transport.shutdown()
            run.read(UNTIL_CLOSE, "close")
    if run.observed is None or run.observed.get("outcome") == "timeout":
        transport.shutdown()
    transport.shutdown()
    client.release()
    result = client.wait(3.0)
    if result.exit_code is None:  # some clients (tstclnt) leave only when the connection is gone entirely
        transport.close()
        result = client.wait()
    transport.close()
    wire = run.observed or {"outcome": "closed"}
    if wire["outcome"] in ("alert", "error"):
        observed = dict(wire)
    elif "server_alert" in wire:  # we rejected the client: did its program notice?
        observed = {"outcome": "success" if result.ok else "client_error", "server_alert": wire["server_alert"]}
    elif result.ok and run.request:
        observed = {"outcome": "success"}
    elif not result.ok:
        observed = {"outcome": "client_error", "wire": wire["outcome"]}  # the client program failed
    else:
        observed = dict(wire)
    auth = eng.auth
    observed["client_certificate"] = "none" if auth.empty is None else ("empty" if auth.empty else "sent")
    if auth.chain:
        observed["client_chain"] = [x509view.summary(c).get("subject", "?") for c in auth.chain]
    if auth.cv_scheme is not None:
        observed["cv_scheme"], observed["cv_verified"] = auth.cv_scheme, auth.cv_verified
    observed["client_sent_request"] = bool(run.request)
    if not result.ok and result.exit_code is not None:
        # When the client program learnt of the failure: its handshake call had already returned
        # if it sent its request (the TLS 1.3 late rejection), else during the handshake.
        observed["client_failed"] = "after its handshake returned" if run.request else "during the handshake"
    observed["client_exit"] = result.exit_code
    tail = [line for line in result.output.strip().splitlines() if line.strip()][-2:]
    observed["client_output"] = " | ".join(tail)[:300]
    m = HTTP_STATUS.match(result.output.encode("latin-1", "replace"))
    if m:
        observed["http_status"] = int(m.group(1))
    if eng.notes:
        observed["client_errors"] = list(eng.notes)
    return observed, run


def run_server_scenario(sc: Scenario, setup: Setup, client: ClientPeer, stack: str, *,
                        pcap_dir: str | None = None, timeout: float = 3.0,
                        transport: ListeningTransport | None = None, accept_timeout: float = 15.0) -> dict[str, Any]:
    from lab.play.conversation import result_for
    observed, run = execute_server(sc, setup, client, timeout=timeout, transport=transport,
                                   accept_timeout=accept_timeout)
    pcap = None
    if pcap_dir:
        os.makedirs(pcap_dir, exist_ok=True)
        pcap = os.path.join(pcap_dir, f"{sc.id}-{stack}-tls{setup.version.replace('.', '')}.pcapng")
        remote = run.transport.remote
        packets = frame_conversation(run.flights, (remote[0], remote[1] or 50000), run.transport.local)
        write_pcapng(pcap, packets, run.engine.keylog)
    return result_for(sc, stack, setup.version, observed, pcap)
