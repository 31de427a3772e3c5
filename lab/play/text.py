"""Results as text: the JSON document of the README or two lines per cell for people (``certlab
run``, ``certlab serve`` and the shell print these)."""
from __future__ import annotations

import json

from lab.play.observed import CellResult
from layers.registry import ALERT_NAMES


def render(results: list[CellResult], as_json: bool, holdings: bool = False) -> str:
    """``CellResult``s as JSON (the README's contract) or as two lines each for people;
    ``holdings``: and a line per certificate the client held (``serve --holds``)."""
    if as_json:
        return json.dumps({"results": [r.to_json() for r in results]}, indent=2)
    lines = []
    for r in results:
        o = r.observed
        what = o.outcome if o else "not run"
        if o and o.alert:
            what += f" {o.alert} ({o.alert_code}, {o.alert_level}) from {o.alert_from}"
        if o and o.server_alert is not None:
            what += f" after certlab sent {ALERT_NAMES.get(o.server_alert, o.server_alert)} ({o.server_alert})"
        if o and o.client_certificate:
            what += f", client certificate {o.client_certificate}"
        if o and o.client_choice:
            what += f" ({o.client_choice})"
        if o and o.client_exit is not None:
            what += f", client exit {o.client_exit}"
        if o and o.client_failed:
            what += f" ({o.client_failed})"
        if o and o.http_status:
            what += f" HTTP {o.http_status}"
        if o and o.when:
            what += f", {o.when.replace('_', ' ')}"
        lines.append(f"{r.verdict.upper():5} {r.scenario} [{r.stack}, TLS {r.tls_version}]: {what}")
        lines.append(f"      expected: {' or '.join(r.expected)}  ({r.rfc})")
        if o and o.forwarded:   # what the application behind a proxy was told about the client
            told = [h for h in o.forwarded if "client" in h.split(":", 1)[0].lower()]
            lines.append(f"      backend saw: {'; '.join(told) or 'no client identity header'}")
        if o and o.server_errors:
            lines.append(f"      server errors: {'; '.join(o.server_errors)}")
        if o and o.client_errors:
            lines.append(f"      client errors: {'; '.join(o.client_errors)}")
        for h in (o.holdings or ()) if o and holdings else ():   # serve --holds: each certificate against the request
            named = {None: "the request names no CA", True: "issued under a CA the request names (SHOULD)",
                     False: "not issued under any CA the request names"}[h["named"]]
            sent = " <- sent" if o.client_choice == h["name"] else ""
            lines.append(f"      holds {h['name']}: {'allowed' if h['fits'] else 'not allowed: ' + h['why']}; "
                         f"{named}{sent}")
        if r.pcap:
            lines.append(f"      pcap: {r.pcap}")
        if r.reason:
            lines.append(f"      {r.reason}")
        elif o and o.reason and o.outcome in ("success", "app_rejected"):   # what the answer was, or was not
            lines.append(f"      note: {o.reason}")
        elif o and o.reason:                # why it ended in an error, a timeout or a close
            lines.append(f"      why: {o.reason}")
        if o and o.cut:
            lines.append(f"      note: {o.cut}")
    return "\n".join(lines)
