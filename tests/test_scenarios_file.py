"""`--scenarios-file`: the user's own scenarios, in the DSL of scenarios/, played like the catalogue's."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINE = '''from lab.script import flows
from lab.script.dsl import ExpectSuccess, scenario


@scenario("my-cert-in-32-byte-records", rfc="RFC 8446 5.1", row="J01", versions={"1.2", "1.3"},
          summary="the client's Certificate and CertificateVerify split over 32-byte records", expect=ExpectSuccess())
def my_fragmented(s):
    return flows.client_auth(s.version, fragment=32)
'''


def certlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_a_scenario_of_your_own_runs_against_a_real_server_and_is_listed(tmp_path) -> None:
    mine = tmp_path / "my_scenarios.py"
    mine.write_text(MINE)
    run = certlab("run", "my-cert-in-32-byte-records", "--scenarios-file", str(mine), "--stack", "openssl",
                  "--pcap-dir", str(tmp_path))
    assert run.returncode == 0 and run.stdout.count("PASS") == 2, run.stdout + run.stderr
    # the records really are 32 bytes: tshark's reading of the client's handshake records
    pcap = next(p for p in tmp_path.iterdir() if p.name.endswith("tls12.pcapng"))
    ws = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.record.content_type == 22",
                         "-T", "fields", "-e", "tcp.srcport", "-e", "tls.record.length"],
                        capture_output=True, text=True, timeout=60).stdout
    lengths = [int(x) for line in ws.splitlines() for x in line.split("\t")[1].split(",") if x]
    assert lengths.count(32) >= 10
    listed = certlab("list", "--scenarios-file", str(mine)).stdout
    assert "my-cert-in-32-byte-records" in listed


def test_a_broken_file_is_one_line_naming_the_line(tmp_path) -> None:
    for text, message in (("x = (\n", "line 1: '(' was never closed"),
                          ("import os\nraise RuntimeError('boom')\n", "line 2: RuntimeError: boom"),
                          ("x = 1\n", "registers no scenario"),
                          (MINE.replace("my-cert-in-32-byte-records", "tls13-client-cert"), "duplicate scenario id")):
        bad = tmp_path / "bad.py"
        bad.write_text(text)
        proc = certlab("run", "tls13-client-cert", "--scenarios-file", str(bad))
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
            proc.stderr
