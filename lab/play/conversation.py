"""Running a scenario: an engine, a transport to the peer, the steps, and what actually
happened (success, an alert and when it came, a silent close, an application-level rejection,
or a timeout), judged against the scenario's acceptable outcomes. Every run can leave a pcapng
of the exact bytes, with the key log embedded and each packet named after its step."""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.capture.synth import Flight, frame_conversation
from lab.capture.writer import write_pcapng
from lab.engine.client import ClientConfig, ClientEngine
from lab.engine.endpoint import Event
from lab.pki import Pki
from lab.script.dsl import (Reconnect, ReadUntil, Scenario, Send, SendAlert, SendAppData, SendCCS, SendRecords,
                          Trigger)
from lab.transport import Transport

HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")
HTTP_INFORMATIONAL = re.compile(rb"^HTTP/1\.[01] 1\d\d")  # "100 Continue" is not the answer


def load_chain(path: str) -> list[bytes]:
    return list(_load_chain(path, os.stat(path).st_mtime_ns))


def load_key(path: str):
    """A private key from PEM, parsed once per file version (RSA key checks cost ~30 ms)."""
    return _load_key(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_chain(path: str, mtime: int) -> tuple[bytes, ...]:
    with open(path, "rb") as fh:
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(fh.read()))


@functools.lru_cache(maxsize=64)
def _load_key(path: str, mtime: int):
    with open(path, "rb") as fh:
        return serialization.load_pem_private_key(fh.read(), None)


@dataclass
class Setup:
    """What a scenario can draw on: the test PKI, the TLS version, the key family."""
    pki: Pki
    version: str
    alg: str = "rsa"

    def chain(self, who: str = "client") -> list[bytes]:
        return load_chain(self.pki.identity(self.alg, who).cert)

    def key(self, who: str = "client"):
        return load_key(self.pki.identity(self.alg, who).key)


@dataclass
class Run:
    """The live state of one run, for the outcome logic."""
    engine: ClientEngine
    transport: Transport
    timeout: float
    flights: list[Flight] = field(default_factory=list)
    observed: dict[str, Any] | None = None
    earlier: list[tuple[Transport, list[Flight], str]] = field(default_factory=list)  # closed connections
    backlog: list[Event] = field(default_factory=list)  # received after what the last read waited for

    def reconnect(self, transport: Transport) -> None:
        """Close properly (close_notify both ways: OpenSSL forgets sessions of connections that end
        without it), keep what the connection did, and start a new engine offering its session."""
        self.send(self.engine.send_alert(0, level=1), "close_notify")
        for _ in range(5):  # the server's own close_notify (and whatever precedes it), briefly
            data = self.transport.recv(0.2)
            if not data:
                break
            self.flights.append(Flight(False, data, "server: closing"))
            self.engine.receive_bytes(data)
        self.transport.close()
        self.earlier.append((self.transport, self.flights, self.engine.keylog))
        cfg = dataclasses.replace(self.engine.config, session=self.engine.session())
        self.engine, self.transport, self.flights, self.backlog = ClientEngine(cfg), transport, [], []

    @property
    def phase(self) -> str:
        e = self.engine
        done = e.main_done if e.tls13 else bool(e.client_verify_data)
        return "after_client_finished" if done else "before_client_finished"

    def send(self, wire: bytes, label: str) -> None:
        if wire:
            self.transport.send(wire)
            self.flights.append(Flight(True, wire, label))

    def read(self, names: tuple[str, ...], label: str, when: str | None = None,
             timeout: float | None = None) -> list[Event]:
        """Read until one of ``names`` (or application data, if empty), an alert, a close or the
        timeout; a peer that keeps sending other things (endless HelloRequests or KeyUpdates) is
        cut off when the timeout has passed since the read began."""
        seen: list[Event] = []
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while self.observed is None:
            if time.monotonic() > deadline:
                self.observed = {"outcome": "timeout", "when": when or self.phase, "waiting_for": list(names),
                                 "reason": f"the server kept sending for {wait:g} s ({len(seen)} messages) "
                                           "without what this step waits for"}
                return seen
            status, events = next_events(self, deadline, f"server: {label}")
            if status == "quiet":
                if names:
                    self.observed = {"outcome": "timeout", "when": when or self.phase, "waiting_for": list(names)}
                return seen
            if status == "closed":
                self.observed = {"outcome": "closed", "when": when or self.phase}
                return seen
            seen += events
            for i, ev in enumerate(events):
                # Empty records (OpenSSL's TLS 1.0 BEAST countermeasure) and "100 Continue" are not answers.
                final = ev.kind == "application_data" and bool(ev.raw) and not HTTP_INFORMATIONAL.match(ev.raw)
                if (final and not names) or (names and ev.name in names):
                    self.backlog = events[i + 1:]  # what came after it waits for the next read
                    return seen[:len(seen) - len(events) + i + 1]
                if ev.kind == "problem" and ev.level == 2:
                    self.observed = {"outcome": "error", "reason": f"the server sent {ev.name}", "when": when or
                                     self.phase}
                    return seen
                if ev.kind == "alert":
                    closed = ev.type == 0
                    self.observed = {"outcome": "closed" if closed else "alert", "alert": ev.name,
                                     "alert_code": ev.type, "alert_level": "fatal" if ev.level == 2 else "warning",
                                     "alert_from": "server", "when": when or self.phase}
                    return seen
            if self.engine.owe_key_update:
                self.engine.owe_key_update = False
                self.send(self.engine.key_update(0), "KeyUpdate (answering update_requested)")
            if names and any(ev.name in names for ev in events):
                return seen
            if not names and any(ev.kind == "application_data" for ev in events):
                return seen
        return seen


def next_events(run: Any, deadline: float, label: str) -> tuple[str, list[Event]]:
    """The next events of either runner: those left over from the last read, else what the peer
    sends before ``deadline`` (recorded as a flight). Status "events", "quiet" or "closed"."""
    if run.backlog:
        events, run.backlog = run.backlog, []
        return "events", events
    data = run.transport.recv(max(0.01, deadline - time.monotonic()))
    if data is None:
        return "quiet", []
    if data == b"":
        return "closed", []
    run.flights.append(Flight(run.engine.side == 1, data, label))   # a server engine receives from the client
    return "events", run.engine.receive_bytes(data)


def send_step(step: Any, eng: Any, send: Callable[[bytes, str], None]) -> bool:
    """Perform a sending step with either engine (messages built lazily, in order, then framed);
    False when ``step`` is not one."""
    if isinstance(step, Send):
        for g in step.gens:
            msg = g(eng)
            if msg is not None:
                eng.stage(msg)
        send(eng.flush(step.fragment), step.label)
    elif isinstance(step, SendCCS):
        send(eng.send_ccs(), step.label)
    elif isinstance(step, SendAlert):
        send(eng.send_alert(step.description, step.level), step.label)
    elif isinstance(step, SendAppData):
        send(eng.send_application_data(step.data), step.label)
    elif isinstance(step, SendRecords):
        send(step.make(eng), step.label)
    else:
        return False
    return True


def execute(sc: Scenario, setup: Setup, transport: Transport, *, timeout: float = 3.0, settle: float = 0.3,
            hooks: dict[str, Callable[[], bytes | None]] | None = None,
            connect: Callable[[], Transport] | None = None) -> tuple[dict[str, Any], Run]:
    """Run the steps, then listen ``settle`` seconds for a verdict sent right after our last
    flight (so "after our Finished" and "only on the first read" can be told apart; 0 skips it),
    then probe with application data."""
    cfg = ClientConfig(version=setup.version, chain=tuple(setup.chain()), key=setup.key(),
                       offer_pha="pha" in sc.tags, **dict(sc.client))
    run = Run(ClientEngine(cfg), transport, timeout)
    eng = run.engine
    for step in sc.build(setup):
        if run.observed is not None:
            break
        if send_step(step, eng, run.send):
            continue
        if isinstance(step, Reconnect):
            if connect is None:
                run.observed = {"outcome": "error", "reason": "this transport cannot reconnect"}
                break
            run.reconnect(connect())
            eng = run.engine
        elif isinstance(step, ReadUntil):
            run.read(step.names, step.label)
        elif isinstance(step, Trigger):
            hook = (hooks or {}).get(step.action)
            if hook is None:
                continue  # this peer needs no nudge for that (it acts by itself)
            data = hook()
            if data:  # some stacks are nudged by the client's own data (gnutls-serv's **REAUTH**)
                run.send(eng.send_application_data(data), step.label)
    events: list[Event] = []
    if run.observed is None and settle > 0:
        # A verdict (or data) the server sends right after our last flight, before we send more.
        events = run.read((), "after our last flight", when="after_client_finished", timeout=settle)
    events = [e for e in events if not (e.kind == "application_data" and HTTP_INFORMATIONAL.match(e.raw))]
    if run.observed is None and not any(e.kind == "application_data" for e in events):
        # TLS 1.3 servers judge the client certificate after the client's Finished: always send
        # application data and read, or every rejection would look like a success.
        run.send(eng.send_application_data(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"), "application data (probe)")
        events = run.read((), "response to the probe", when="on_first_read")
    if run.observed is None:
        run.observed = classify_response(b"".join(e.raw for e in events if e.kind == "application_data"))
    if eng.notes:
        run.observed["server_errors"] = list(eng.notes)
    if eng.resumed:
        run.observed["resumed"] = True
    transport.close()
    return run.observed, run


def classify_response(data: bytes) -> dict[str, Any]:
    """Success, or an application-level rejection (an HTTP status of 400 or more, as nginx answers
    a bad client certificate), or a timeout when nothing came."""
    if not data:
        return {"outcome": "timeout", "when": "on_first_read", "waiting_for": ["application data"]}
    m = HTTP_STATUS.match(data)
    status = int(m.group(1)) if m else None
    out: dict[str, Any] = {"outcome": "app_rejected" if status and status >= 400 else "success",
                           "when": "on_first_read", "response": data[:200].decode("latin-1")}
    if status:
        out["http_status"] = status
    return out


def result_for(sc: Scenario, stack: str, version: str, observed: dict, pcap: str | None) -> dict[str, Any]:
    expect = sc.expect(version)
    return {"scenario": sc.id, "stack": stack, "tls_version": version,
            "verdict": ("error" if observed.get("outcome") == "error" else
                        "pass" if expect.matches(observed) else "fail"), "observed": observed,
            "expected": expect.describe(), "rfc": sc.rfc, "row": sc.row, "level": sc.level, "pcap": pcap}


def write_capture(run: Run, path: str) -> str:
    """Every connection of the run (one, or more after Reconnect), framed as TCP, in one pcapng."""
    packets, keylog = [], ""
    for i, (transport, flights, log) in enumerate([*run.earlier, (run.transport, run.flights, run.engine.keylog)]):
        local = getattr(transport, "local", ("127.0.0.1", 50000 + i))
        remote = getattr(transport, "remote", ("127.0.0.1", 443))
        packets += frame_conversation(flights, (local[0], local[1]), (remote[0], remote[1]))
        keylog += log
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_pcapng(path, packets, keylog)
    return path


def run_scenario(sc: Scenario, setup: Setup, connect: Callable[[], Transport], stack: str, *,
                 pcap_dir: str | None = None, timeout: float = 3.0,
                 hooks: dict[str, Callable[[], bytes | None]] | None = None) -> dict[str, Any]:
    observed, run = execute(sc, setup, connect(), timeout=timeout, hooks=hooks, connect=connect)
    pcap = None
    if pcap_dir:
        pcap = write_capture(run, os.path.join(pcap_dir, f"{sc.id}-{stack}-tls{setup.version.replace('.', '')}.pcapng"))
    return result_for(sc, stack, setup.version, observed, pcap)
