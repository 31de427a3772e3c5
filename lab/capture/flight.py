"""What one side wrote in one go: the unit every capture is framed from. Kept apart from
``synth`` (which imports scapy's IP and TCP layers) so that the transports and the CLI's start-up
stay light."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flight:
    """Bytes one side wrote in one go; ``comment`` names the step (shown in Wireshark)."""
    from_client: bool
    data: bytes
    comment: str = ""
    time: float = field(default_factory=time.time)   # when it was written (the frames' timestamps)
