"""The handshake as a ladder diagram: client and server columns, one arrow per message (runs of
application data folded into one), encrypted messages marked, and the messages of client
authentication highlighted (CertificateRequest, the client's Certificate and CertificateVerify,
the alert that ended it). ``steps`` reads them from a dissected connection; ``svg`` draws them."""
from __future__ import annotations

import html

from lab.dissect.describe import alert_display, display_name
from lab.dissect.model import ConnectionInfo
from layers.registry import HandshakeType as H

ROW, TOP, WIDTH, LEFT, RIGHT = 22, 40, 460, 90, 370
COLOURS = {"request": "#1f5fbf", "certificate": "#1f7f3f", "verify": "#7f3fbf", "alert": "#c0392b", None: "#333"}


def steps(conn: ConnectionInfo) -> list[dict]:
    """[{"from", "name", "encrypted", "readable", "mark"}] in capture order."""
    out: list[dict] = []
    for m in conn.messages:
        if m.kind == "alert" and m.layer is not None and m.decrypted:
            name = alert_display(m.layer.level, m.layer.description)
        else:
            name = display_name(m.name) if m.decrypted or not m.encrypted else "Encrypted message"
        mark = None
        if m.kind == "alert":
            mark = "alert"
        elif m.kind == "handshake" and m.type == H.certificate_request:
            mark = "request"
        elif m.kind == "handshake" and m.direction == "client" and m.type == H.certificate:
            mark = "certificate"
        elif m.kind == "handshake" and m.direction == "client" and m.type == H.certificate_verify:
            mark = "verify"
        step = {"from": m.direction, "name": name, "encrypted": m.encrypted, "readable": m.decrypted or
                not m.encrypted, "mark": mark}
        last = out[-1] if out else None
        if m.kind == "application_data" and last and last["from"] == m.direction and \
                last["name"].startswith("Application Data"):
            count = int(last.get("count", 1)) + 1
            last.update(count=count, name=f"Application Data x{count}")
            continue
        out.append(step)
    return out


def svg(ladder: list[dict], client: str = "client", server: str = "server") -> str:
    """An SVG of the ladder, standalone (it can sit inside HTML as it is)."""
    esc = html.escape
    height = TOP + ROW * max(len(ladder), 1) + 16
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
             f"font-family='sans-serif' font-size='11' role='img' aria-label='handshake ladder'>",
             "<defs><marker id='arrow' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
             "<path d='M0,0 L8,4 L0,8 z' fill='context-stroke'/></marker></defs>",
             f"<text x='{LEFT}' y='14' text-anchor='middle' font-weight='bold'>{esc(client)}</text>",
             f"<text x='{RIGHT}' y='14' text-anchor='middle' font-weight='bold'>{esc(server)}</text>",
             f"<line x1='{LEFT}' y1='20' x2='{LEFT}' y2='{height - 6}' stroke='#999'/>",
             f"<line x1='{RIGHT}' y1='20' x2='{RIGHT}' y2='{height - 6}' stroke='#999'/>"]
    for i, s in enumerate(ladder):
        y = TOP + ROW * i
        if s["from"] is None:   # a divider: a new connection begins
            parts.append(f"<text x='{(LEFT + RIGHT) // 2}' y='{y}' text-anchor='middle' fill='#777' "
                         f"font-style='italic'>{esc(s['name'])}</text>")
            continue
        x1, x2 = (LEFT, RIGHT) if s["from"] == "client" else (RIGHT, LEFT)
        colour = COLOURS.get(s.get("mark"), COLOURS[None])
        weight = "bold" if s.get("mark") else "normal"
        dash = " stroke-dasharray='5,3'" if s.get("encrypted") else ""
        label = s["name"] + (" (encrypted)" if s.get("encrypted") else "")
        parts.append(f"<line x1='{x1}' y1='{y}' x2='{x2}' y2='{y}' stroke='{colour}' stroke-width='1.5'{dash} "
                     "marker-end='url(#arrow)'/>")
        parts.append(f"<text x='{(LEFT + RIGHT) // 2}' y='{y - 4}' text-anchor='middle' fill='{colour}' "
                     f"font-weight='{weight}'>{esc(label)}</text>")
    parts.append("</svg>")
    return "".join(parts)
