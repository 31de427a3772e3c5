"""``certlab probe HOST:PORT``: a server's client-authentication policy, found by handshakes.
For each TLS version the engine connects three times (no certificate, a freshly made
self-signed one, the user's own when given), answers whatever the server asks (in the handshake,
after it by post-handshake auth, or by a renegotiation), sends an HTTP request, and records the
request's CA names and schemes, the alert or HTTP status, and when it came."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from lab.dissect.describe import certificate_request_facts
from lab.engine.client import ClientConfig, ClientEngine
from lab.engine.state import EngineError
from lab.script import generators as gen
from lab.play.conversation import HTTP_STATUS, Run, send_step
from lab.script.dsl import Send
from lab.transport import SocketTransport

REJECTING_STATUS = (400, 401, 403, 495, 496)
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
    """One connection: the handshake answering every request with ``identity``, then a request."""

    def __init__(self, host: str, port: int, version: str, identity: Identity, server_name: str | None,
                 timeout: float) -> None:
        cfg = ClientConfig(version=version, chain=identity.chain, key=identity.key, server_name=server_name,
                           offer_pha=version == "1.3")
        self.host, self.version, self.identity = host, version, identity
        self.run = Run(ClientEngine(cfg), SocketTransport(host, port), timeout)
        self.requests: list[dict[str, Any]] = []
        self.data = b""

    def go(self) -> dict[str, Any]:
        run = self.run
        try:
            if self._handshake("handshake"):
                self._listen(0.3)   # a TLS 1.3 verdict right after our Finished
                if run.observed is None:
                    request = f"GET / HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n".encode()
                    run.send(run.engine.send_application_data(request), "HTTP request")
                    self._listen(run.timeout)
        except EngineError as exc:
            run.observed = {"outcome": "error", "reason": str(exc)}
        finally:
            run.transport.close()
        return self._result()

    def _handshake(self, when: str) -> bool:
        """Hello, the server's flight, our answer (with a certificate if asked). False if it ended."""
        run, eng = self.run, self.run.engine
        run.send(eng.send_handshake(eng.client_hello()), f"ClientHello ({when})")
        flight_end = ("finished",) if self.version == "1.3" else ("server_hello_done",)
        events = run.read(flight_end + ("hello_retry_request",), "server flight")
        if any(e.name == "hello_retry_request" for e in events) and run.observed is None:
            run.send(eng.send_handshake(eng.client_hello()), "second ClientHello")
            run.read(flight_end, "server flight")
        if run.observed is not None:
            return False
        asked = eng.cert_request is not None
        if asked:
            self._record_request(when)
        cert, cv = self._answer(asked)
        if self.version == "1.3":
            run.send(eng.send_ccs(), "ChangeCipherSpec")
            send_step(Send(*cert, *cv, gen.finished(), label="client flight"), eng, run.send)
            return True
        send_step(Send(*cert, gen.client_key_exchange(), *cv, label="client flight"), eng, run.send)
        run.send(eng.send_ccs(), "ChangeCipherSpec")
        send_step(Send(gen.finished(), label="Finished"), eng, run.send)
        run.read(("finished",), "server Finished")
        return run.observed is None

    def _answer(self, asked: bool) -> tuple[list, list]:
        """(Certificate, CertificateVerify) builders: ours or an empty Certificate when asked, and a
        CertificateVerify only with a certificate. Built in turn as the flight is staged, since each
        covers the transcript so far."""
        if not asked:
            return [], []
        return [gen.certificate(list(self.identity.chain))], ([gen.certificate_verify()] if self.identity.chain else [])

    def _record_request(self, when: str) -> None:
        facts = certificate_request_facts(self.run.engine.cert_request.payload)
        self.requests.append({"when": when, **facts})

    def _listen(self, timeout: float) -> None:
        """Read until the server closes: answer a post-handshake request or a HelloRequest."""
        run, eng = self.run, self.run.engine
        while run.observed is None:
            events = run.read(("application_data", "certificate_request", "hello_request"), "server", timeout=timeout)
            quiet = run.observed is not None and run.observed.get("outcome") == "timeout"
            if quiet:
                run.observed = None   # silence is not an outcome: the caller decides what comes next
            for ev in events:
                if ev.kind == "application_data":
                    self.data += ev.raw
                elif ev.name == "certificate_request" and self.version == "1.3":
                    self._record_request("post_handshake")
                    cert, cv = self._answer(True)
                    send_step(Send(*cert, *cv, gen.finished(), label="post-handshake answer"), eng, run.send)
                elif ev.name == "hello_request":
                    eng.cert_request = None
                    if not self._handshake("renegotiation"):
                        return
            if quiet:
                return

    def _result(self) -> dict[str, Any]:
        obs, eng = self.run.observed or {}, self.run.engine
        done = eng.main_done if self.version == "1.3" else bool(eng.client_verify_data)
        out: dict[str, Any] = {"identity": self.identity.label, "requests": self.requests,
                               "handshake_completed": done}
        m = HTTP_STATUS.match(self.data)
        if m:
            out["http_status"] = int(m.group(1))
        if obs.get("outcome") == "alert":
            out.update(outcome="rejected", alert=obs["alert"], alert_code=obs["alert_code"], when=obs["when"])
        elif obs.get("outcome") == "error":
            out.update(outcome="error", reason=obs["reason"])
        elif not done:
            out.update(outcome="rejected", reason="the server closed the connection during the handshake")
        elif out.get("http_status") in REJECTING_STATUS:
            out.update(outcome="rejected at the application layer")
        else:
            out.update(outcome="accepted")
        if eng.notes:
            out["engine_notes"] = list(eng.notes)
        return out


def probe(host: str, port: int, versions: list[str], yours: Identity | None, server_name: str | None,
          timeout: float = 3.0) -> dict[str, Any]:
    """Every attempt for every version, and the policy they show. Raises PeerUnreachable."""
    out: dict[str, Any] = {"target": f"{host}:{port}", "versions": {}}
    identities = [Identity("none"), self_signed_identity()] + ([yours] if yours else [])
    for v in versions:
        attempts = [Attempt(host, port, v, ident, server_name, timeout).go() for ident in identities]
        out["versions"][v] = {"attempts": attempts, "policy": policy(attempts)}
    return out


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
    return "\n".join(lines)
