"""Renderers: ``certlab dissect`` as text (Wireshark-like summary lines plus the client-auth
story) and as JSON. Logic lives in ``lab.dissect``; this only formats."""
from __future__ import annotations

import json
from typing import Any

from lab.dissect import DissectResult
from lab.dissect.describe import (alert_display, display_name, packet_dict, suite_name,
                                  version_label)
from lab.dissect.ending import describe as describe_ending
from lab.dissect.model import ConnectionInfo, MessageInfo


def _message_label(m: MessageInfo) -> str:
    if m.kind == "alert" and m.layer is not None and m.decrypted:
        return alert_display(m.layer.level, m.layer.description)
    return display_name(m.name)


def connection_json(c: ConnectionInfo, with_bodies: bool = True) -> dict[str, Any]:
    msgs = []
    for m in c.messages:
        d = m.to_json()
        if with_bodies and m.kind == "handshake" and m.layer is not None and m.decrypted:
            d["body"] = packet_dict(m.layer.payload) if m.layer.payload else {}
        msgs.append(d)
    return {"client": c.client, "server": c.server, "first_frame": c.first_frame,
            "version": version_label(c.version) if c.version else None,
            "cipher_suite": suite_name(c.cipher_suite), "server_name": c.sni, "upgrade": c.upgrade,
            "handshakes": c.handshakes, "finished_verified": c.finished_verified or None,
            "server_key_exchange_verified": c.ske_verified,
            "records": [r.to_json() for r in c.records], "messages": msgs,
            "client_auth": c.client_auth, "notes": c.notes}


def to_json(result: DissectResult) -> str:
    doc = {"capture": result.path, "format": result.format, "frames": result.frames,
           "key_log_secrets": result.keylog_secrets, "embedded_key_log_secrets": result.embedded_secrets,
           "connections": [connection_json(c) for c in result.connections],
           "warnings": result.warnings}
    return json.dumps(doc, indent=2)


def _frames(c: ConnectionInfo) -> list[tuple[int, str, list[str]]]:
    rows: list[tuple[int, str, list[str]]] = []
    for m in c.messages:
        label = _message_label(m) + ("*" if m.encrypted and m.decrypted else "")
        if rows and rows[-1][0] == m.frame and rows[-1][1] == m.direction:
            rows[-1][2].append(label)
        else:
            rows.append((m.frame, m.direction, [label]))
    return rows


def _auth_lines(a: dict[str, Any]) -> list[str]:
    out = ["  Client authentication:"]
    if a.get("requested") is None:
        out.append("    requested: unknown (" + a.get("hidden", "encrypted") + ")")
    elif not a["requested"]:
        out.append("    requested: no (the server sent no CertificateRequest)")
    for r in a.get("requests", []):
        enc = "encrypted on the wire" if r["encrypted"] else "in the clear"
        out.append(f"    requested: yes, {r['when'].replace('_', '-')} (frame {r['frame']}, {enc})")
        cas = r.get("certificate_authorities")
        out.append("      CA names: " + ("; ".join(cas) if cas else "(none: any issuer)"))
        if r.get("signature_algorithms"):
            out.append("      signature schemes: " + ", ".join(r["signature_algorithms"]))
    for resp in a.get("responses", []):
        enc = "encrypted on the wire" if resp["encrypted"] else "in the clear"
        if resp.get("empty"):
            out.append(f"    client certificate: EMPTY (frame {resp['frame']}, {enc})")
        elif resp.get("certificates"):
            out.append(f"    client certificate: {len(resp['certificates'])} certificate(s) "
                       f"(frame {resp['frame']}, {enc})")
            for i, cert in enumerate(resp["certificates"]):
                if "error" in cert:
                    out.append(f"      [{i}] {cert['error']}")
                    continue
                out.append(f"      [{i}] subject {cert['subject']}")
                out.append(f"          issuer  {cert['issuer']}  valid {cert['not_before'][:10]} to "
                           f"{cert['not_after'][:10]}")
        cv = resp.get("certificate_verify")
        if cv:
            verdict = {True: "signature verifies", False: "SIGNATURE DOES NOT VERIFY",
                       None: cv.get("reason", "not checked")}[cv.get("verified")]
            out.append(f"    CertificateVerify: {cv['algorithm']}, {verdict}")
    if a.get("requests") and not a.get("responses"):
        out.append("    client certificate: none sent" if a.get("certificate_sent") is False
                   else "    client certificate: not seen")
    out.append(f"    ended: {describe_ending(a.get('ended_by'))}")
    if a.get("hidden") and a.get("requested") is not None:
        out.append("    note: " + a["hidden"])
    return out


def header(path: str, fmt: str, frames: int, connections: int, secrets: int, embedded: int) -> str:
    return (f"{path}: {fmt}, {frames} frames, {connections} TLS connection(s), key log: {secrets} secret(s)"
            + (f" ({embedded} embedded)" if embedded else ""))


def connection_text(n: int, c: ConnectionInfo) -> str:
    suite = suite_name(c.cipher_suite) or ""
    lines = ["", f"Connection {n}: {c.client} -> {c.server}  {version_label(c.version)}  {suite}"
             + (f"  SNI {c.sni}" if c.sni else "")]
    for frame, direction, labels in _frames(c):
        arrow = "C->S" if direction == "client" else "S->C"
        lines.append(f"  {frame:>6}  {arrow}  " + ", ".join(labels))
    if any(m.encrypted and m.decrypted for m in c.messages):
        lines.append("  (* decrypted)")
    lines.extend(_auth_lines(c.client_auth))
    for note in c.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def to_text(result: DissectResult) -> str:
    lines = [header(result.path, result.format, result.frames, len(result.connections), result.keylog_secrets,
                    result.embedded_secrets)]
    for w in result.warnings:
        lines.append(f"warning: {w}")
    lines += [connection_text(n, c) for n, c in enumerate(result.connections, 1)]
    return "\n".join(lines)
