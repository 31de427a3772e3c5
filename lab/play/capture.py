"""The one place a played conversation becomes a capture: every connection it made (one, or
more after a Reconnect), framed as TCP, in one pcapng with the key log embedded."""
from __future__ import annotations

import re

import os

from lab.capture.synth import frame_conversation
from lab.capture.writer import write_pcapng
from lab.play.conversation import Conversation


def pcap_name(scenario: str, stack: str, version: str) -> str:
    """``SCENARIO-STACK-tls13.pcapng``: the name every cell's capture has."""
    stack = re.sub(r"[^A-Za-z0-9._-]+", "_", stack)   # a user's target: "10.0.0.5:8443" -> "10.0.0.5_8443"
    return f"{scenario}-{stack}-tls{version.replace('.', '')}.pcapng"


def save_capture(conv: Conversation, path: str) -> str:
    packets, keylog = [], ""
    for flights, client, server, log in conv.connections():
        packets += frame_conversation(flights, client, server)
        keylog += log
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_pcapng(path, packets, keylog)
    return path
