"""``certlab run`` and ``certlab serve`` as library calls: scenarios by id against one stack,
each cell through ``lab.play.cells``; results are ``CellResult``s for the CLI to render."""
from __future__ import annotations

import os
import shutil

from lab.children import scratch_folder
from lab.peers.process import PeerUnavailable
from lab.peers.registry import skip_reason
from lab.peers.servers import server_classes
from lab.pki import Pki
from lab.play.cells import run_on_peer, run_scenario, run_server_scenario
from lab.play.observed import CellResult
from lab.script.dsl import REGISTRY, Scenario
from lab.script.setup import Setup, applicable
from lab.transport import PeerUnreachable


class UsageError(Exception):
    pass


def scenarios() -> dict[str, Scenario]:
    import scenarios as _  # noqa: F401  (registers the scenarios)
    return REGISTRY


def load_scenarios_file(path: str) -> list[str]:
    """Register the scenarios of the user's own Python file (written with ``lab.script.dsl`` as
    ``scenarios/`` is); the ids it added. Any failure is a UsageError naming the file and line."""
    import runpy
    import traceback
    registry = scenarios()
    before = set(registry)
    if not os.path.isfile(path):
        raise UsageError(f"--scenarios-file {path}: no such file")
    try:
        runpy.run_path(path, run_name="certlab_user_scenarios")
    except SyntaxError as exc:
        raise UsageError(f"{path} line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:   # the user's code: say where it broke, in one line
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == os.path.abspath(path)
                  or f.filename == path]
        where = f" line {frames[-1].lineno}" if frames else ""
        raise UsageError(f"{path}{where}: {type(exc).__name__}: {exc}") from None
    added = sorted(set(registry) - before)
    if not added:
        raise UsageError(f"{path} registers no scenario (decorate a function with lab.script.dsl.scenario)")
    return added


def _cells(ids: list[str], tls: str | None) -> list[tuple[Scenario, str]]:
    """(scenario, version) for each id and version, every id and version checked before any runs."""
    registry = scenarios()
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r}; `certlab list` shows them")
    out = []
    for sid in ids:
        sc = registry[sid]
        versions = versions_of(sc, tls)
        if not versions:
            raise UsageError(f"{sid} does not apply to TLS {tls} (it covers {', '.join(sorted(sc.versions))})")
        out += [(sc, v) for v in versions]
    return out


def versions_of(sc: Scenario, wanted: str | None) -> list[str]:
    return [v for v in sorted(sc.versions) if wanted in (None, v)]


def run(ids: list[str], stack: str, tls: str | None, pcap_dir: str | None, pki_dir: str | None,
        timeout: float = 3.0, trace=None) -> list[CellResult]:
    cells = _cells(ids, tls)
    servers = server_classes()
    if stack not in servers and any(sc.role != "server" for sc, _ in cells):
        raise UsageError(f"unknown stack {stack!r}; choose one of {', '.join(sorted(servers))}")
    work = scratch_folder("run")
    try:
        pki = Pki.ensure(pki_dir or os.path.join(work, "pki"))
        results = []
        for sc, v in cells:
            peer = _client(sc, stack, pki, v, work) if sc.role == "server" else \
                servers[stack](pki, v, sc.server_mode, work)
            reason = skip_reason(peer, sc)
            if reason:
                results.append(CellResult.skipped(sc, stack, v, reason))
            elif sc.role == "server":
                results.append(run_server_scenario(sc, Setup(pki, v), peer, stack, pcap_dir=pcap_dir,
                                                   timeout=timeout, trace=trace))
            else:
                with peer:
                    results.append(run_on_peer(sc, Setup(pki, v), peer, stack, pcap_dir=pcap_dir, timeout=timeout,
                                               trace=trace))
        return results
    except (PeerUnavailable, PeerUnreachable) as exc:
        raise UsageError(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_against(ids: list[str], target, tls: str | None, pcap_dir: str | None, pki_dir: str | None,
                timeout: float = 3.0, trace=None, user=None, under=None) -> list[CellResult]:
    """``certlab run --to``: the scenarios against the user's server (a ``lab.play.target.Target``),
    presenting ``user``'s credentials (``lab.creds.Credentials``) as the client, and minting the
    faulty variants under ``under`` (the user's CA and key) when given; a scenario that needs what
    was not given is n/a with the reason."""
    cells = _cells(ids, tls)
    servers = [sc.id for sc, _ in cells if sc.role == "server"]
    if servers:
        raise UsageError(f"{servers[0]} plays the server: against your own client, use `certlab serve {servers[0]}`")
    work = scratch_folder("run")
    try:
        pki = Pki.create(os.path.join(work, "pki"), under=under) if under else \
            Pki.ensure(pki_dir or os.path.join(work, "pki"))
        results = []
        for sc, v in cells:
            setup = Setup(pki, v, user=user, minted=under is not None, server_name=target.sni, alpn=target.alpn)
            reason = applicable(sc, setup)
            if reason:
                results.append(CellResult.skipped(sc, target.label, v, reason))
                continue
            results.append(run_scenario(sc, setup, lambda: target.connect(timeout),
                                        target.label, pcap_dir=pcap_dir, timeout=timeout, trace=trace,
                                        target=target))
        return results
    except PeerUnreachable as exc:
        raise UsageError(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _client(sc: Scenario, stack: str, pki: Pki, version: str, work: str):
    from lab.peers.clients import all_clients, client_for
    if stack not in all_clients():
        raise UsageError(f"{sc.id} needs a client stack: one of {', '.join(sorted(all_clients()))}")
    return client_for(stack, sc, pki, version, work)


def _judged_choice(result: CellResult) -> CellResult:
    """A certificate-choice scenario played with the user's client: the MUST is judged on what
    it sent (an empty Certificate, or a certificate the request allows), not on the lab's wallet."""
    o = result.observed
    allowed = [h["name"] for h in o.holdings or () if h["fits"]]
    sent = next((h for h in o.holdings or () if h["name"] == o.client_choice), None)
    ok = o.outcome != "error" and (o.client_certificate == "empty" or bool(sent and sent["fits"]))
    expected = ("success (client certificate empty)",
                *([f"success (client sent {' or '.join(allowed)})"] if allowed else []))
    return result.but(verdict="error" if o.outcome == "error" else "pass" if ok else "fail", expected=expected)


def serve(sid: str, port: int, tls: str | None, pki_dir: str | None, pcap_dir: str | None, wait: float,
          on_listen, trace=None, starttls: str | None = None, identity=None, client_ca: str | None = None,
          timeout: float = 3.0, holds: dict[str, list[bytes]] | None = None) -> CellResult:
    """``certlab serve``: listen on 127.0.0.1:PORT, play a server-role scenario with the first
    client that connects, and return what it did. ``holds``: the certificates the user's client
    holds (name: chain), each judged against the request and named if it is the one sent."""
    from lab.peers.clients import ExternalClient
    from lab.transport import ListeningTransport
    registry = scenarios()
    sc = registry.get(sid)
    if sc is None or sc.role != "server":
        names = ", ".join(sorted(k for k, v in registry.items() if v.role == "server"))
        raise UsageError(f"{sid!r} is not a server-role scenario; choose one of: {names}")
    versions = versions_of(sc, tls)
    if not versions:
        raise UsageError(f"{sid} does not apply to TLS {tls}")
    work = scratch_folder("serve")
    try:
        pki = Pki.ensure(pki_dir or os.path.join(work, "pki"))
        try:
            transport = ListeningTransport("127.0.0.1", port)
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        on_listen(transport.port, pki)
        setup = Setup(pki, versions[-1], server_identity=identity)
        client = ExternalClient(pki, versions[-1], work, held=dict(holds or {}))
        result = run_server_scenario(sc, setup, client, "client",
                                     pcap_dir=pcap_dir, transport=transport, accept_timeout=wait, trace=trace,
                                     starttls=starttls, client_ca=client_ca, timeout=timeout)
        if result.observed.reason == "the client did not connect":
            raise UsageError(f"no client connected within {wait:g} s")
        if "wallet" in sc.tags:
            result = _judged_choice(result)
        # We did not run that client: there is no program to report on.
        return result.but(observed=result.observed.but(client_exit=None, client_output=None))
    finally:
        shutil.rmtree(work, ignore_errors=True)
