"""``certlab dissect``: every TLS connection of a capture, decrypted where keys allow. ``dissect``
reads a whole capture into one result; ``DissectStream`` (``lab.dissect.stream``) gives the
connections out one by one, as they close, for captures of any size."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.dissect.model import ConnectionInfo
from lab.dissect.stream import DissectStream, InputError, load_keys

__all__ = ["DissectResult", "DissectStream", "InputError", "dissect", "load_keys"]


@dataclass
class DissectResult:
    path: str
    format: str
    frames: int
    connections: list[ConnectionInfo]
    keylog_secrets: int = 0
    embedded_secrets: int = 0
    warnings: list[str] = field(default_factory=list)


def dissect(path: str, keylog_path: str | None = None, server_keys: list[str] | None = None,
            ports: list[int] | None = None) -> DissectResult:
    stream = DissectStream(path, keylog_path, server_keys, ports)
    conns = list(stream)
    return DissectResult(path, stream.format, stream.frames, conns, len(stream.keys.keylog), stream.embedded_secrets,
                         stream.warnings)
