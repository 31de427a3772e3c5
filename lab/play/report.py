"""Rendering a matrix: Markdown and HTML tables of scenarios x stacks (each cell the observed
outcome, coloured by its verdict against the RFC and linked to its pcap), and the list of
scenarios where stacks disagree, with what the RFC requires."""
from __future__ import annotations

import html
from collections import defaultdict
from typing import Any


def cell_text(r: dict[str, Any]) -> str:
    o = r.get("observed") or {}
    if r["verdict"] == "skip":
        return "n/a"
    text = o.get("outcome", "?")
    if o.get("alert"):
        text = f"alert {o['alert']} ({o.get('alert_code')})"
    if o.get("http_status"):
        text += f" HTTP {o['http_status']}"
    if o.get("client_certificate") and o["client_certificate"] != "none":
        text += f", cert {o['client_certificate']}"
    when = o.get("when")
    if when and text.startswith("alert"):
        text += f" {when.replace('_', ' ')}"
    if o.get("outcome") == "client_error" and o.get("client_failed"):
        text += f", client failed {o['client_failed']}"
    return text


def _table(results: list[dict[str, Any]]):
    stacks = sorted({r["stack"] for r in results})
    rows: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in results:
        rows[(r["scenario"], r["tls_version"])][r["stack"]] = r
    return stacks, rows


def disagreements(results: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], list[str], str]]:
    """(scenario, version, {stack: observed}, expected, rfc) where stacks behave differently."""
    _, rows = _table(results)
    out = []
    for (sid, v), cells in sorted(rows.items()):
        seen = {s: cell_text(r) for s, r in cells.items() if r["verdict"] != "skip"}
        if len(set(seen.values())) > 1:
            any_r = next(iter(cells.values()))
            out.append((sid, v, seen, any_r["expected"], any_r["rfc"]))
    return out


def markdown_report(results: list[dict[str, Any]]) -> str:
    stacks, rows = _table(results)
    counts = defaultdict(int)
    for r in results:
        counts[r["verdict"]] += 1
    lines = ["# certlab matrix", "",
             f"{len(results)} cells: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())), "",
             "Cells: what the stack did (PASS/FAIL against the RFC's acceptable outcomes; n/a: the stack "
             "cannot run it).", "",
             "| scenario | TLS | " + " | ".join(stacks) + " |", "|---|---|" + "---|" * len(stacks)]
    for (sid, v), cells in sorted(rows.items()):
        row = []
        for s in stacks:
            r = cells.get(s)
            if r is None:
                row.append("")
                continue
            mark = {"pass": "", "fail": "**FAIL** ", "error": "**ERROR** ", "skip": ""}[r["verdict"]]
            text = f"{mark}{cell_text(r)}"
            row.append(f"[{text}]({r['pcap']})" if r.get("pcap") else text)
        lines.append(f"| {sid} | {v} | " + " | ".join(row) + " |")
    lines += ["", "## Where stacks disagree", ""]
    for sid, v, seen, expected, rfc in disagreements(results):
        lines.append(f"- **{sid}** (TLS {v}; {rfc}; acceptable: {' or '.join(expected)}): "
                     + "; ".join(f"{s}: {t}" for s, t in sorted(seen.items())))
    return "\n".join(lines) + "\n"


def html_report(results: list[dict[str, Any]]) -> str:
    stacks, rows = _table(results)
    esc = html.escape
    colors = {"pass": "#d9f2d9", "fail": "#f8d0d0", "error": "#f3e0a0", "skip": "#eeeeee"}
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>certlab matrix</title><style>",
           "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
           "td,th{border:1px solid #999;padding:3px 6px;vertical-align:top} th{background:#ddd}",
           "</style></head><body><h1>certlab matrix</h1>",
           f"<p>{len(results)} cells. Green: the RFC's acceptable outcome; red: not; grey: the stack cannot "
           "run it. Each cell links to its pcap (key log embedded).</p>",
           "<table><tr><th>scenario</th><th>TLS</th>" + "".join(f"<th>{esc(s)}</th>" for s in stacks) + "</tr>"]
    for (sid, v), cells in sorted(rows.items()):
        tds = []
        for s in stacks:
            r = cells.get(s)
            if r is None:
                tds.append("<td></td>")
                continue
            text = esc(cell_text(r))
            title = esc(r.get("reason") or f"expected: {' or '.join(r['expected'])} ({r['rfc']})")
            inner = f"<a href='{esc(r['pcap'])}'>{text}</a>" if r.get("pcap") else text
            tds.append(f"<td class='{r['verdict']}' data-stack='{esc(s)}' style='background:{colors[r['verdict']]}' "
                       f"title='{title}'>{inner}</td>")
        out.append(f"<tr><td>{esc(sid)}</td><td>{esc(v)}</td>{''.join(tds)}</tr>")
    out.append("</table><h2>Where stacks disagree</h2><ul>")
    for sid, v, seen, expected, rfc in disagreements(results):
        items = "; ".join(f"{esc(s)}: {esc(t)}" for s, t in sorted(seen.items()))
        out.append(f"<li><b>{esc(sid)}</b> (TLS {esc(v)}; {esc(rfc)}; acceptable: "
                   f"{esc(' or '.join(expected))}): {items}</li>")
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"
