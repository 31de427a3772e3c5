"""certlab: a packet-level lab for TLS client-certificate authentication. The floors, bottom up:
crypto, engine, capture, dissect, transport, peers, script, play, tools, cli (ARCHITECTURE.md)."""
__version__ = "0.1.0"
