"""``certlab probe`` over many targets and server names at once (``--targets``, ``--sni a,b``,
``--jobs``): each (target, name) probed as ``lab.tools.probe`` does, concurrently, and where the
CA names a server sends differ between the names it serves (the vhost trap: one name asks for
the partner CA, another for the staff CA, and the client holding a certificate of either sends
it only where it is named)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lab.play.target import address_label
from lab.tools.probe import Identity, NotATLSServer, probe_target
from lab.transport import PeerUnreachable


def _one(address: tuple[str, int], name: str | None, versions: list[str], yours: Identity | None,
         starttls: str | None, timeout: float) -> dict[str, Any]:
    try:
        return probe_target(address, name, versions, yours, starttls, timeout)
    except (PeerUnreachable, NotATLSServer) as exc:
        return {"target": address_label(*address), "server_name": name, "error": str(exc)}


def probe_fleet(addresses: list[tuple[str, int]], names: list[str | None], versions: list[str],
                yours: Identity | None, starttls: str | None, timeout: float, jobs: int) -> dict[str, Any]:
    """``{"targets": [one probe result, or {"target", "server_name", "error"}], "sni_differences":
    [...]}``, the targets in the order given, each name in the order given."""
    work = [(a, n) for a in addresses for n in names]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda w: _one(w[0], w[1], versions, yours, starttls, timeout), work))
    return {"targets": results, "sni_differences": sni_differences(results)}


def sni_differences(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each target and version where the names' CertificateRequests name different CAs:
    ``{"target", "tls_version", "certificate_authorities": {name: [CA, ...]}}``."""
    by_target: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if "error" not in r:
            by_target.setdefault(r["target"], []).append(r)
    out = []
    for target, rs in by_target.items():
        if len(rs) < 2:
            continue
        for v in rs[0]["versions"]:
            cas = {r["server_name"] or "(none)": r["versions"][v]["policy"].get("certificate_authorities")
                   for r in rs if v in r["versions"]}
            asked = {n: c for n, c in cas.items() if c is not None}
            if len({tuple(c) for c in asked.values()}) > 1:
                out.append({"target": target, "tls_version": v, "certificate_authorities": asked})
    return out


def fleet_text(fleet: dict[str, Any]) -> str:
    """One line per target, name and version: the policy, then the CA names; errors and the
    per-name differences after."""
    rows = []
    for r in fleet["targets"]:
        where = r["target"] + (f" ({r['server_name']})" if r.get("server_name") else "")
        if "error" in r:
            rows.append(f"{where}  ERROR  {r['error']}")
            continue
        for v, res in r["versions"].items():
            pol = res["policy"]
            if not pol.get("supported", True):
                state = "not offered"
            elif pol.get("requests_certificate") == ["never"]:
                state = "none"
            else:
                state = ("required" if pol.get("required") else "optional") + " (" + ", ".join(
                    w.replace("_", "-") for w in pol["requests_certificate"]) + ")"
            cas = pol.get("certificate_authorities")
            names = "" if cas is None or state in ("none", "not offered") else \
                "  CAs: " + ("; ".join(cas) if cas else "any (empty list)")
            fp = r.get("fingerprint")
            like = f"  ~{'/'.join(fp['stacks'])} ({fp['confidence']:.0%})" if fp and v == next(iter(r["versions"])) \
                else ""
            rows.append(f"{where}  TLS {v}  {state}{names}{like}")
    for d in fleet["sni_differences"]:
        rows.append(f"CA names differ by SNI on {d['target']} TLS {d['tls_version']}: " + "; ".join(
            f"{n} -> {', '.join(c) or 'any'}" for n, c in d["certificate_authorities"].items()))
    return "\n".join(rows)
