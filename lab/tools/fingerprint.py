"""Which stack a server most resembles, from what ``certlab probe`` sees: per TLS version, how it
answers no certificate and an untrusted one (the alert, or a completed handshake and an HTTP
status), when it answers, and the signature schemes its CertificateRequest lists (each library
has its own list). The reference is measured, never written by hand: ``certlab probe
--learn-fingerprints FILE`` probes every installed managed server stack (client certificate
required) and writes their features; ``lab/tools/fingerprints.json`` is that file as this machine
kind measured it, and a test measures the stacks again and compares."""
from __future__ import annotations

import json
import os
from typing import Any

from lab.children import scratch_folder

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fingerprints.json")
VERSIONS = ("1.2", "1.3")


def features(result: dict[str, Any]) -> dict[str, str]:
    """The comparable facts of one probe result (``lab.tools.probe.probe``)."""
    out: dict[str, str] = {}
    for v, res in result.get("versions", {}).items():
        pol = res["policy"]
        if not pol.get("supported", True):
            out[f"{v} offered"] = "no"
            continue
        out[f"{v} offered"] = "yes"
        by = {a["identity"]: a for a in res["attempts"]}
        for who in ("none", "self-signed"):
            a = by.get(who)
            if a is not None:
                out[f"{v} {who}"] = " ".join(str(x) for x in (a["outcome"], a.get("alert") or a.get("http_status") or "",
                                                              a.get("when") or "") if x != "").strip()
        if pol.get("signature_algorithms"):
            out[f"{v} schemes"] = ",".join(pol["signature_algorithms"])
    return out


def match(observed: dict[str, str], table: dict[str, Any]) -> dict[str, Any] | None:
    """The stacks whose features agree most with ``observed``: ``{"stacks": [best...], "matched",
    "of", "confidence", "runner_up"}``; None when nothing can be compared."""
    scores = []
    for stack, ref in table.get("stacks", {}).items():
        shared = [k for k in observed if k in ref["features"]]
        if shared:
            same = sum(observed[k] == ref["features"][k] for k in shared)
            scores.append((same / len(shared), same, len(shared), stack))
    if not scores:
        return None
    scores.sort(key=lambda s: (-s[0], s[3]))
    best = scores[0][0]
    top = [s for s in scores if s[0] == best]
    rest = [s for s in scores if s[0] < best]
    return {"stacks": [s[3] for s in top], "matched": top[0][1], "of": top[0][2], "confidence": round(best, 2),
            "runner_up": {"stack": rest[0][3], "confidence": round(rest[0][0], 2)} if rest else None,
            "reference": table.get("measured")}


def load(path: str | None = None) -> dict[str, Any]:
    try:
        with open(path or REFERENCE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def learn(stacks: list[str] | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """Probe every installed managed server stack (or ``stacks``), client certificate required,
    in each TLS version it runs: their features, keyed by stack."""
    import datetime as dt
    import shutil
    from lab.peers.registry import SERVER_PROGRAMS, installed, stack_version
    from lab.peers.servers import server_classes
    from lab.pki import Pki
    from lab.tools.probe import probe
    classes = server_classes()
    out: dict[str, Any] = {"measured": dt.date.today().isoformat(), "stacks": {}}
    work = scratch_folder("fingerprints")
    try:
        pki = Pki.create(os.path.join(work, "pki"))
        for stack in stacks or installed(SERVER_PROGRAMS):
            if classes[stack].starttls:   # behind a protocol's preamble: probe speaks TLS from the first byte
                continue
            merged: dict[str, str] = {}
            for v in VERSIONS:
                peer = classes[stack](pki, v, "required", work)
                if not peer.supports("required"):
                    continue
                with peer:
                    merged.update(features(probe("127.0.0.1", peer.port, [v], None, "localhost", timeout)))
            out["stacks"][stack] = {"version": stack_version(stack), "features": merged}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def describe(fp: dict[str, Any] | None) -> str:
    if not fp:
        return "resembles: unknown (no reference to compare with)"
    names = " or ".join(fp["stacks"])
    tie = " (indistinguishable by these features)" if len(fp["stacks"]) > 1 else ""
    runner = f"; next {fp['runner_up']['stack']} ({fp['runner_up']['confidence']:.0%})" if fp["runner_up"] else ""
    return (f"resembles: {names}{tie}, {fp['matched']} of {fp['of']} features alike "
            f"({fp['confidence']:.0%}){runner}")
