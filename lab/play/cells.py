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
from lab.script.setup import Setup
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
                 trace: Callable[[str], None] | None = None) -> CellResult:
    conv = play_client(sc, setup, connect(), timeout=timeout, hooks=hooks, connect=connect, trace=trace)
    return _judged(sc, setup, stack, conv, pcap_dir)


def run_server_scenario(sc: Scenario, setup: Setup, client: ClientPeer, stack: str, *,
                        pcap_dir: str | None = None, timeout: float = 3.0,
                        transport: ListeningTransport | None = None, accept_timeout: float = 15.0,
                        trace: Callable[[str], None] | None = None) -> CellResult:
    conv = play_server(sc, setup, client, timeout=timeout, transport=transport, accept_timeout=accept_timeout,
                       trace=trace)
    return _judged(sc, setup, stack, conv, pcap_dir)
