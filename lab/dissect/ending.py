"""How a connection ended, read from the capture: the side that closed first (a fatal alert, a
close_notify, or a TCP FIN or RST without one) and what the other side answered. A warning alert
other than close_notify (no_renegotiation, user_canceled) does not end a connection."""
from __future__ import annotations

from typing import Any

from lab.dissect.model import ConnectionInfo


def _events(info: ConnectionInfo) -> list[tuple[int, int, str, dict[str, Any]]]:
    out = []
    for i, m in enumerate(info.messages):
        if m.kind != "alert":
            continue
        level = m.fields.get("level")
        if m.type is not None and m.type != 0 and level == "warning":
            continue   # a warning that the connection goes on after
        out.append((m.frame, i, m.direction, {
            "alert": m.name if m.type is not None else None, "code": m.type, "level": level,
            "encrypted": m.encrypted, "frame": m.frame}))
    for side, closes in info.tcp_close.items():
        for kind, frame in closes.items():
            out.append((frame, 1 << 30, side, {"alert": None, "tcp": kind, "frame": frame}))
    return sorted(out, key=lambda e: (e[0], e[1]))


def ending(info: ConnectionInfo) -> dict[str, Any] | None:
    """``{"from", "alert", "code", "level", "frame", ..., "answer": {...} | None}`` or None when the
    capture shows no end (it was cut before either side closed)."""
    events = _events(info)
    if not events:
        return None
    frame, _, closer, what = events[0]
    out: dict[str, Any] = {"from": closer, **what}
    if "tcp" not in what:
        out["tcp"] = None
    reply = next((e for e in events if e[2] != closer), None)
    out["answer"] = None if reply is None else {"from": reply[2], "tcp": None, **reply[3]}
    return out


def describe(end: dict[str, Any] | None) -> str:
    """One line: "the server sent fatal alert unknown_ca (48), frame 9; the client answered with FIN"."""
    if end is None:
        return "the capture shows no end (neither side closed before it was cut)"
    return f"the {end['from']} {_what(end)} (frame {end['frame']}); " + (
        f"the {end['answer']['from']} answered {_what(end['answer'], answer=True)} (frame {end['answer']['frame']})"
        if end.get("answer") else "the capture shows no answer")


def _what(e: dict[str, Any], answer: bool = False) -> str:
    if e.get("tcp"):
        return ("with " if answer else "closed with ") + ("FIN" if e["tcp"] == "FIN" else "RST (reset)") + \
            ("" if answer else ", without an alert")
    if e.get("alert") is None:
        return "with an encrypted alert (no key to read it)" if answer else "sent an encrypted alert (no key to read it)"
    verb = "with" if answer else "sent"
    return f"{verb} {e.get('level') or ''} alert {e['alert']} ({e['code']})".replace("  ", " ")


def handshake_completed(info: ConnectionInfo) -> bool | None:
    """Both sides' Finished seen: decrypted, or (SSL 3.0-TLS 1.2) as the encrypted handshake record
    right after that side's ChangeCipherSpec, which is all a capture without keys shows. None for
    a TLS 1.3 handshake that stays encrypted (its Finished messages look like application data)."""
    done = {"client": False, "server": False}
    after_ccs = {"client": False, "server": False}
    for m in info.messages:
        if m.kind == "handshake" and m.type == 20:
            done[m.direction] = True
        elif m.kind == "change_cipher_spec":
            after_ccs[m.direction] = True
        elif m.kind == "handshake" and m.encrypted and not m.decrypted and after_ccs[m.direction] \
                and (info.version or 0) < 0x0304:
            done[m.direction] = True
    if all(done.values()):
        return True
    if (info.version or 0) >= 0x0304 and any(m.encrypted and not m.decrypted for m in info.messages):
        return None
    return False
