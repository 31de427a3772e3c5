"""``certlab diagnose``: for each TLS connection of a capture, the client-authentication verdict
in plain words: what the server asked for, what the client answered, whether the chain leads to
a CA the server named, whether the CertificateVerify verifies, how the connection ended, and the
likely cause with its fix. Built on ``certlab dissect``'s reading of the same capture."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from lab.crypto import x509view
from lab.dissect import DissectResult
from lab.dissect.describe import suite_name, version_label
from lab.dissect.ending import describe as describe_ending, handshake_completed
from lab.dissect.model import ConnectionInfo
from layers.registry import HandshakeType as H

HTTP_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ?([^\r\n]*)")
# What nginx writes in the body of its 400 page for each client-certificate failure.
NGINX_REASONS = {b"No required SSL certificate was sent": "no_certificate",
                 b"The SSL certificate error": "certificate_error"}
SERVER_FIX = ("the server's trusted client CAs (nginx ssl_client_certificate, Apache SSLCACertificateFile, "
              "openssl s_server -CAfile)")


def client_chain(c: ConnectionInfo) -> list[bytes]:
    """The DER certificates of the client's last Certificate message (empty if none)."""
    chain: list[bytes] = []
    for m in c.messages:
        if m.direction == "client" and m.kind == "handshake" and m.type == H.certificate and m.layer:
            chain = [bytes(e.cert_data) for e in getattr(m.layer.payload, "certificate_list", [])
                     if hasattr(e, "cert_data")]   # a truncated entry stays Raw
    return chain


def chain_facts(ders: list[bytes], named: list[str], when: float | None) -> dict[str, Any]:
    """Validity at capture time, EKU, self-signed, chain order, and whether it reaches a named CA."""
    try:
        return _chain_facts(ders, named, when)
    except (ValueError, TypeError, UnsupportedAlgorithm):   # a certificate broken past the parts we read
        return {"parsable": False}


def _chain_facts(ders: list[bytes], named: list[str], when: float | None) -> dict[str, Any]:
    certs: list[x509.Certificate] = []
    for der in ders:
        try:
            certs.append(x509view.certificate(der))
        except ValueError:
            return {"parsable": False}
    leaf = certs[0]
    at = dt.datetime.fromtimestamp(when, dt.timezone.utc) if when else dt.datetime.now(dt.timezone.utc)
    out: dict[str, Any] = {"parsable": True, "leaf": x509view.summary(ders[0]),
                           "expired": at > leaf.not_valid_after_utc,
                           "not_yet_valid": at < leaf.not_valid_before_utc,
                           "self_signed": leaf.subject == leaf.issuer}
    eku = out["leaf"].get("extended_key_usage")
    out["client_auth_eku"] = eku is None or "clientAuth" in eku
    ordered = True
    for child, parent in zip(certs, certs[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            ordered = False
    out["chain_ordered"] = ordered
    issuers = {c.issuer.rfc4514_string() for c in certs} | {c.subject.rfc4514_string() for c in certs[1:]}
    out["reaches_named_ca"] = None if not named else bool(issuers & set(named))
    out["leaf_issuer"] = leaf.issuer.rfc4514_string()
    out["issuer_in_chain"] = any(c.subject == leaf.issuer for c in certs[1:])
    return out


def _ending(c: ConnectionInfo) -> dict[str, Any]:
    """The first fatal alert (or the last alert), when it came relative to the client's Finished,
    whether the handshake completed, and an HTTP status the server sent."""
    out: dict[str, Any] = {"completed": False}
    client_finished = False
    finished = {"client": 0, "server": 0}
    for m in c.messages:
        if m.direction == "server" and client_finished:
            out["server_after_client_finished"] = True
        if m.kind == "handshake" and m.type == H.finished:
            finished[m.direction] += 1
            client_finished = client_finished or m.direction == "client"
        elif m.kind == "alert" and m.type not in (None, 0):   # close_notify is not an ending worth naming
            if "alert" not in out or (m.fields.get("level") == "fatal" and out["alert"]["level"] != "fatal"):
                out["alert"] = {"name": m.name, "code": m.type, "level": m.fields.get("level"), "from": m.direction,
                                "frame": m.frame, "after_client_finished": client_finished}
        elif m.kind == "application_data" and m.direction == "server" and m.decrypted and "http" not in out:
            hit = HTTP_STATUS.match(m.raw)
            if hit:
                out["http"] = {"status": int(hit.group(1)), "reason": hit.group(2).decode("latin-1"),
                               "frame": m.frame}
                for text, kind in NGINX_REASONS.items():
                    if text in m.raw:
                        out["http"]["nginx"] = kind
    out["completed"] = handshake_completed(c)
    out["closed"] = c.client_auth.get("ended_by")   # who closed first, and the answer
    out["encrypted_unread"] = any(m.encrypted and not m.decrypted for m in c.messages)
    # Encrypted handshake records beyond each side's Finished: a renegotiation certlab could not read
    unread = [m for m in c.messages if m.kind == "handshake" and m.encrypted and not m.decrypted]
    out["unread_renegotiation"] = any(sum(1 for m in unread if m.direction == side) > 1 for side in ("client", "server"))
    return out


def diagnose_connection(c: ConnectionInfo, keys_given: bool = False) -> dict[str, Any]:
    a = c.client_auth
    req = (a.get("requests") or [None])[-1]
    named = (req or {}).get("certificate_authorities") or []
    resp = next((r for r in reversed(a.get("responses", [])) if r.get("empty") is not None), None)
    ders = client_chain(c) if resp and not resp["empty"] else []
    d: dict[str, Any] = {"client": c.client, "server": c.server, "version": version_label(c.version),
                         "cipher_suite": suite_name(c.cipher_suite), "requested": a.get("requested"),
                         "request": req, "answer": "unknown" if a.get("certificate_sent") is None and not resp else
                         ("certificate" if ders else "empty" if resp else "none")}
    if ders:
        d["chain"] = [x509view.summary(der) for der in ders]
        d["chain_facts"] = chain_facts(ders, named, c.start_time)
        d["certificate_encrypted"] = resp["encrypted"]
    if resp and resp.get("certificate_verify"):
        d["certificate_verify"] = resp["certificate_verify"]
    d["ending"] = _ending(c)
    d["keys_given"] = keys_given
    d["verdict"], d["cause"], d["fix"] = _judge(d, a, named)
    if a.get("hidden"):
        d["hidden"] = a["hidden"]
    return d


def _names(named: list[str]) -> str:
    return "; ".join(named[:3]) + (f" (and {len(named) - 3} more)" if len(named) > 3 else "")


def _judge(d: dict[str, Any], a: dict[str, Any], named: list[str]) -> tuple[str, str, str]:
    end, facts, cv = d["ending"], d.get("chain_facts") or {}, d.get("certificate_verify") or {}
    alert = end.get("alert") or {}
    fatal = alert.get("level") == "fatal"
    http = end.get("http") or {}
    rejected_http = http.get("status") in (400, 403, 495, 496)
    by_server = fatal and alert.get("from") == "server"
    by_client = fatal and alert.get("from") == "client"
    if d["requested"] is None:
        hidden = a.get("hidden") or ""
        if not hidden.startswith("TLS 1.3"):   # the capture itself lacks it: mid-stream, cut short, SSLv2
            return "unknown", f"the capture cannot tell: {hidden}", "capture the whole connection, from its SYN"
        if a.get("key_trouble"):
            return ("unknown", f"the certificate exchange is encrypted (TLS 1.3) and {a['key_trouble']}",
                    "pass the key log written for this connection, as SSLKEYLOGFILE wrote it")
        if d.get("keys_given"):
            return ("unknown", "the certificate exchange is encrypted (TLS 1.3) and the key log given has no "
                    "handshake secrets for this connection", "pass the key log written for this connection; "
                    + hidden)
        return ("unknown", "the certificate exchange is encrypted (TLS 1.3) and no key log was given",
                "capture with SSLKEYLOGFILE set on the client or the server and pass it with --keylog "
                "(or embed it: editcap --inject-secrets tls,KEYLOG); " + hidden)
    if not d["requested"] and end.get("unread_renegotiation"):
        return ("unknown", "the first handshake asked for no certificate, and later encrypted handshake messages "
                "(a renegotiation, which may ask) did not decrypt", "pass the key log written for this connection "
                "(SSLKEYLOGFILE)")
    if not d["requested"]:
        if d["answer"] in ("certificate", "empty"):
            return ("failed" if by_server else "unsolicited certificate",
                    "the client sent a Certificate the server never asked for"
                    + (f" and the server answered {alert['name']}" if by_server else ""),
                    "send a client Certificate only after a CertificateRequest (RFC 5246 7.4.6, RFC 8446 4.4.2)")
        if by_server or by_client:
            return ("failed", f"the handshake failed with {alert['name']} from the {alert['from']} before any "
                              "certificate was requested", "fix the handshake itself first (versions, suites, "
                                                            "the server's certificate)")
        if not end["completed"]:
            return ("incomplete", "the capture ends before the handshake completed", "capture the whole "
                    "connection")
        return ("no client authentication", "the server did not ask for a client certificate",
                "enable client authentication on the server (nginx ssl_verify_client on; Apache SSLVerifyClient "
                "require; openssl s_server -Verify 1)")
    if d["answer"] == "unknown":
        hidden = a.get("hidden") or "the capture ends before the client answered"
        if by_server or rejected_http:
            how = f"{alert['name']} alert" if by_server else f"HTTP {http['status']}"
            cause = f"the server asked for a certificate and rejected the client ({how}); what the client sent is unknown: "
        else:
            cause = "the server asked for a certificate; what the client sent is unknown: "
        return ("unknown", cause + hidden, "pass the key log written for this connection (SSLKEYLOGFILE)"
                if hidden.startswith("TLS 1.3") else "capture the whole connection, from its SYN")
    missing = d["answer"] in ("empty", "none")
    if missing and (by_server or rejected_http):
        fix = (f"give the client a certificate issued by a CA the server named ({_names(named)})" if named else
               "give the client a certificate and its key (curl --cert/--key; openssl s_client -cert/-key)")
        how = f"{alert['name']} alert" if by_server else f"HTTP {http['status']}"
        sent = "an empty Certificate" if d["answer"] == "empty" else "none"
        cause = f"the server requires a certificate and the client sent {sent} ({how})"
        if d["answer"] == "empty" and named:
            cause += ("; clients such as Go, Java and browsers send none when none of theirs was issued by a "
                      "named CA")
        return "rejected", cause, fix
    # Acceptance is seen only in the server's answer: its Finished (TLS 1.2 and before), or what it
    # sends after the client's Finished (TLS 1.3, where the server judges after that Finished).
    unanswered = not alert and not rejected_http and not (
        end.get("server_after_client_finished") if d["version"] == "TLS 1.3" else end["completed"])
    if missing:
        if by_client:
            return ("client aborted", f"the client sent {alert['name']} instead of a certificate",
                    "check the client's certificate configuration and the request's signature schemes")
        if unanswered:
            return ("unknown", "the client sent no certificate, and the capture ends before the server answered",
                    "capture the connection until it closes")
        return ("accepted without a certificate", "the server asked but accepts a connection without one "
                "(optional client authentication)", "make the certificate required if it must be "
                "(nginx ssl_verify_client on)")
    problems = _certificate_problems(facts, cv, named)
    if by_server or rejected_http:
        how = f"{alert['name']} alert from the server" if by_server else f"HTTP {http['status']}"
        if alert.get("name") == "decrypt_error" or cv.get("verified") is False:
            return ("rejected", f"the CertificateVerify signature does not verify ({how}): the client signed with a "
                                "key that does not belong to its certificate",
                    "configure the private key that matches the client certificate")
        if problems:
            cause, fix = problems[0]
            return "rejected", f"{cause} ({how})", fix
        return ("rejected", f"the server rejected the certificate ({how}) for a reason the capture does not show "
                            "(revocation, policy, a CA the server does not trust)",
                "check the server's log and its trusted client CAs")
    if by_client:
        return ("client aborted", f"the client ended the handshake with {alert['name']} after sending its "
                                  "certificate", "check the server's certificate and the client's trust store")
    if not end["completed"] and not end.get("encrypted_unread"):
        return "incomplete", "the capture ends before the handshake completed", "capture the whole connection"
    if unanswered:
        return ("unknown", "the client sent its certificate, and the capture ends before the server answered it",
                "capture the connection until it closes")
    if cv.get("verified") is False:
        return ("accepted despite a bad signature", "the server accepted a CertificateVerify that does not verify",
                "the server does not check the client's signature: fix or replace it")
    if problems:
        return ("accepted anyway", f"the server accepted the certificate although {problems[0][0]}",
                "tighten the server's verification (nginx ssl_verify_client on, not optional_no_ca)")
    subject = (d["chain"][0].get("subject") if d.get("chain") else "?")
    return "authenticated", f"the client authenticated as {subject}", "nothing to fix"


def _certificate_problems(facts: dict[str, Any], cv: dict[str, Any], named: list[str]) -> list[tuple[str, str]]:
    """(cause, fix) pairs for what is wrong with the client's chain, most likely first."""
    out: list[tuple[str, str]] = []
    if not facts.get("parsable", True):
        return [("the client's certificate is not parsable X.509", "re-issue the client certificate")]
    if not facts:
        return out
    leaf = facts["leaf"]
    if facts["expired"]:
        out.append((f"the client certificate expired on {leaf['not_after'][:10]}", "renew the client certificate"))
    if facts["not_yet_valid"]:
        out.append((f"the client certificate is not valid before {leaf['not_before'][:10]}",
                    "check the clocks, or use a certificate that is already valid"))
    if facts["self_signed"] and facts["reaches_named_ca"] is not True:
        out.append(("the client certificate is self-signed and not one the server trusts",
                    f"use a certificate issued by a CA the server trusts, or add it to {SERVER_FIX}"))
    if facts["reaches_named_ca"] is False:
        hint = "" if facts["issuer_in_chain"] else (f"; if {facts['leaf_issuer']} is an intermediate under a named "
                                                    "CA, send it in the chain (a full-chain certificate file)")
        out.append((f"its issuer {facts['leaf_issuer']} is not among the CAs the server named ({_names(named)})",
                    f"use a certificate issued by a named CA, or add {facts['leaf_issuer']} to {SERVER_FIX}{hint}"))
    if not facts["client_auth_eku"]:
        out.append((f"its extended key usage ({', '.join(leaf.get('extended_key_usage', []))}) does not include "
                    "clientAuth", "issue the client certificate with extendedKeyUsage = clientAuth"))
    if not facts["chain_ordered"]:
        out.append(("the chain the client sent is out of order or has a certificate that did not issue the one "
                    "before it", "send the leaf first, then each issuer in order"))
    return out


def diagnose(result: DissectResult) -> list[dict[str, Any]]:
    return [diagnose_connection(c, result.keylog_secrets > 0) for c in result.connections]


def header(path: str, connections: int, secrets: int) -> str:
    return f"{path}: {connections} TLS connection(s); key log: {secrets} secret(s)"


def connection_text(n: int, d: dict[str, Any]) -> str:
    lines = ["", f"Connection {n}: {d['client']} -> {d['server']}  {d['version']}  {d['cipher_suite'] or ''}"]
    lines += ["  " + line for line in _facts_lines(d)]
    lines += [f"  VERDICT: {d['verdict']}", f"  why: {d['cause']}"]
    if d["verdict"] != "authenticated":
        lines.append(f"  fix: {d['fix']}")
    return "\n".join(lines)


def to_text(result: DissectResult, diags: list[dict[str, Any]]) -> str:
    return "\n".join([header(result.path, len(diags), result.keylog_secrets)]
                     + [connection_text(n, d) for n, d in enumerate(diags, 1)])


def to_html(path: str, head: str, sections: list[tuple[str, str, str, list[dict]]]) -> str:
    """The diagnosis as a page: per connection (client, server, text, ladder steps) its facts and
    verdict, and its ladder diagram."""
    import html
    from lab.dissect.ladder import svg
    esc = html.escape
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>certlab diagnose</title><style>"
           "body{font-family:sans-serif;max-width:70em;margin:auto} pre{background:#f4f4f4;padding:.5em}"
           "</style></head><body>", f"<h1>certlab diagnose: {esc(path)}</h1><p>{esc(head)}</p>"]
    for n, (client, server, block, ladder) in enumerate(sections, 1):
        out.append(f"<section id='connection{n}'><h2>Connection {n}: {esc(client)} &rarr; {esc(server)}</h2>"
                   f"<pre>{esc(block.strip())}</pre>{svg(ladder, 'client ' + client, 'server ' + server)}</section>")
    return "\n".join(out) + "\n</body></html>\n"


def _facts_lines(d: dict[str, Any]) -> list[str]:
    out = []
    req = d.get("request")
    unseen = "encrypted" if (d.get("hidden") or "").startswith("TLS 1.3") else "not in the capture"
    if d["requested"] is None:
        out.append(f"certificate requested: unknown ({unseen})")
    elif not d["requested"]:
        out.append("certificate requested: no")
    else:
        where = "encrypted" if req["encrypted"] else "in the clear"
        out.append(f"certificate requested: yes, {req['when'].replace('_', '-')} (frame {req['frame']}, {where})")
        cas = req.get("certificate_authorities")
        out.append("  CA names: " + (_names(cas) if cas else "none (any issuer)"))
        if req.get("signature_algorithms"):
            schemes = req["signature_algorithms"]
            out.append("  signature schemes: " + ", ".join(schemes[:6])
                       + (f" (and {len(schemes) - 6} more)" if len(schemes) > 6 else ""))
    if d["answer"] == "certificate":
        leaf, f = d["chain"][0], d["chain_facts"]
        out.append(f"client sent: a certificate chain of {len(d['chain'])} "
                   f"({'encrypted' if d['certificate_encrypted'] else 'in the clear'})")
        out.append(f"  subject {leaf.get('subject')}; issuer {leaf.get('issuer')}")
        out.append(f"  valid {leaf.get('not_before', '?')[:10]} to {leaf.get('not_after', '?')[:10]}"
                   + (" (EXPIRED at capture time)" if f.get("expired") else "")
                   + (" (NOT YET VALID at capture time)" if f.get("not_yet_valid") else "")
                   + f"; EKU {', '.join(leaf.get('extended_key_usage', ['(none: any)']))}")
        reach = ("unknown (the CertificateRequest was not read)" if d["requested"] is None else
                 {True: "yes", False: "NO", None: "the server named none"}[f.get("reaches_named_ca")])
        out.append(f"  chain leads to a named CA: {reach}")
    else:
        out.append("client sent: " + {"empty": "an EMPTY Certificate", "none": "no Certificate message",
                                      "unknown": f"unknown ({unseen})"}[d["answer"]])
    cv = d.get("certificate_verify")
    if cv:
        out.append(f"CertificateVerify: {cv['algorithm']}, " + {True: "signature verifies", False: "signature "
                   "DOES NOT VERIFY", None: cv.get("reason", "not checked")}[cv.get("verified")])
    end = d["ending"]
    if end.get("alert"):
        al = end["alert"]
        when = "after" if al["after_client_finished"] else "before"
        out.append(f"ended: {al['level']} alert {al['name']} ({al['code']}) from the {al['from']}, {when} the "
                   f"client's Finished (frame {al['frame']})")
    else:
        out.append(("handshake completed; " if end["completed"] else "") + "ended: " + describe_ending(end["closed"]))
    if end.get("http"):
        h = end["http"]
        out.append(f"HTTP: {h['status']} {h['reason']} (frame {h['frame']})")
    return out
