"""The scenario DSL: a scenario is a decorated function that returns steps (tlsfuzzer's idea,
without its copy-paste). Steps hold lazy generators, built at send time from the live engine;
expectations are sets of acceptable outcomes, and the result records what actually happened.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scapy.packet import Packet

Generator = Callable[[Any], Packet | bytes | None]   # engine -> message (None: omit)


@dataclass(frozen=True)
class Send:
    """Stage these handshake messages (in order, each built when its turn comes) and send them
    coalesced, in records of ``fragment`` bytes."""
    gens: tuple
    label: str = ""
    fragment: int | None = None

    def __init__(self, *gens: Generator, label: str = "", fragment: int | None = None) -> None:
        object.__setattr__(self, "gens", gens)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "fragment", fragment)


@dataclass(frozen=True)
class SendCCS:
    label: str = "ChangeCipherSpec"


@dataclass(frozen=True)
class SendAlert:
    description: int
    level: int = 2
    label: str = "Alert"


@dataclass(frozen=True)
class SendAppData:
    data: bytes = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
    label: str = "application data"


@dataclass(frozen=True)
class ReadUntil:
    """Read until one of these messages (snake_case names; none: the peer's application data)
    arrives, or an alert or close. ``timeout`` overrides the run's; ``when`` names the phase an
    ending is recorded in; with ``quiet_ok`` silence ends the read without ending the run."""
    names: tuple[str, ...]
    label: str = ""
    timeout: float | None = None
    when: str | None = None
    quiet_ok: bool = False


@dataclass(frozen=True)
class Shutdown:
    """Close our sending side (TCP FIN) and keep reading: how a server ends an HTTP/1.0 answer."""
    label: str = "shutdown"


@dataclass(frozen=True)
class Outcome:
    """One acceptable outcome: ``kind`` success | alert | closed | app_rejected | timeout, with an
    alert name for ``alert``."""
    kind: str
    alert: str | None = None
    certificate: str | None = None   # role C: what the client sent ("sent", "empty", "none")
    # What a proxy's backend must have received: (header, regex the value must match whole; an
    # absent header reads as "")
    forwarded: tuple[tuple[str, str], ...] = ()
    # Success also needs the peer's KeyUpdate answering our update_requested (RFC 8446 4.6.3)
    key_update_answered: bool = False
    named: str = ""                  # a regex one of the CertificateRequest's CA names must match
    because: str = ""                # a regex the observed reason must contain (HTTP/2's error code)
    chosen: tuple[str, ...] = ()     # role C, the client holding lab.pki.WALLET: the ones it may send

    def __or__(self, other: "Outcome | Expect") -> "Expect":
        return Expect((self,)) | other

    def matches(self, observed: Any) -> bool:
        """``observed`` is a ``lab.play.observed.Observed`` (what the run saw)."""
        if observed.outcome != self.kind:
            return False
        if self.certificate is not None and observed.client_certificate != self.certificate:
            return False
        if self.chosen and observed.client_choice not in self.chosen:
            return False
        if self.key_update_answered and observed.key_update_answer != "answered":
            return False
        if self.named and not any(re.fullmatch(self.named, n) for n in observed.ca_names or ()):
            return False
        if self.because and not re.search(self.because, observed.reason or ""):
            return False
        if self.forwarded:
            if observed.forwarded is None:
                return False
            pairs = [(h.split(":", 1)[0].strip().lower(), h.split(":", 1)[1].strip())
                     for h in observed.forwarded if ":" in h]
            for name, rx in self.forwarded:   # every value the application got (a header may come twice)
                values = [v for n, v in pairs if n == name.lower()] or [""]
                if not all(re.fullmatch(rx, v) for v in values):
                    return False
        return self.alert is None or observed.alert == self.alert

    def describe(self) -> str:
        text = f"alert {self.alert}" if self.alert else self.kind
        if self.key_update_answered:
            text += " (after the peer's own KeyUpdate)"
        if self.named:
            text += f" (the request naming {self.named})"
        if self.because:
            text += f" ({self.because})"
        if self.forwarded:
            text += " (backend saw " + ", ".join(f"{n} ~ {rx}" for n, rx in self.forwarded) + ")"
        if self.chosen:
            return f"{text} (client sent {' or '.join(self.chosen)})"
        return f"{text} (client certificate {self.certificate})" if self.certificate else text


@dataclass(frozen=True)
class Expect:
    outcomes: tuple[Outcome, ...]

    def __or__(self, other: "Outcome | Expect") -> "Expect":
        more = other.outcomes if isinstance(other, Expect) else (other,)
        return Expect(self.outcomes + more)

    def matches(self, observed: Any) -> bool:
        return any(o.matches(observed) for o in self.outcomes)

    def describe(self) -> list[str]:
        return [o.describe() for o in self.outcomes]


def ExpectAlert(name: str) -> Outcome:  # noqa: N802 - reads like a step
    return Outcome("alert", name)


def ExpectClose() -> Outcome:  # noqa: N802
    return Outcome("closed")


def ExpectSuccess() -> Outcome:  # noqa: N802
    return Outcome("success")


def ExpectAppRejected() -> Outcome:  # noqa: N802
    return Outcome("app_rejected")


@dataclass(frozen=True)
class SendRecords:
    """Send exactly the bytes ``make(engine)`` returns (records framed by hand, e.g. with
    ``engine.send_unprotected(msg)``)."""
    make: Callable[[Any], bytes]
    label: str = ""


@dataclass(frozen=True)
class Negotiate:
    """Server role: answer the ClientHello with a HelloRetryRequest first if none of the client's
    key shares is in a group we accept (TLS 1.3), then read the second ClientHello."""
    label: str = "HelloRetryRequest if needed"


@dataclass(frozen=True)
class Reconnect:
    """Close the connection and open a new one whose ClientHello offers the session just made
    (TLS 1.2 resumption)."""
    label: str = "new connection (resumption)"


@dataclass(frozen=True)
class Trigger:
    """Ask the peer to act (``renegotiate``, ``respond``): stacks that need a nudge from their
    operator (s_server's stdin commands) get it here."""
    action: str
    label: str = ""


Step = Send | SendCCS | SendAlert | SendAppData | ReadUntil | Trigger | SendRecords | Reconnect | Negotiate | Shutdown


@dataclass(frozen=True)
class Scenario:
    id: str
    rfc: str
    row: str
    role: str
    versions: frozenset[str]
    summary: str
    server_mode: str            # the client-auth mode the server under test runs in
    build: Callable[..., Sequence[Step]]
    expect: Callable[[str], Expect]
    level: str = "MUST"
    tags: frozenset[str] = field(default_factory=frozenset)
    client: tuple[tuple[str, Any], ...] = ()   # ClientConfig overrides, e.g. (("cipher_suites", (0x9C,)),)
    request: bytes | None = None               # the request sent after the handshake (default: GET /)
    # A certificate-choice scenario (the client holds lab.pki.WALLET): the certificates the RFC's
    # SHOULD points to, () for none of them (an empty Certificate, or any, at the client's choice)
    should: tuple[str, ...] | None = None


REGISTRY: dict[str, Scenario] = {}


def scenario(id: str, *, rfc: str, row: str, versions: set[str], summary: str, expect: Expect | Callable,
             server_mode: str = "required", role: str = "client", level: str = "MUST",
             tags: set[str] | None = None, client: dict[str, Any] | None = None,
             request: bytes | None = None, should: tuple[str, ...] | None = None) -> Callable:
    """Register a scenario. ``expect`` may be a function of the TLS version."""
    def deco(fn: Callable[..., Sequence[Step]]) -> Callable[..., Sequence[Step]]:
        if id in REGISTRY:
            raise ValueError(f"duplicate scenario id {id}")
        if isinstance(expect, Outcome):
            fixed = Expect((expect,))
            exp = lambda v, e=fixed: e  # noqa: E731
        elif isinstance(expect, Expect):
            exp = lambda v, e=expect: e  # noqa: E731
        else:
            exp = expect
        REGISTRY[id] = Scenario(id, rfc, row, role, frozenset(versions), summary, server_mode, fn, exp,
                                level, frozenset(tags or ()), tuple(sorted((client or {}).items())), request,
                                should)
        return fn
    return deco
