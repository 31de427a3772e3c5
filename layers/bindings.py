"""Explicit TCP port bindings: nothing binds at import (unlike ``scapy.layers.tls``)."""
from __future__ import annotations

from scapy.layers.inet import TCP
from scapy.packet import bind_layers, split_layers

from layers.record import TLSPlaintext

_bound: set[int] = set()


def install(ports: tuple[int, ...] | list[int] = (443,)) -> None:
    """Dissect TCP payloads on these ports as TLS records."""
    for port in ports:
        if port not in _bound:
            bind_layers(TCP, TLSPlaintext, sport=port)
            bind_layers(TCP, TLSPlaintext, dport=port)
            _bound.add(port)


def uninstall() -> None:
    for port in sorted(_bound):
        split_layers(TCP, TLSPlaintext, sport=port)
        split_layers(TCP, TLSPlaintext, dport=port)
    _bound.clear()
