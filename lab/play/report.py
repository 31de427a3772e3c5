"""Rendering a matrix: Markdown and HTML, from the results.json document (paths relative to the
report's folder). A header with the date, the command line and the counts; the cells that failed
or could not run first; then one table per role (server stacks for the client-role scenarios,
client programs for the server-role ones), each column naming the stack, its version and its
role, each cell the observed outcome coloured by its verdict and linked to its pcap and to its
ladder diagram; the certificate-choice view (``choiceview``); then the scenarios where stacks
really disagree (outcome or alert)."""
from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from lab.dissect.ladder import svg
from lab.play import choiceview

ROLES = (("server", "certlab as the client: server stacks"), ("client", "certlab as the server: client programs"))
VERDICT_TEXT = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skip": "n/a"}


def cell_text(r: dict[str, Any]) -> str:
    o = r.get("observed") or {}
    if r["verdict"] == "skip":
        return "n/a"
    if r["verdict"] == "error" and not o:
        return "error"
    text = o.get("outcome") or "?"
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


def _anchor(r: dict[str, Any]) -> str:
    return f"cell-{r['scenario']}-{r['stack']}-{r['tls_version']}-{r.get('role', 'server')}"


def _tables(results: list[dict[str, Any]]):
    """Per role: (columns [(stack, version)], rows {(scenario, version): {stack: result}})."""
    out = []
    for role, title in ROLES:
        mine = [r for r in results if r.get("role", "server") == role]
        if not mine:
            continue
        versions = {}
        rows: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
        for r in mine:
            versions.setdefault(r["stack"], r.get("version") or ("your server" if ":" in r["stack"] else "unknown"))
            rows[(r["scenario"], r["tls_version"])][r["stack"]] = r
        out.append((role, title, sorted(versions.items()), rows))
    return out


def _grid(stacks: list[tuple[str, str]], rows: dict):
    """(scenario, TLS version, [(stack, result or None)]) per table row, in order."""
    for (sid, v), cells in sorted(rows.items()):
        yield sid, v, [(s, cells.get(s)) for s, _ in stacks]


def disagreements(results: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], list[str], str]]:
    """(scenario, version, {stack: observed}, expected, rfc) where stacks that ran the scenario
    ended differently: another outcome or another alert (wording and timing aside)."""
    out = []
    for _, _, _, rows in _tables(results):
        for (sid, v), cells in sorted(rows.items()):
            ran = {s: r for s, r in cells.items() if r["verdict"] in ("pass", "fail") and r.get("observed")}
            kinds = {(r["observed"].get("outcome"), r["observed"].get("alert")) for r in ran.values()}
            if len(kinds) > 1:
                any_r = next(iter(cells.values()))
                out.append((sid, v, {s: cell_text(r) for s, r in ran.items()}, any_r["expected"], any_r["rfc"]))
    return out


def _header(results: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    c = meta.get("counts", {})
    counts = f"{len(results)} cells: {c.get('pass', 0)} pass, {c.get('fail', 0)} fail, {c.get('skip', 0)} n/a, " \
             f"{c.get('error', 0)} error"
    lines = [counts]
    if meta.get("date"):
        lines.append(f"Run on {meta['date']}")
    if meta.get("command"):
        lines.append(f"Command: {meta['command']}")
    return lines


def _problems(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"error": 0, "fail": 1}
    return sorted((r for r in results if r["verdict"] in order),
                  key=lambda r: (order[r["verdict"]], r["scenario"], r["stack"], r["tls_version"]))


def _why(r: dict[str, Any]) -> str:
    if r["verdict"] == "error":
        return r.get("reason") or (r.get("observed") or {}).get("reason") or "?"
    told = [h for h in (r.get("observed") or {}).get("forwarded") or () if "client" in h.split(":", 1)[0].lower()]
    saw = f"; the application behind it was told: {'; '.join(told) or 'no client identity header'}" \
        if (r.get("observed") or {}).get("forwarded") is not None else ""
    found = (r.get("observed") or {}).get("client_errors") or ()
    noted = f"; certlab's server found: {'; '.join(found)}" if found else ""
    return f"{cell_text(r)}{saw}{noted}; acceptable: {' or '.join(r['expected'])} ({r['rfc']})"


def markdown_report(results: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    meta = meta or {}
    lines = ["# certlab matrix", "", *(f"{line}  " for line in _header(results, meta)), "",
             "Cells: what the stack did (**FAIL**: not one of the RFC's acceptable outcomes; **ERROR**: the cell "
             "could not run, with its reason; n/a: the stack declares it cannot run it). Each links to its pcap.", ""]
    problems = _problems(results)
    if problems:
        lines += ["## Failures and errors first", ""]
        for r in problems:
            link = f" ([pcap]({r['pcap']}))" if r.get("pcap") else ""
            lines.append(f"- **{VERDICT_TEXT[r['verdict']]}** {r['scenario']} [{r['stack']} {r.get('role')}, "
                         f"TLS {r['tls_version']}]: {_why(r)}{link}")
        lines.append("")
    for _, title, stacks, rows in _tables(results):
        lines += [f"## {title}", "",
                  "| scenario | TLS | " + " | ".join(f"{s} ({v})" for s, v in stacks) + " |",
                  "|---|---|" + "---|" * len(stacks)]
        for sid, v, cells in _grid(stacks, rows):
            row = []
            for _, r in cells:
                if r is None:
                    row.append("")
                    continue
                mark = {"pass": "", "fail": "**FAIL** ", "error": "**ERROR** ", "skip": ""}[r["verdict"]]
                text = f"{mark}{cell_text(r)}".replace("|", "\\|")
                row.append(f"[{text}]({r['pcap']})" if r.get("pcap") else text)
            lines.append(f"| {sid} | {v} | " + " | ".join(row) + " |")
        lines.append("")
    lines += choiceview.markdown(results, meta.get("holds"))
    lines += ["## Where stacks disagree", ""]
    for sid, v, seen, expected, rfc in disagreements(results):
        lines.append(f"- **{sid}** (TLS {v}; {rfc}; acceptable: {' or '.join(expected)}): "
                     + "; ".join(f"{s}: {t}" for s, t in sorted(seen.items())))
    return "\n".join(lines) + "\n"


def html_report(results: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    meta = meta or {}
    esc = html.escape
    colors = {"pass": "#d9f2d9", "fail": "#f8d0d0", "error": "#f3e0a0", "skip": "#eeeeee"}
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>certlab matrix</title><style>",
           "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
           "td,th{border:1px solid #999;padding:3px 6px;vertical-align:top} th{background:#ddd} "
           "th small{font-weight:normal} .ladder{margin:6px 0 12px 0}",
           "</style></head><body><h1>certlab matrix</h1>",
           "".join(f"<p class='meta'>{esc(line)}</p>" for line in _header(results, meta)),
           "<p>Green: one of the RFC's acceptable outcomes; red: not; yellow: the cell could not run (the reason "
           "is in its tooltip and below); grey: the stack declares it cannot run it. Each cell links to its pcap "
           "(key log embedded) and its ladder diagram.</p>"]
    problems = _problems(results)
    if problems:
        out.append("<h2 id='problems'>Failures and errors first</h2><ul>")
        for r in problems:
            link = f" (<a href='{esc(r['pcap'])}'>pcap</a>)" if r.get("pcap") else ""
            out.append(f"<li class='{r['verdict']}'><b>{VERDICT_TEXT[r['verdict']]}</b> {esc(r['scenario'])} "
                       f"[{esc(r['stack'])} {esc(r.get('role') or '')}, TLS {esc(r['tls_version'])}]: "
                       f"{esc(_why(r))}{link}</li>")
        out.append("</ul>")
    for role, title, stacks, rows in _tables(results):
        out.append(f"<h2>{esc(title)}</h2><table><tr><th>scenario</th><th>TLS</th>" + "".join(
            f"<th>{esc(s)}<br><small>{esc(v)}</small><br><small>{esc(role)}</small></th>" for s, v in stacks)
            + "</tr>")
        for sid, v, cells in _grid(stacks, rows):
            tds = []
            for s, r in cells:
                if r is None:
                    tds.append("<td></td>")
                    continue
                text = esc(cell_text(r))
                title_text = esc(r.get("reason") or f"expected: {' or '.join(r['expected'])} ({r['rfc']})")
                inner = f"<a href='{esc(r['pcap'])}'>{text}</a>" if r.get("pcap") else text
                if r.get("ladder"):
                    inner += f" <a href='#{esc(_anchor(r))}' title='ladder diagram'>&#8597;</a>"
                tds.append(f"<td class='{r['verdict']}' data-stack='{esc(s)}' data-role='{esc(role)}' "
                           f"style='background:{colors[r['verdict']]}' title='{title_text}'>{inner}</td>")
            out.append(f"<tr><td>{esc(sid)}</td><td>{esc(v)}</td>{''.join(tds)}</tr>")
        out.append("</table>")
    out += choiceview.html_table(results, colors)
    out.append("<h2>Where stacks disagree</h2><ul>")
    for sid, v, seen, expected, rfc in disagreements(results):
        items = "; ".join(f"{esc(s)}: {esc(t)}" for s, t in sorted(seen.items()))
        out.append(f"<li><b>{esc(sid)}</b> (TLS {esc(v)}; {esc(rfc)}; acceptable: "
                   f"{esc(' or '.join(expected))}): {items}</li>")
    out.append("</ul><h2>Ladder diagrams</h2>")
    for r in results:
        if r.get("ladder"):
            who = ("certlab", r["stack"]) if r.get("role", "server") == "server" else (r["stack"], "certlab")
            out.append(f"<div class='ladder' id='{esc(_anchor(r))}'><h3>{esc(r['scenario'])} "
                       f"[{esc(r['stack'])}, TLS {esc(r['tls_version'])}]: {esc(cell_text(r))}</h3>"
                       f"{svg(r['ladder'], *who)}</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
