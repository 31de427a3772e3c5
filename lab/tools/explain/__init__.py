"""``certlab explain``: the ten steps of a client-authenticated handshake, played against a real
server and checked from the captured bytes (``walk``: TLS 1.2 and the shared checks; ``tls13``:
what TLS 1.3 changes; ``render``: Markdown and HTML)."""
from lab.tools.explain.walk import Check, Step, explain, pcap_path, record_handshake, to_text

__all__ = ["Check", "Step", "explain", "pcap_path", "record_handshake", "to_text"]
