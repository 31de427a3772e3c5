"""``run -v`` and ``serve -v``: each message of a conversation as it goes, like ``openssl s_client
-msg`` but readable: time since the start, direction, what it is, its length, whether it was
encrypted on the wire, and the client-authentication fields (CA names, schemes, chain subjects)."""
from __future__ import annotations

import time
from collections.abc import Callable

from lab.crypto import x509view
from lab.dissect.describe import certificate_request_facts, display_name, scheme_name
from lab.engine.endpoint import Event
from layers.handshake import Handshake
from layers.registry import HANDSHAKE_NAMES, HandshakeType as H

Sink = Callable[[str], None]


class Trace:
    REPEATS_SHOWN = 3   # a peer that sends one message without end: the first few, then one line

    def __init__(self, sink: Sink, peer: str) -> None:
        self.sink, self.peer, self.t0 = sink, peer, time.monotonic()
        self.last, self.repeats = "", 0

    def _line(self, arrow: str, what: str, length: int, encrypted: bool, facts: list[str]) -> None:
        enc = ", encrypted" if encrypted else ""
        self.sink(f"{time.monotonic() - self.t0:7.3f}  {arrow}  {what} ({length} bytes{enc})")
        for fact in facts:
            self.sink(f"{'':16}{fact}")

    def sent(self, raw: bytes, encrypted: bool) -> None:
        """One handshake message of ours."""
        name = display_name(HANDSHAKE_NAMES.get(raw[0], f"handshake_{raw[0]}"))
        self._line("us ->", name, len(raw), encrypted, _facts(raw[0], Handshake(raw).payload))

    def sent_other(self, what: str, length: int, encrypted: bool) -> None:
        self._line("us ->", what, length, encrypted, [])

    def received(self, ev: Event) -> None:
        what = display_name(ev.name) if ev.kind == "handshake" else \
            f"Alert {ev.name}" if ev.kind == "alert" else display_name(ev.kind)
        self.repeats = self.repeats + 1 if what == self.last else 0
        self.last = what
        if self.repeats >= self.REPEATS_SHOWN:
            if self.repeats == self.REPEATS_SHOWN:
                self.sink(f"{'':16}(more of the same from the {self.peer}; repeats are not shown)")
            return
        body = ev.layer.payload if ev.layer is not None and ev.kind == "handshake" else None
        self._line(f"<- {self.peer}", what, len(ev.raw), ev.encrypted, _facts(ev.type, body) if body else [])


def _facts(t: int | None, body) -> list[str]:
    """The client-authentication fields of a message, one line each."""
    try:
        if t == H.certificate_request:
            f = certificate_request_facts(body)
            return ["CA names: " + ("; ".join(f.get("certificate_authorities", [])) or "none (any issuer)"),
                    "schemes: " + ", ".join(f.get("signature_algorithms", []))]
        if t == H.certificate:
            subjects = [x509view.summary(bytes(e.cert_data)).get("subject", "?") for e in body.certificate_list]
            return ["chain: " + ("; ".join(subjects) if subjects else "EMPTY (no certificate)")]
        if t == H.certificate_verify and hasattr(body, "algorithm"):
            return [f"scheme: {scheme_name(body.algorithm)}"]
    except (AttributeError, TypeError, ValueError):
        return ["(fields unreadable)"]
    return []
