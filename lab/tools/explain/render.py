"""``certlab explain`` as Markdown or HTML (one section per step, checks marked)."""
from __future__ import annotations

import html as _html

from lab.tools.explain.walk import Step, message_lines


def markdown(steps: list[Step], header: str) -> str:
    out = [f"# {header}", ""]
    for s in steps:
        out += [f"## Step {s.number}. {s.title}", "", s.story, ""]
        for m in s.messages:
            out += ["```", *message_lines(m), "```", ""]
        out += [f"- {f}" for f in s.facts]
        out += [f"- **{'OK' if c.ok else 'FAILED'}**: {c.claim}" + (f" (`{c.detail}`)" if c.detail else "")
                for c in s.checks]
        out.append("")
    return "\n".join(out) + "\n"


def html(steps: list[Step], header: str, ladder_svg: str = "") -> str:
    """The walk-through; ``ladder_svg`` (``lab.dissect.ladder.svg``) is drawn above the steps."""
    e = _html.escape
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>certlab explain</title><style>"
           "body{font-family:sans-serif;max-width:60em;margin:auto} pre{background:#f4f4f4;padding:.5em;"
           "overflow-x:auto} .ok{color:#070} .failed{color:#b00;font-weight:bold}</style></head><body>",
           f"<h1>{e(header)}</h1>"]
    if ladder_svg:
        out.append(f"<figure>{ladder_svg}<figcaption>The handshake as captured: dashed arrows are "
                   "encrypted, the client-authentication messages are in colour.</figcaption></figure>")
    for s in steps:
        out.append(f"<section id='step{s.number}'><h2>Step {s.number}. {e(s.title)}</h2><p>{e(s.story)}</p>")
        for m in s.messages:
            out.append("<pre>" + e("\n".join(message_lines(m))) + "</pre>")
        if s.facts or s.checks:
            out.append("<ul>" + "".join(f"<li>{e(f)}</li>" for f in s.facts)
                       + "".join(f"<li class='{'ok' if c.ok else 'failed'}'>{'OK' if c.ok else 'FAILED'}: "
                                 f"{e(c.claim)}{' (' + e(c.detail) + ')' if c.detail else ''}</li>" for c in s.checks)
                       + "</ul>")
        out.append("</section>")
    return "\n".join(out) + "\n</body></html>\n"
