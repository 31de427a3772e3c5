"""The reference captures in ``pcaps/``: every file the README lists exists, and tshark opens it
decrypted with no option set (the key log is embedded) and with no malformed packet; ``certlab
pcaps`` regenerates them against the real stacks with the outcomes the README records."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.tshark_ref import tshark_view

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCAPS = os.path.join(ROOT, "pcaps")


def _listed(folder: str) -> dict[str, str]:
    """file -> outcome, from the README's table."""
    text = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", text, re.M)}


def test_committed_captures_open_decrypted() -> None:
    listed = _listed(PCAPS)
    assert len(listed) >= 9 and sorted(listed) == sorted(f for f in os.listdir(PCAPS) if f.endswith(".pcapng"))
    for name in listed:
        view = tshark_view(os.path.join(PCAPS, name))
        assert view.malformed == 0, name
        assert ("handshake", 20) in view.messages["client"], f"{name}: the client Finished was not decrypted"


@pytest.mark.stack
def test_certlab_pcaps_regenerates_them(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab", "pcaps", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _listed(str(tmp_path)) == _listed(PCAPS)
