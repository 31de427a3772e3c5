"""The regression corpus (tests/corpus): inputs that once broke certlab or made it guess, each
with the one line it must give (OUTCOMES), run through the CLI as a user runs it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "corpus")


def _cases() -> list[tuple[str, int, str]]:
    with open(os.path.join(CORPUS, "OUTCOMES"), encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split(" | ", 2) for line in fh if line.strip() and not line.startswith("#")]
    return [(command, int(code), line) for command, code, line in rows]


def _cut(src: str, frames: int, dest: str) -> None:
    """The first ``frames`` frames of a capture (pcapng blocks kept as they are: the section
    header, interfaces, the key log), as a user's capture that stopped early."""
    from scapy.layers.l2 import Ether
    from lab.capture.pcapfile import CaptureReader
    from lab.capture.writer import write_pcapng
    with CaptureReader(src) as reader:
        kept = []
        for f in reader:
            if len(kept) == frames:
                break
            p = Ether(f.data)
            p.time = f.time
            kept.append(p)
        keys = b"".join(reader.secrets).decode()
    write_pcapng(dest, kept, keylog=keys, sidecar=False)


@pytest.mark.parametrize("command,code,line", _cases(), ids=[c[0] for c in _cases()])
def test_corpus_input_gives_its_line(command: str, code: int, line: str, tmp_path) -> None:
    args = command.split()
    work = tmp_path / "corpus"
    shutil.copytree(CORPUS, work)
    for arg in args:
        name, _, frames = arg.partition(":")
        if frames.isdigit() and os.path.exists(work / name):
            _cut(str(work / name), int(frames), str(work / arg))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "lab", *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    lines = [x.strip() for x in (proc.stdout + "\n" + proc.stderr).splitlines()]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == code, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert line in lines, proc.stdout[-1500:] + proc.stderr[-1500:]
    if code:
        assert len([x for x in proc.stderr.splitlines() if x.strip()]) == 1, proc.stderr


def test_the_fuzz_entry_point_runs_for_its_budget_and_reports(tmp_path) -> None:
    """scripts/fuzz-dissect as the README gives it, briefly; a folder that is not one is refused."""
    script = os.path.join(ROOT, "scripts", "fuzz-dissect")
    proc = subprocess.run([script, "--budget", "3", "--seed", "7", "--out", str(tmp_path / "findings")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "seed 7" in proc.stdout and ", 0 finding(s)" in proc.stdout
    assert not (tmp_path / "findings").exists()
    bad = subprocess.run([script, "--seeds", "nowhere"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "fuzz-dissect: error: nowhere is not a folder of captures"
