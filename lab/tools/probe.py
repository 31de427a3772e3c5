"""``certlab probe HOST:PORT``: a server's client-authentication policy, found by handshakes.
For each TLS version the engine connects three times (no certificate, a freshly made
self-signed one, the user's own when given), answers whatever the server asks (in the handshake,
after it by post-handshake auth, or by a renegotiation), sends an HTTP request, and records the
request's CA names and schemes, the alert or HTTP status, and when it came."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

from collections.abc import Iterator

from lab.dissect.describe import certificate_request_facts
from lab.engine.client import ClientConfig, ClientEngine
from lab.engine.state import EngineError
from lab.play.client import ClientConversation
from lab.play.conversation import HTTP_STATUS, play
from lab.play.observed import Observed
from lab.script import generators as gen
from lab.script.dsl import ReadUntil, Send, SendAppData, SendCCS, Step
from lab.creds import common_name
from lab.play.target import Target, address_label, answer_text, default_sni

REJECTING_STATUS = (400, 401, 403, 495, 496)
ANSWER_KEPT = 64 * 1024      # what is kept of the server's answer
WHEN = {"handshake": "in the handshake", "post_handshake": "after the handshake (post-handshake auth)",
        "renegotiation": "by a renegotiation"}


@dataclasses.dataclass
class Identity:
    label: str                   # "none", "self-signed", "yours"
    chain: tuple[bytes, ...] = ()
    key: Any = None
    subject: str = ""


def self_signed_identity() -> Identity:
    """A throw-away P-256 key and self-signed clientAuth certificate, made in memory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certlab probe (self-signed)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    return Identity("self-signed", (cert.public_bytes(serialization.Encoding.DER),), key, name.rfc4514_string())


class Attempt:
    """One connection: the handshake answering every request with ``identity``, then a request.
    Its steps are a generator played by ``lab.play``: each looks at what the last read brought."""

    def __init__(self, target: Target, version: str, identity: Identity, timeout: float) -> None:
        cfg = ClientConfig(version=version, chain=identity.chain, key=identity.key, server_name=target.sni,
                           offer_pha=version == "1.3")
        self.version, self.identity, self.app = version, identity, target.app
        self.conv = ClientConversation(ClientEngine(cfg), target.connect(timeout), timeout)
        self.requests: list[dict[str, Any]] = []
        self.data = b""
        self.completed = False

    def go(self) -> dict[str, Any]:
        try:
            play(self._steps(), self.conv)
        except EngineError as exc:
            self.conv.end(Observed("error", reason=str(exc)))
        finally:
            self.conv.transport.close()
        return self._result()

    def _steps(self) -> Iterator[Step]:
        yield from self._handshake("handshake")
        if not self.completed:
            return
        yield from self._listen(0.3)   # a TLS 1.3 verdict right after our Finished
        if self.app.request:
            yield SendAppData(self.app.request, label="request")
            yield from self._listen(self.conv.timeout)

    def _handshake(self, when: str) -> Iterator[Step]:
        """Hello, the server's flight, our answer (with a certificate if asked)."""
        conv, eng = self.conv, self.conv.engine
        self.completed = False
        yield Send(gen.client_hello(), label=f"ClientHello ({when})")
        flight_end = ("finished",) if self.version == "1.3" else ("server_hello_done",)
        yield ReadUntil(flight_end, label="server flight")   # a HelloRetryRequest is answered on the way
        asked = eng.cert_request is not None
        if asked:
            self._record_request(when)
        answer = self._answer(asked)
        if self.version == "1.3":
            yield SendCCS()
            yield Send(*answer, gen.finished(), label="client flight")
        else:
            yield Send(*answer[:1], gen.client_key_exchange(), *answer[1:], label="client flight")
            yield SendCCS()
            yield Send(gen.finished(), label="Finished")
            yield ReadUntil(("finished",), label="server Finished")
        self.completed = conv.observed is None

    def _answer(self, asked: bool) -> list:
        """[Certificate, CertificateVerify] builders: ours or an empty Certificate when asked, and a
        CertificateVerify only with a certificate. Built in turn as the flight is staged, since each
        covers the transcript so far."""
        if not asked:
            return []
        return [gen.certificate(list(self.identity.chain))] + ([gen.certificate_verify()] if self.identity.chain
                                                                else [])

    def _record_request(self, when: str) -> None:
        facts = certificate_request_facts(self.conv.engine.cert_request.payload)
        self.requests.append({"when": when, **facts})

    def _listen(self, timeout: float) -> Iterator[Step]:
        """Read until the server closes or falls silent, for ``timeout`` at most (a server that
        streams without end is cut off): answer a post-handshake request or a HelloRequest on the
        way. Silence is not an outcome: the caller decides what comes next."""
        conv = self.conv
        deadline = time.monotonic() + timeout
        while conv.observed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            yield ReadUntil(("application_data", "certificate_request", "hello_request"), label="server",
                            timeout=left, quiet_ok=True)
            quiet = conv.quiet
            for ev in conv.last:
                if ev.kind == "application_data":
                    self.data += ev.raw[:ANSWER_KEPT - len(self.data)]
                elif ev.name == "certificate_request" and self.version == "1.3":
                    self._record_request("post_handshake")
                    yield Send(*self._answer(True), gen.finished(), label="post-handshake answer")
                elif ev.name == "hello_request":
                    conv.engine.cert_request = None
                    yield from self._handshake("renegotiation")
                    if not self.completed:
                        return
            if quiet:
                return

    def _result(self) -> dict[str, Any]:
        obs, eng = self.conv.observed, self.conv.engine
        done = eng.main_done if self.version == "1.3" else bool(eng.client_verify_data)
        out: dict[str, Any] = {"identity": self.identity.label, "requests": self.requests,
                               "handshake_completed": done}
        m = HTTP_STATUS.match(self.data)
        if m:
            out["http_status"] = int(m.group(1))
        if obs is not None and obs.outcome == "alert":
            out.update(outcome="rejected", alert=obs.alert, alert_code=obs.alert_code, when=obs.when)
        elif obs is not None and obs.outcome == "error":
            out.update(outcome="error", reason=obs.reason)
        elif obs is not None and obs.outcome == "timeout" and not done:
            out.update(outcome="no answer", reason=obs.reason or f"no answer within {self.conv.timeout:g} s "
                       f"(waiting for {', '.join(obs.waiting_for or ('data',))})", silent=not self.conv.received)
        elif not done:
            out.update(outcome="rejected", reason="the server closed the connection during the handshake")
        elif out.get("http_status") in REJECTING_STATUS:
            out.update(outcome="rejected at the application layer")
        elif self.app.expect and self.app.judge(self.data).outcome != "success":
            out.update(outcome="rejected at the application layer", reason=answer_text(self.data))
        else:
            out.update(outcome="accepted")
        if eng.notes:
            out["engine_notes"] = list(eng.notes)
        cut = self.conv.cut_note()
        if cut:
            out["cut"] = cut
        return out


class NotATLSServer(Exception):
    """The target answered with something that is not TLS, or did not answer at all."""


def probe(host: str, port: int, versions: list[str], yours: Identity | None, server_name: str | None,
          timeout: float = 3.0, starttls: str | None = None) -> dict[str, Any]:
    """Every attempt for every version, and the policy they show. Raises PeerUnreachable, and
    NotATLSServer when the first attempt shows no TLS server (no policy can be told then)."""
    target = Target.of(address_label(host, port), sni=server_name or "", insecure=True, starttls=starttls,
                       http="/" if not starttls else None, user=common_name(yours.chain[0]) if yours else "certlab")
    target = dataclasses.replace(target, sni=server_name)
    out: dict[str, Any] = {"target": target.label, "server_name": server_name, "starttls": target.starttls,
                           "versions": {}}
    identities = [Identity("none"), self_signed_identity()] + ([yours] if yours else [])
    for v in versions:
        first = Attempt(target, v, identities[0], timeout).go()
        _check_tls(first, host, port)
        attempts = [first] + [Attempt(target, v, ident, timeout).go() for ident in identities[1:]]
        out["versions"][v] = {"attempts": attempts, "policy": policy(attempts)}
    return out


def probe_target(address: tuple[str, int], name: str | None, versions: list[str], yours: Identity | None,
                 starttls: str | None, timeout: float) -> dict[str, Any]:
    """``probe`` of one (host, port) and one server name (None: the host, unless an address)."""
    host, port = address
    return probe(host, port, versions, yours, default_sni(host) if name is None else name, timeout, starttls)


def _check_tls(attempt: dict[str, Any], host: str, port: int) -> None:
    if attempt["outcome"] == "no answer" and attempt.get("silent"):
        raise NotATLSServer(f"{host}:{port} accepted the connection but sent nothing: {attempt['reason']}; "
                            "is it a TLS server (or one that waits for a STARTTLS preamble)?")
    if attempt["outcome"] == "no answer":
        raise NotATLSServer(f"{host}:{port} did not complete a TLS handshake: {attempt['reason']}")
    reason = attempt.get("reason") or ""
    if attempt["outcome"] == "error" and "not a TLS record" in reason:
        raise NotATLSServer(f"{host}:{port} is not a TLS server: it answered the ClientHello with "
                            "data that is not a TLS record")


def policy(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """What the attempts say about the server: whether and when it asks, whether it requires a
    certificate, whether it checks it, and where it rejects."""
    by = {a["identity"]: a for a in attempts}
    none = by["none"]
    if none["outcome"] == "rejected" and not none["requests"] and not none["handshake_completed"] \
            and none.get("alert") in ("protocol_version", "handshake_failure", "insufficient_security"):
        return {"supported": False, "summary": f"this version is not offered (alert {none['alert']})"}
    asks = [r["when"] for a in attempts for r in a["requests"]]
    out: dict[str, Any] = {"supported": True, "requests_certificate": sorted(set(asks)) or ["never"]}
    first = next((r for a in attempts for r in a["requests"]), None)
    if first:
        out["certificate_authorities"] = first.get("certificate_authorities", [])
        out["signature_algorithms"] = first.get("signature_algorithms", [])
    if not asks:
        out["summary"] = "no client certificate is requested (not in the handshake, not later)"
        return out
    required = none["outcome"].startswith("rejected")
    out["required"] = required
    where = "at the application layer (the TLS handshake completes)" if \
        none["outcome"] == "rejected at the application layer" else f"with alert {none.get('alert', '?')}"
    parts = [f"a client certificate is requested {' and '.join(WHEN[w] for w in sorted(set(asks)))}",
             f"REQUIRED: without one the server rejects {where}" if required else
             "OPTIONAL: the server accepts a connection without one"]
    ss = by.get("self-signed")
    if ss and ss["outcome"] == "accepted":
        parts.append("an untrusted self-signed certificate is ACCEPTED (verification off or optional_no_ca)")
    elif ss:
        parts.append(f"an untrusted self-signed certificate is rejected ({_how(ss)})")
    if "yours" in by:
        parts.append(f"your certificate is {by['yours']['outcome']} ({_how(by['yours'])})")
    out["summary"] = "; ".join(parts)
    return out


def _how(a: dict[str, Any]) -> str:
    if a.get("alert"):
        return f"alert {a['alert']} ({a['alert_code']}) {a.get('when', '').replace('_', ' ')}".strip()
    if a.get("http_status"):
        return f"HTTP {a['http_status']}"
    return a.get("reason", "handshake completed")


def to_text(result: dict[str, Any]) -> str:
    lines = [f"certlab probe {result['target']}"]
    for v, res in result["versions"].items():
        pol = res["policy"]
        lines.append(f"TLS {v}: {pol['summary']}")
        if pol.get("certificate_authorities") is not None and pol.get("requests_certificate") != ["never"]:
            cas = pol["certificate_authorities"]
            lines.append("  CA names: " + ("; ".join(cas) if cas else "none (any issuer)"))
            if pol.get("signature_algorithms"):
                lines.append("  signature schemes: " + ", ".join(pol["signature_algorithms"]))
        for a in res["attempts"]:
            asked = ", ".join(r["when"].replace("_", "-") for r in a["requests"]) or "not asked"
            lines.append(f"  {a['identity']:>11} certificate: {a['outcome']} ({_how(a)}); requested: {asked}")
            if a.get("cut"):
                lines.append(f"{'':14}note: {a['cut']}")
    return "\n".join(lines)
