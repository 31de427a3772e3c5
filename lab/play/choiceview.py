"""The certificate-choice view of a matrix: for the scenarios where the client holds
``lab.pki.WALLET`` (``should`` set), rows are requests, columns are client programs, each cell the
certificate the client sent (or an empty Certificate, or what happened instead), beside what the
RFC's SHOULD points to. A choice outside the MUST is a FAIL like any other cell; one that keeps the
MUST but not the SHOULD is marked "not the SHOULD"."""
from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

SHOULD_NONE = "none of them: an empty Certificate"


def sent(r: dict[str, Any]) -> str:
    """What the client sent: the certificate's name, "empty", or the outcome when it sent neither."""
    from lab.play.report import cell_text
    o = r.get("observed") or {}
    if o.get("client_choice"):
        return o["client_choice"]
    if o.get("client_certificate") == "empty":
        return "empty"
    if o.get("client_certificate") == "none" and o.get("outcome") not in ("error", None):
        return f"no Certificate message ({cell_text(r)})"
    return cell_text(r)


def mark(r: dict[str, Any]) -> str:
    """"" (the SHOULD kept), "FAIL", "ERROR", "n/a", or "not the SHOULD"."""
    if r["verdict"] != "pass":
        return {"fail": "FAIL", "error": "ERROR", "skip": "n/a"}[r["verdict"]]
    should = r.get("should") or ()
    choice = (r.get("observed") or {}).get("client_choice")
    if (choice and choice in should) or (not should and not choice):
        return ""
    return "not the SHOULD"


def should_text(should) -> str:
    return ", ".join(should) if should else SHOULD_NONE


def choice_rows(results: list[dict[str, Any]]):
    """(clients [(stack, version)], [(scenario, tls, should, {stack: result})]) for the choice scenarios."""
    mine = [r for r in results if r.get("should") is not None and r.get("role") == "client"]
    clients = sorted({r["stack"]: r.get("version") or "unknown" for r in mine}.items())
    rows: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in mine:
        rows[(r["scenario"], r["tls_version"])][r["stack"]] = r
    return clients, [(sid, v, next(iter(cells.values()))["should"], cells) for (sid, v), cells in sorted(rows.items())]


def _grid(clients, rows):
    """(scenario, TLS, should, [(result or None, its mark)]) per row, a cell per client."""
    for sid, v, should, cells in rows:
        yield sid, v, should, [(cells.get(s), mark(cells[s]) if s in cells else "") for s, _ in clients]


def markdown(results: list[dict[str, Any]], holds: dict[str, str] | None = None) -> list[str]:
    clients, rows = choice_rows(results)
    if not rows:
        return []
    lines = ["## Which certificate each client sent", "",
             "The client holds the lab's wallet (client, other-client, client-p256, client-chained, "
             "client-eku-server) or as much of it as it can hold; each row is one CertificateRequest.", ""]
    if holds:
        lines += [f"- {s}: holds {holds[s]}" for s, _ in clients if s in holds] + [""]
    lines += ["| request | TLS | the RFC's SHOULD | " + " | ".join(f"{s} ({v})" for s, v in clients) + " |",
              "|---|---|---|" + "---|" * len(clients)]
    for sid, v, should, cells in _grid(clients, rows):
        row = []
        for r, m in cells:
            text = "" if r is None else \
                (f"**{m}** " if m in ("FAIL", "ERROR") else "") + sent(r) + (f" ({m})" if m == "not the SHOULD" else "")
            row.append(text.replace("|", "\\|"))
        lines.append(f"| {sid} | {v} | {should_text(should)} | " + " | ".join(row) + " |")
    return lines + [""]


def html_table(results: list[dict[str, Any]], colors: dict[str, str]) -> list[str]:
    clients, rows = choice_rows(results)
    if not rows:
        return []
    esc = html.escape
    out = ["<h2 id='choice'>Which certificate each client sent</h2><p>Each row is one CertificateRequest; the "
           "client holds the lab's wallet, or as much of it as it can. Orange: the MUST kept, not the SHOULD.</p>",
           "<table><tr><th>request</th><th>TLS</th><th>the RFC's SHOULD</th>"
           + "".join(f"<th>{esc(s)}<br><small>{esc(v)}</small></th>" for s, v in clients) + "</tr>"]
    for sid, v, should, cells in _grid(clients, rows):
        tds = []
        for r, m in cells:
            if r is None:
                tds.append("<td></td>")
                continue
            color = "#fbe3c0" if m == "not the SHOULD" else colors[r["verdict"]]
            tip = esc(f"expected: {' or '.join(r['expected'])} ({r['rfc']})")
            tds.append(f"<td class='{r['verdict']}' style='background:{color}' title='{tip}'>{esc(sent(r))}"
                       + (f" <small>({esc(m)})</small>" if m else "") + "</td>")
        out.append(f"<tr><td>{esc(sid)}</td><td>{esc(v)}</td><td>{esc(should_text(should))}</td>{''.join(tds)}</tr>")
    return out + ["</table>"]
