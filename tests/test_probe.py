"""``certlab probe`` against real servers set up with a known client-auth policy: required,
optional, post-handshake (NSS selfserv, Python ssl), renegotiation (selfserv), nginx's HTTP 400;
the probe must find the policy each server was configured with."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lab.peers.process import free_port
from lab.peers.servers import server_classes
from lab.tools.probe import probe

pytestmark = pytest.mark.stack
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [  # (stack, mode, version) -> (when asked, required, self-signed outcome, no-cert rejection)
    ("openssl", "required", "1.2", "handshake", True, "rejected", "handshake_failure"),
    ("openssl", "required", "1.3", "handshake", True, "rejected", "certificate_required"),
    ("openssl", "optional", "1.3", "handshake", False, "rejected", None),
    ("nginx", "required", "1.3", "handshake", True, "rejected at the application layer", None),
    ("nss", "pha", "1.3", "post_handshake", True, "rejected", "certificate_required"),
    ("nss", "renegotiation", "1.2", "renegotiation", True, "rejected", "bad_certificate"),
    ("python", "pha", "1.3", "post_handshake", True, "rejected", "certificate_required"),
]


@pytest.mark.parametrize("stack,mode,version,when,required,self_signed,alert", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_probe_finds_the_configured_policy(stack, mode, version, when, required, self_signed, alert, pki,
                                           tmp_path) -> None:
    yours = pki.identity("rsa", "client")
    from lab.cli.tools import load_identity
    with server_classes()[stack](pki, version, mode, str(tmp_path)) as peer:
        result = probe("127.0.0.1", peer.port, [version], load_identity(yours.cert, yours.key), "localhost")
    res = result["versions"][version]
    pol, by = res["policy"], {a["identity"]: a for a in res["attempts"]}
    assert pol["requests_certificate"] == [when], res
    assert pol["required"] is required
    assert by["self-signed"]["outcome"] == self_signed
    assert by["yours"]["outcome"] == "accepted", by["yours"]
    if alert:
        assert by["none"]["alert"] == alert
    assert pol["certificate_authorities"] in ([], ["CN=Lab Root CA RSA,O=TLS Lab"])


def test_probe_cli_json_and_errors(pki, tmp_path) -> None:
    """The command line: JSON on success; one line and exit 2 for an unreachable port, a bad
    target and a --cert without --key."""
    with server_classes()["openssl"](pki, "1.2", "required", str(tmp_path)) as peer:
        proc = subprocess.run([sys.executable, "-m", "lab", "probe", f"127.0.0.1:{peer.port}", "--tls", "1.2",
                               "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["versions"]["1.2"]["policy"]["required"] is True
    cert = pki.identity("rsa", "client").cert
    for argv in ([f"127.0.0.1:{free_port()}"], ["localhost"], ["127.0.0.1:443", "--cert", cert]):
        proc = subprocess.run([sys.executable, "-m", "lab", "probe", *argv], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2 and proc.stdout == "", proc
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
