"""One conversation with a peer: our engine, the transport, the flights both ways (for the
capture), the events that arrived after the one a read waited for, and what the conversation
showed (an ``Observed``, once something ended it). ``play`` performs a scenario's steps on it.

The two roles differ only in what ends a read and in the steps that belong to one role
(``ClientConversation`` in ``lab.play.client``, ``ServerConversation`` in ``lab.play.server``)."""
from __future__ import annotations

import re
import time
from collections.abc import Iterable

from lab.capture.synth import Flight
from lab.engine.endpoint import Event
from lab.play.observed import Observed
from lab.script.dsl import ReadUntil, Send, SendAlert, SendAppData, SendCCS, SendRecords, Step
from lab.transport import Transport

HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")
HTTP_INFORMATIONAL = re.compile(rb"^HTTP/1\.[01] 1\d\d")  # "100 Continue" is not the answer
# A peer that keeps sending (application data, records, handshake messages without end) is read
# until the step's deadline, but only this much of it is kept: in the capture, per connection,
# and in what one read remembers of the messages it saw. What was left out is said (``cut_note``).
KEEP_BYTES = 1 << 20
KEEP_MESSAGES = 1000


class Conversation:
    """What both roles share. A subclass says who the peer is and what ends a read."""

    peer = "server"                 # who we read from
    close_notify_ends = True        # does the peer's close_notify end the conversation?

    def __init__(self, engine, transport: Transport, timeout: float) -> None:
        self.engine, self.transport, self.timeout = engine, transport, timeout
        self.flights: list[Flight] = list(getattr(transport, "preamble", ()))   # a STARTTLS exchange first
        self.backlog: list[Event] = []     # received after what the last read waited for
        self.observed: Observed | None = None
        self.last: list[Event] = []        # what the last read returned
        self.quiet = False                 # the last read ended because the peer was silent
        self.earlier: list[tuple[list[Flight], tuple, tuple, str]] = []   # closed connections (client role)
        self.trace = None                  # a ``lab.play.trace.Trace``: each message as it goes (-v)
        self.kept = self.not_kept = 0      # bytes from the peer in this connection's capture, and beyond it
        self.messages = 0                  # messages from the peer in this connection
        self.not_kept_before = 0           # ... beyond it in earlier connections

    # -- what the roles say --------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """Where the handshake stands, for an ending that has no ``when`` of its own."""
        raise NotImplementedError

    def awaited(self, ev: Event, names: tuple[str, ...]) -> bool:
        """Is ``ev`` what a read for ``names`` waits for?"""
        return ev.name in names

    def saw(self, ev: Event) -> None:
        """Every event, as it is read."""

    def batch_ends_read(self, events: list[Event], names: tuple[str, ...]) -> bool:
        """After a batch of events that held nothing awaited: does the read end anyway?"""
        return False

    def perform_role(self, step: Step) -> None:
        raise TypeError(f"a {self.peer}-facing conversation cannot perform {type(step).__name__}")

    def addresses(self, index: int) -> tuple[tuple[str, int], tuple[str, int]]:
        """(client, server) addresses for the capture of connection ``index``."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def end(self, observed: Observed) -> None:
        if self.observed is None:
            self.observed = observed

    def send(self, wire: bytes, label: str) -> None:
        if wire:
            self.transport.send(wire)
            self.flights.append(Flight(self.engine.side == 0, wire, label))

    def perform(self, step: Step) -> None:
        """One step: send what it builds (lazily, in order, from the live engine), or read."""
        eng = self.engine
        trace = self.trace
        if isinstance(step, Send):
            for g in step.gens:
                msg = g(eng)
                if msg is not None:
                    encrypted = eng.out_cipher is not None
                    raw = eng.stage(msg)
                    if trace:
                        trace.sent(raw, encrypted)
            self.send(eng.flush(step.fragment), step.label)
        elif isinstance(step, SendCCS):
            self.send(eng.send_ccs(), step.label)
            if trace:
                trace.sent_other("Change Cipher Spec", 1, False)
        elif isinstance(step, SendAlert):
            if trace:
                trace.sent_other(f"Alert {step.description} (level {step.level})", 2, eng.out_cipher is not None)
            self.send(eng.send_alert(step.description, step.level), step.label)
        elif isinstance(step, SendAppData):
            if trace:
                trace.sent_other("Application Data", len(step.data), eng.out_cipher is not None)
            self.send(eng.send_application_data(step.data), step.label)
        elif isinstance(step, SendRecords):
            wire = step.make(eng)
            if trace:
                trace.sent_other(f"records built by hand: {step.label or 'bytes'}", len(wire), False)
            self.send(wire, step.label)
        elif isinstance(step, ReadUntil):
            self.read(step.names, step.label, step.when, step.timeout, step.quiet_ok)
        else:
            self.perform_role(step)

    def ending(self, ev: Event, when: str | None) -> Observed | None:
        """What ``ev`` ends the conversation with, if it does: bytes that are not TLS, an alert."""
        if ev.kind == "problem" and ev.level == 2:
            return Observed("error", reason=f"the {self.peer} sent {ev.name}", when=when or self.phase)
        if ev.kind == "alert" and (ev.type != 0 or self.close_notify_ends):
            return Observed.of_alert(ev.name, ev.type, ev.level, self.peer, when or self.phase)
        return None

    def next_events(self, deadline: float, label: str) -> tuple[str, list[Event]]:
        """Those left over from the last read, else what the peer sends before ``deadline``
        (recorded as a flight). Status "events", "quiet" or "closed"."""
        if self.backlog:
            events, self.backlog = self.backlog, []
            return "events", events
        data = self.transport.recv(max(0.01, deadline - time.monotonic()))
        if data is None:
            return "quiet", []
        if data == b"":
            return "closed", []
        events = self.engine.receive_bytes(data)
        self.keep(data, label, len(events))
        return "events", events

    def keep(self, data: bytes, label: str, messages: int) -> None:
        """Record what the peer sent as a flight of the capture, up to ``KEEP_BYTES`` or (the read
        that crosses it) ``KEEP_MESSAGES`` messages a connection."""
        room = max(0, KEEP_BYTES - self.kept) if self.messages < KEEP_MESSAGES else 0
        if room:
            self.flights.append(Flight(self.engine.side == 1, data[:room], label))
            self.kept += min(room, len(data))
        self.messages += messages
        self.not_kept += max(0, len(data) - room)

    def new_connection(self) -> None:
        """The capture's accounting for a connection that follows the current one."""
        self.not_kept_before += self.not_kept
        self.kept = self.not_kept = self.messages = 0

    @property
    def received(self) -> int:
        """Bytes the peer sent on this connection, kept or not."""
        return self.kept + self.not_kept

    def cut_note(self) -> str | None:
        """What the capture left out of what the peer sent, if anything."""
        left = self.not_kept_before + self.not_kept
        if not left:
            return None
        return (f"the {self.peer} kept sending: {_size(left)} beyond the first {KEEP_BYTES >> 20} MiB or "
                f"{KEEP_MESSAGES} messages of a connection was read and not kept (not in the capture)")

    def read(self, names: tuple[str, ...], label: str, when: str | None = None, timeout: float | None = None,
             quiet_ok: bool = False) -> list[Event]:
        """Read until one of ``names`` (none: the role's default), an ending, a close or the
        timeout. A peer that keeps sending other things (endless HelloRequests or KeyUpdates) is
        cut off when the timeout has passed since the read began. Events that arrived with the
        awaited one wait for the next read."""
        seen: list[Event] = []
        count = 0                          # messages seen, beyond those kept in ``seen``
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        self.quiet = False
        while self.observed is None:
            if time.monotonic() > deadline:
                self.quiet = True
                if not quiet_ok:
                    self.end(Observed("timeout", when=when or self.phase, waiting_for=tuple(names),
                                      reason=f"the {self.peer} kept sending for {wait:g} s ({count} whole messages) "
                                             "without what this step waits for"))
                break
            status, events = self.next_events(deadline, f"{self.peer}: {label}")
            if status == "quiet":
                self.quiet = True
                if names and not quiet_ok:
                    self.end(Observed("timeout", when=when or self.phase, waiting_for=tuple(names)))
                break
            if status == "closed":
                self.end(Observed("closed", when=when or self.phase))
                break
            done = False
            for i, ev in enumerate(events):
                count += 1
                self.saw(ev)
                awaited = self.awaited(ev, names)
                ending = self.ending(ev, when)
                if count <= KEEP_MESSAGES or awaited or ending is not None:
                    seen.append(ev)
                if self.trace:
                    self.trace.received(ev)
                if ending is not None:
                    self.end(ending)
                    done = True
                    break
                if awaited:
                    self.backlog = events[i + 1:]
                    done = True
                    break
            if done or self.batch_ends_read(events, names):
                break
        self.last = seen
        return seen

    def connections(self) -> list[tuple[list[Flight], tuple, tuple, str]]:
        """(flights, client address, server address, key log) of every connection, in order."""
        return [*self.earlier, (self.flights, *self.addresses(len(self.earlier)), self.engine.keylog)]


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def play(steps: Iterable[Step], conv: Conversation) -> Conversation:
    """Perform ``steps`` until one ends the conversation. ``steps`` may be a generator that looks
    at the conversation between steps (``conv.last``, the engine's state) to choose the next."""
    for step in steps:
        if conv.observed is not None:
            break
        conv.perform(step)
    return conv
