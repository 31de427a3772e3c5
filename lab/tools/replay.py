"""``certlab replay CAPTURE --to HOST:PORT``: what a capture holds, played against a fresh server.

``first-flight`` sends the client's first flight exactly as captured and compares the server's
answer with the captured one (version, suite, and in TLS 1.2 the CertificateRequest, which TLS
1.3 encrypts under a key share only the original client held). ``client-auth`` grafts the
captured client Certificate and CertificateVerify into a new handshake: the signature covers
the old transcript, so a correct server must reject it (decrypt_error, RFC 5246 7.4.8, RFC 8446
4.4.3). A server that accepts it would accept a stolen signature."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lab.children import scratch
from lab.crypto.prf import digest
from lab.dissect import DissectResult, dissect
from lab.dissect.describe import certificate_request_facts, suite_name, version_label
from lab.dissect.model import ConnectionInfo, MessageInfo, transcript_before
from lab.engine.client import ClientConfig, ClientEngine
from lab.play.capture import save_capture
from lab.play.client import ClientConversation, play_client
from lab.play.conversation import play
from lab.script import generators as gen
from lab.script.dsl import Expect, ExpectAlert, ReadUntil, Scenario, Send, SendCCS, SendRecords
from lab.script.setup import Setup
from lab.transport import SocketTransport
from layers.registry import HandshakeType as H


# Alerts about the chain, not the signature (RFC 8446 6.2): the server never judged the CertificateVerify.
CHAIN_ALERTS = ("unknown_ca", "bad_certificate", "certificate_expired", "certificate_revoked",
                "unsupported_certificate", "certificate_unknown", "access_denied")


class ReplayError(Exception):
    """The capture holds nothing to replay: a one-line message naming what is missing."""


@dataclass
class _NoPki(Setup):
    """The grafted messages come from the capture: no certificate or key of our own."""

    def chain(self, who: str = "client") -> list[bytes]:
        return []

    def key(self, who: str = "client"):
        return None


def pick_connection(result: DissectResult, number: int | None, need_client_auth: bool) -> tuple[int, ConnectionInfo]:
    if number is not None:
        if not 1 <= number <= len(result.connections):
            raise ReplayError(f"the capture has {len(result.connections)} TLS connection(s); "
                              f"--connection {number} does not exist")
        return number, result.connections[number - 1]
    for i, c in enumerate(result.connections, 1):
        if not need_client_auth or _client_auth_messages(c):
            return i, c
    raise ReplayError(_why_nothing(result))


def _why_nothing(result: DissectResult) -> str:
    """Why no connection has a client Certificate and CertificateVerify to replay, from the bytes."""
    conns = result.connections
    sent = [m for c in conns for m in c.messages if m.direction == "client" and m.kind == "handshake"
            and m.type == H.certificate and m.layer is not None]
    hidden = [c for c in conns if any(m.direction == "client" and m.encrypted and not m.decrypted
                                      for m in c.messages)]
    if sent and all(not getattr(m.layer.payload, "certificate_list", None) for m in sent) and not hidden:
        return "the client sent an empty Certificate (no certificate): there is no signature to replay"
    if hidden:
        keys = ("the key log embedded in the capture does not decrypt it" if result.embedded_secrets else
                "pass the key log (--keylog) so they can be read")
        return f"the client's messages are encrypted (TLS 1.3 or renegotiation) and {keys}"
    return "no connection in the capture shows a client Certificate and CertificateVerify: the server did not " \
           "ask for one, or the client sent none"


def _client_auth_messages(c: ConnectionInfo) -> tuple[MessageInfo, MessageInfo] | None:
    cert = [m for m in c.messages if m.direction == "client" and m.kind == "handshake" and m.type == H.certificate
            and m.layer is not None and getattr(m.layer.payload, "certificate_list", None)]
    cv = [m for m in c.messages if m.direction == "client" and m.kind == "handshake"
          and m.type == H.certificate_verify and m.layer is not None]
    return (cert[0], cv[0]) if cert and cv else None


def _summary(c: ConnectionInfo) -> dict[str, Any]:
    server = [m for m in c.messages if m.direction == "server"]
    out: dict[str, Any] = {"version": version_label(c.version), "cipher_suite": suite_name(c.cipher_suite),
                           "server_messages": [m.name for m in server if m.kind in ("handshake", "alert")
                                               and (m.decrypted or not m.encrypted)]}
    cr = [m for m in server if m.kind == "handshake" and m.type == H.certificate_request and m.layer is not None]
    if cr:
        out["certificate_request"] = certificate_request_facts(cr[0].layer.payload)
    elif any(m.encrypted and not m.decrypted for m in server):
        out["certificate_request"] = "encrypted (unknown)"
    return out


def replay_first_flight(c: ConnectionInfo, host: str, port: int, timeout: float) -> dict[str, Any]:
    flight = b""
    for r in c.records:
        if r.direction == "server":
            break
        flight += r.wire
    if not flight:
        raise ReplayError("the connection has no client record before the server's first answer")
    # Our engine only reads the answer (the captured flight is not its own, so it holds no keys).
    conv = ClientConversation(ClientEngine(ClientConfig()), SocketTransport(host, port), timeout)
    try:
        play([SendRecords(lambda eng: flight, label="captured first flight"),
              ReadUntil(("(the server closes)",), label="server answer", quiet_ok=True)], conv)
    finally:
        conv.transport.close()
    received = b"".join(f.data for f in conv.flights if not f.from_client)
    with scratch("replay") as tmp:
        path = save_capture(conv, os.path.join(tmp, "replay.pcapng"))
        fresh = dissect(path).connections[0] if received else None
    then, now = _summary(c), (_summary(fresh) if fresh else {"server_messages": []})
    keys = ("version", "cipher_suite", "certificate_request")
    same: dict[str, bool | None] = {k: then.get(k) == now.get(k) for k in keys}
    if "encrypted (unknown)" in (then.get("certificate_request"), now.get("certificate_request")):
        same["certificate_request"] = None   # TLS 1.3: under a key share only the original client held
    return {"part": "first-flight", "bytes_sent": len(flight), "bytes_received": len(received), "captured": then,
            "replayed": now, "same": same}


def replay_client_auth(c: ConnectionInfo, host: str, port: int, timeout: float) -> dict[str, Any]:
    msgs = _client_auth_messages(c)
    if msgs is None:
        raise ReplayError("this connection has no readable client Certificate and CertificateVerify "
                          "(TLS 1.3: pass --keylog)")
    cert, cv = msgs
    version = "1.3" if c.version == 0x0304 else "1.2"
    if c.version not in (0x0303, 0x0304):
        raise ReplayError(f"replaying client authentication needs TLS 1.2 or 1.3, not {version_label(c.version)}")
    old_hash = digest("sha256", transcript_before(c.messages, cv, c.version == 0x0304))
    seen: dict[str, bytes] = {}

    def grafted_cv(eng) -> bytes:   # note what a fresh CertificateVerify would have covered
        seen["transcript"] = bytes(eng.k.transcript)
        return cv.raw
    flight_end = ("finished",) if version == "1.3" else ("server_hello_done",)
    if version == "1.3":
        steps = [Send(gen.client_hello(), label="ClientHello"), ReadUntil(flight_end, label="server flight"),
                 SendCCS(), Send(gen.raw(cert.raw), grafted_cv, gen.finished(),
                                 label="captured Certificate and CertificateVerify, our Finished")]
    else:
        steps = [Send(gen.client_hello(), label="ClientHello"), ReadUntil(flight_end, label="server flight"),
                 Send(gen.raw(cert.raw), gen.client_key_exchange(), grafted_cv,
                      label="captured Certificate, our ClientKeyExchange, captured CertificateVerify"),
                 SendCCS(), Send(gen.finished(), label="Finished"), ReadUntil(("finished",), label="server Finished")]
    sc = Scenario("replay-client-auth", "RFC 5246 7.4.8; RFC 8446 4.4.3", "-", "client", frozenset({version}),
                  "captured Certificate and CertificateVerify in a new handshake", "required",
                  lambda s: steps, lambda v: Expect((ExpectAlert("decrypt_error"),)))
    observed = play_client(sc, _NoPki(None, version), SocketTransport(host, port), timeout=timeout).observed
    # Only a server that received the grafted messages can have judged them: one that closed,
    # hung or broke off before is neither an acceptance nor a rejection of the signature.
    sent = "transcript" in seen
    new_hash = digest("sha256", seen.get("transcript", b""))
    rejected = observed.outcome in ("alert", "app_rejected", "closed") if sent else None
    judged = sent and observed.alert not in CHAIN_ALERTS and observed.outcome not in ("timeout", "error")
    return {"part": "client-auth", "version": version, "certificate": cert.fields.get("certificates"),
            "certificate_verify": cv.fields.get("algorithm"), "observed": observed.to_json(),
            "old_transcript_sha256": old_hash.hex(), "new_transcript_sha256": new_hash.hex() if sent else None,
            "grafted_sent": sent, "server_rejected": rejected, "as_required": sent and observed.alert == "decrypt_error",
            "signature_judged": judged}


def _brief(value: Any) -> str:
    if isinstance(value, dict):   # a CertificateRequest's facts
        cas = value.get("certificate_authorities")
        return (f"CA names {'; '.join(cas) if cas else 'none'}; {len(value.get('signature_algorithms', []))} "
                f"signature schemes" + (f"; types {value['certificate_types']}" if "certificate_types" in value
                                        else ""))
    return str(value)


def to_text(result: dict[str, Any], number: int) -> str:
    if result["part"] == "first-flight":
        then, now = result["captured"], result["replayed"]
        lines = [f"replayed the client's first flight of connection {number} ({result['bytes_sent']} bytes); "
                 f"the server answered {result['bytes_received']} bytes"]
        for k in ("version", "cipher_suite", "certificate_request"):
            mark = {True: "same", False: "DIFFERENT", None: "cannot compare (TLS 1.3 encrypts it under a key "
                    "share only the original client held)"}[result["same"][k]]
            lines.append(f"  {k}: {mark}\n    captured: {_brief(then.get(k))}\n    now:      {_brief(now.get(k))}")
        lines.append("  server messages now: " + ", ".join(now.get("server_messages", [])))
        return "\n".join(lines)
    o = result["observed"]
    what = o.get("outcome", "?") + (f" {o['alert']} ({o.get('alert_code')}) from the server" if o.get("alert") else "")
    leaf = (result.get("certificate") or [{}])[0]
    lines = [f"grafted connection {number}'s client Certificate ({leaf.get('subject', '?')}) and CertificateVerify "
             f"({result['certificate_verify']}) into a new TLS {result['version']} handshake",
             f"  the captured signature covers the old transcript (SHA-256 {result['old_transcript_sha256'][:32]}...)"]
    if result["grafted_sent"]:
        lines.append(f"  the new handshake's transcript differs (SHA-256 {result['new_transcript_sha256'][:32]}...): "
                     "new randoms and key shares")
    lines.append(f"  server: {what}")
    if not result["grafted_sent"]:
        why = o.get("reason") or (o.get("when") or "").replace("_", " ")
        lines.append(f"  not comparable: the captured messages were never sent, since the server's flight never "
                     f"came whole ({o.get('outcome')}: {why})")
    elif result["as_required"]:
        lines.append("  as required: the server checked the signature against this handshake and refused it "
                     "(decrypt_error)")
    elif o.get("alert") in CHAIN_ALERTS:
        lines.append(f"  not comparable: the server rejected the captured chain itself ({o['alert']}: it does not "
                     "accept that certificate or its issuer), so the signature was never judged; replay against a "
                     "server that trusts the chain's CA")
    elif result["server_rejected"]:
        lines.append("  the server refused, though not with decrypt_error, which RFC 5246 7.4.8 / RFC 8446 4.4.3 "
                     "call for")
    elif o.get("outcome") in ("timeout", "error"):
        lines.append(f"  not comparable: the handshake did not get that far ({o.get('outcome')}: "
                     f"{o.get('reason') or 'no answer'})")
    else:
        lines.append("  WARNING: the server accepted a replayed signature: it does not verify the "
                     "CertificateVerify against the handshake")
    return "\n".join(lines)
