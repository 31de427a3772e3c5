"""One cell: a scenario played against one stack in one TLS version, its capture saved and its
result judged. ``run_scenario`` is certlab as the client (the peer is a server already started),
``run_server_scenario`` certlab as the server (the peer is a client program it starts)."""
from __future__ import annotations

import os
from collections.abc import Callable

from lab.peers.clients import ClientPeer
from lab.peers.registry import stack_version
from lab.play.capture import pcap_name, save_capture
from lab.play.client import Hooks, play_client
from lab.play.conversation import Conversation
from lab.play.observed import CellResult
from lab.play.server import play_server
from lab.script.dsl import Scenario
from lab.script.setup import NotApplicable, Setup
from lab.transport import ListeningTransport, Transport


def _judged(sc: Scenario, setup: Setup, stack: str, conv: Conversation, pcap_dir: str | None) -> CellResult:
    pcap = save_capture(conv, os.path.join(pcap_dir, pcap_name(sc.id, stack, setup.version))) if pcap_dir else None
    return CellResult.judged(sc, stack, setup.version, conv.observed, pcap, version=stack_version(stack),
                             ladder=read_ladder(pcap) if pcap else None)


def read_ladder(pcap: str) -> tuple[dict, ...] | None:
    """The capture's ladder, read back as Wireshark would read it (connections one after the other)."""
    from lab.dissect import InputError, dissect
    from lab.dissect.ladder import steps
    try:
        conns = dissect(pcap).connections
    except InputError:
        return None
    out: list[dict] = []
    for i, conn in enumerate(conns):
        out += ([{"from": None, "name": "new connection", "encrypted": False, "readable": True, "mark": None}]
                if i else []) + steps(conn)
    return tuple(out) if out else None


def run_scenario(sc: Scenario, setup: Setup, connect: Callable[[], Transport], stack: str, *,
                 pcap_dir: str | None = None, timeout: float = 3.0, hooks: Hooks | None = None,
                 trace: Callable[[str], None] | None = None, target=None) -> CellResult:
    """``target`` (a ``lab.play.target.Target``): the user's server, whose application check
    replaces the HTTP probe and whose certificate is checked (an untrusted one is an error)."""
    try:
        conv = play_client(sc, setup, connect(), timeout=timeout, hooks=hooks, connect=connect, trace=trace,
                           app=target.app if target else None)
    except NotApplicable as exc:
        return CellResult.skipped(sc, stack, setup.version, str(exc))
    result = _judged(sc, setup, stack, conv, pcap_dir)
    if target is None:
        return result
    chain = conv.engine.server_chain
    problem = target.check_server(chain) if chain else None
    facts = {"subject": _subject(chain[0]) if chain else None, "checked": not target.insecure and bool(chain),
             "trusted": None if target.insecure or not chain else problem is None, "problem": problem}
    result = result.but(version=None, extra={**result.extra, "server_certificate": facts})
    return result.but(verdict="error", reason=f"{problem}; give --server-ca FILE, or --insecure") if problem \
        else result


def run_on_peer(sc: Scenario, setup: Setup, peer, stack: str, **options) -> CellResult:
    """A client-role scenario against a started managed server peer: over TLS from the first
    byte, or, for a peer behind a protocol's preamble (PostgreSQL), as ``run --to --starttls``
    plays it (``lab.play.target.for_peer``)."""
    from lab.play.target import for_peer
    from lab.transport import SocketTransport
    target = for_peer(peer)
    timeout = options.get("timeout", 3.0)
    connect = (lambda: target.connect(timeout)) if target else (lambda: SocketTransport("127.0.0.1", peer.port))
    result = run_scenario(sc, setup, connect, stack, hooks=peer.hooks(), target=target, **options)
    return result.but(version=stack_version(stack)) if target else result


def _subject(der: bytes) -> str:
    from lab.crypto import x509view
    return x509view.certificate(der).subject.rfc4514_string()


def run_server_scenario(sc: Scenario, setup: Setup, client: ClientPeer, stack: str, *,
                        pcap_dir: str | None = None, timeout: float = 3.0,
                        transport: ListeningTransport | None = None, accept_timeout: float = 15.0,
                        trace: Callable[[str], None] | None = None, starttls: str | None = None,
                        client_ca: str | None = None) -> CellResult:
    """``client_ca``: a CA file the client's chain is checked against (``serve --client-ca``)."""
    conv = play_server(sc, setup, client, timeout=timeout, transport=transport, accept_timeout=accept_timeout,
                       trace=trace, starttls=starttls)
    result = _judged(sc, setup, stack, conv, pcap_dir)
    if client_ca is None:
        return result
    from lab.creds import check_client_chain
    chain = list(conv.engine.auth.chain or [])
    problem = check_client_chain(chain, client_ca) if chain else None
    return result.but(extra={**result.extra, "client_certificate_check": {
        "ca": client_ca, "checked": bool(chain), "trusted": None if not chain else problem is None,
        "problem": problem}})
