"""Typed results: ``Observed`` is what actually happened on one connection (or one run of a
client program against us), ``CellResult`` is one scenario x stack x version with its verdict.
Both are frozen and turn into the JSON contract of the README with ``to_json()``: every key is
always present, null when unknown."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lab.script.dsl import Expect, Scenario


@dataclass(frozen=True)
class Observed:
    """``outcome`` is success | alert | closed | app_rejected | timeout | error (the run could not
    go on) | client_error (the client program failed, server role)."""
    outcome: str
    alert: str | None = None
    alert_code: int | None = None
    alert_level: str | None = None           # "fatal" | "warning"
    alert_from: str | None = None            # "server" | "client"
    when: str | None = None                  # before_client_finished | after_client_finished | on_first_read
    http_status: int | None = None
    reason: str | None = None                # why a run ended in error or timeout
    waiting_for: tuple[str, ...] | None = None
    response: str | None = None              # the first bytes of the application's answer
    resumed: bool | None = None              # TLS 1.2: the server resumed the offered session
    server_errors: tuple[str, ...] = ()      # what our client engine found wrong in the server's messages
    client_errors: tuple[str, ...] = ()      # what our server engine found wrong in the client's messages
    # Server role: what the client did and what its program reported.
    server_alert: int | None = None          # the fatal alert we sent to reject the client
    wire: str | None = None                  # what the connection showed when the client program failed
    client_certificate: str | None = None    # "sent" | "empty" | "none"
    client_chain: tuple[str, ...] | None = None
    client_choice: str | None = None        # which of the certificates the client held it sent (lab.pki.WALLET)
    # serve --holds: each certificate the user's client holds, judged against the request
    # (lab.crypto.choice.Verdict as a dict: name, fits, why, named)
    holdings: tuple[dict, ...] | None = None
    cv_scheme: str | None = None            # the CertificateVerify's scheme, by name
    cv_verified: bool | None = None
    client_sent_request: bool | None = None
    client_failed: str | None = None         # when the client program learnt of a failure
    client_exit: int | None = None
    client_output: str | None = None
    cut: str | None = None                   # what the capture left out of a peer that kept sending
    forwarded: tuple[str, ...] | None = None  # what a proxy's backend said it received ("Name: value")
    key_update_answer: str | None = None     # after our update_requested: answered | data first | pending
    ca_names: tuple[str, ...] | None = None  # the CA names of the server's last CertificateRequest (None: none came)

    @classmethod
    def of_alert(cls, name: str, code: int, level: int | None, sender: str, when: str | None) -> "Observed":
        return cls("closed" if code == 0 else "alert", alert=name, alert_code=code,
                   alert_level="fatal" if level == 2 else "warning", alert_from=sender, when=when)

    def but(self, **changes: Any) -> "Observed":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Observed":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class CellResult:
    """One scenario against one stack in one TLS version. ``observed`` is None for a cell that
    did not run (``verdict`` skip, with ``reason``)."""
    scenario: str
    stack: str
    tls_version: str
    verdict: str                             # pass | fail | error | skip
    observed: Observed | None
    expected: tuple[str, ...]
    rfc: str
    row: str
    level: str
    pcap: str | None = None
    reason: str | None = None
    role: str = "server"                     # the stack's role: "server" (client-role scenario) or "client"
    version: str | None = None               # the stack's version, as its program states it
    ladder: tuple[dict, ...] | None = None   # the conversation as read back from its pcap (lab.dissect.ladder)
    should: tuple[str, ...] | None = None    # a certificate-choice scenario's SHOULD (Scenario.should)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def judged(cls, sc: Scenario, stack: str, tls: str, observed: Observed, pcap: str | None,
               **facts: Any) -> "CellResult":
        expect: Expect = sc.expect(tls)
        verdict = "error" if observed.outcome == "error" else "pass" if expect.matches(observed) else "fail"
        return cls(sc.id, stack, tls, verdict, observed, tuple(expect.describe()), sc.rfc, sc.row, sc.level,
                   pcap, role=stack_role(sc), should=sc.should, **facts)

    @classmethod
    def skipped(cls, sc: Scenario, stack: str, tls: str, reason: str, verdict: str = "skip",
                **facts: Any) -> "CellResult":
        """A cell this stack cannot run (skip: what it declares it lacks), or that could not run
        (error: a peer that did not start, a cell that broke), with the reason."""
        return cls(sc.id, stack, tls, verdict, None, tuple(sc.expect(tls).describe()), sc.rfc, sc.row,
                   sc.level, None, reason, role=stack_role(sc), should=sc.should, **facts)

    def but(self, **changes: Any) -> "CellResult":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "stack": self.stack, "tls_version": self.tls_version,
                "verdict": self.verdict, "observed": self.observed.to_json() if self.observed else None,
                "expected": list(self.expected), "rfc": self.rfc, "row": self.row, "level": self.level,
                "pcap": self.pcap, "reason": self.reason, "role": self.role, "version": self.version,
                "ladder": list(self.ladder) if self.ladder is not None else None,
                "should": list(self.should) if self.should is not None else None, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CellResult":
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        obs = data.get("observed")
        ladder = data.get("ladder")
        should = data.get("should")
        return cls(**{k: v for k, v in data.items() if k in known and k not in ("observed", "expected", "ladder",
                                                                                   "should")},
                   should=tuple(should) if should is not None else None,
                   observed=Observed.from_json(obs) if obs else None, expected=tuple(data.get("expected", ())),
                   ladder=tuple(ladder) if ladder is not None else None,
                   extra={k: v for k, v in data.items() if k not in known})


def stack_role(sc: Scenario) -> str:
    """The role of the stack under test: the other one than certlab's."""
    return "client" if sc.role == "server" else "server"
