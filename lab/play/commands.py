"""``certlab list`` and ``certlab run``: scenarios against real server stacks."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from lab.peers.process import PeerUnavailable
from lab.peers.servers import server_classes
from lab.pki import Pki
from lab.play.conversation import Setup, run_scenario
from lab.script.dsl import REGISTRY, Scenario
from lab.transport import PeerUnreachable, SocketTransport

STACK_PROGRAMS = {"openssl": "openssl", "python": None, "nginx": "nginx", "gnutls": "gnutls-serv",
                  "nss": "selfserv", "java": "javac", "go": "go"}


class UsageError(Exception):
    pass


def list_text() -> str:
    import scenarios  # noqa: F401  (registers the scenarios)
    lines = ["Scenarios:"]
    for sc in sorted(REGISTRY.values(), key=lambda s: (s.row, s.id)):
        lines.append(f"  {sc.id:36} {sc.row:8} TLS {','.join(sorted(sc.versions)):8} {sc.rfc}")
        lines.append(f"  {'':36} {sc.summary}")
    lines.append("")
    lines.append("Stacks (server role):")
    for name, prog in sorted(STACK_PROGRAMS.items()):
        found = prog is None or shutil.which(prog) or os.path.exists(f"/usr/sbin/{prog}")
        state = "built in" if prog is None else ("installed" if found else "missing (run scripts/setup)")
        lines.append(f"  {name:10} {state}")
    return "\n".join(lines)


def skip_reason(peer, sc: Scenario) -> str | None:
    """Why this stack cannot run this scenario at all (a missing mode or feature), or None."""
    if not peer.supports(sc.server_mode):
        return f"{peer.name} has no {sc.server_mode} mode in TLS {peer.version}"
    for tag in sorted(sc.tags):
        if tag in peer.lacks:
            return peer.lacks[tag]
    return None


def _versions(sc: Scenario, wanted: str | None) -> list[str]:
    return [v for v in sorted(sc.versions) if wanted in (None, v)]


def run(ids: list[str], stack: str, tls: str | None, pcap_dir: str | None, pki_dir: str | None,
        timeout: float = 3.0) -> list[dict[str, Any]]:
    import scenarios  # noqa: F401
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r}; `certlab list` shows them")
    servers = server_classes()
    if stack not in servers and any(REGISTRY[i].role != "server" for i in ids):
        raise UsageError(f"unknown stack {stack!r}; choose one of {', '.join(sorted(servers))}")
    work = tempfile.mkdtemp(prefix="certlab-run-")
    try:
        pki = Pki.ensure(pki_dir or os.path.join(work, "pki"))
        results = []
        for sid in ids:
            sc = REGISTRY[sid]
            versions = _versions(sc, tls)
            if not versions:
                raise UsageError(f"{sid} does not apply to TLS {tls} (it covers {', '.join(sorted(sc.versions))})")
            for v in versions:
                peer = _client(sc, stack, pki, v, work) if sc.role == "server" else \
                    servers[stack](pki, v, sc.server_mode, work)
                reason = skip_reason(peer, sc)
                if reason:
                    results.append(skipped(sc, stack, v, reason))
                elif sc.role == "server":
                    from lab.play.server import run_server_scenario
                    results.append(run_server_scenario(sc, Setup(pki, v), peer, stack, pcap_dir=pcap_dir,
                                                       timeout=timeout))
                else:
                    with peer:
                        results.append(run_scenario(sc, Setup(pki, v),
                                                    lambda: SocketTransport("127.0.0.1", peer.port), stack,
                                                    pcap_dir=pcap_dir, timeout=timeout, hooks=peer.hooks()))
        return results
    except (PeerUnavailable, PeerUnreachable) as exc:
        raise UsageError(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _client(sc: Scenario, stack: str, pki: Pki, version: str, work: str):
    from lab.peers.clients import CLIENTS, client_for
    if stack not in CLIENTS:
        raise UsageError(f"{sc.id} needs a client stack: one of {', '.join(sorted(CLIENTS))}")
    return client_for(stack, sc, pki, version, work)


def skipped(sc: Scenario, stack: str, version: str, reason: str) -> dict[str, Any]:
    """The result of a cell this stack cannot run."""
    return {"scenario": sc.id, "stack": stack, "tls_version": version, "verdict": "skip", "observed": {},
            "expected": sc.expect(version).describe(), "rfc": sc.rfc, "row": sc.row, "reason": reason, "pcap": None}


def render(results: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps({"results": results}, indent=2)
    lines = []
    for r in results:
        o = r["observed"]
        what = o.get("outcome", "-")
        if o.get("alert"):
            what += f" {o['alert']} ({o.get('alert_code')}, {o.get('alert_level')}) from {o.get('alert_from')}"
        if o.get("client_certificate"):
            what += f", client certificate {o['client_certificate']}"
        if o.get("client_exit") is not None:
            what += f", client exit {o['client_exit']}"
        if o.get("client_failed"):
            what += f" ({o['client_failed']})"
        if o.get("http_status"):
            what += f" HTTP {o['http_status']}"
        if o.get("when"):
            what += f", {o['when'].replace('_', ' ')}"
        lines.append(f"{r['verdict'].upper():5} {r['scenario']} [{r['stack']}, TLS {r['tls_version']}]: {what}")
        lines.append(f"      expected: {' or '.join(r['expected'])}  ({r['rfc']})")
        if o.get("server_errors"):
            lines.append(f"      server errors: {'; '.join(o['server_errors'])}")
        if r.get("pcap"):
            lines.append(f"      pcap: {r['pcap']}")
        if r.get("reason"):
            lines.append(f"      {r['reason']}")
    return "\n".join(lines)


def serve(sid: str, port: int, tls: str | None, pki_dir: str | None, pcap_dir: str | None, wait: float,
          on_listen) -> dict[str, Any]:
    """``certlab serve``: listen on 127.0.0.1:PORT, play a server-role scenario with the first
    client that connects, and return what it did."""
    import scenarios  # noqa: F401
    from lab.peers.clients import ExternalClient
    from lab.play.server import run_server_scenario
    from lab.transport import ListeningTransport
    sc = REGISTRY.get(sid)
    if sc is None or sc.role != "server":
        names = ", ".join(sorted(k for k, v in REGISTRY.items() if v.role == "server"))
        raise UsageError(f"{sid!r} is not a server-role scenario; choose one of: {names}")
    versions = _versions(sc, tls)
    if not versions:
        raise UsageError(f"{sid} does not apply to TLS {tls}")
    work = tempfile.mkdtemp(prefix="certlab-serve-")
    try:
        pki = Pki.ensure(pki_dir or os.path.join(work, "pki"))
        try:
            transport = ListeningTransport("127.0.0.1", port)
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        on_listen(transport.port, pki)
        result = run_server_scenario(sc, Setup(pki, versions[-1]), ExternalClient(pki, versions[-1], work), "client",
                                     pcap_dir=pcap_dir, transport=transport, accept_timeout=wait)
        if result["observed"].get("reason") == "the client did not connect":
            raise UsageError(f"no client connected within {wait:g} s")
        for key in ("client_exit", "client_output"):  # we did not run that client: nothing to report
            result["observed"].pop(key, None)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
