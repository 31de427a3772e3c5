"""``certlab shell`` driven through its standard input: build and show a CertificateRequest with
our layers, drive a live handshake against a real OpenSSL server by hand, and check that
scapy's own TLS record layer never loads. Our layers also import in a plain ``scapy`` session."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SESSION = """\
sa = SignatureAlgorithms(supported_signature_algorithms=[0x0804])
cr = Handshake()/CertificateRequest13(extensions=[ExtensionCR()/sa])
print("CR", bytes(cr).hex())
s = server("openssl", "1.3")
p = s.__enter__()
c = connect(s.port)
c.send("client_hello"); r = c.recv(quiet=True)
print("ASKED", any(getattr(x, "msg_type", None) == 13 for x in r))
c.ccs(); c.send("certificate", "certificate_verify", "finished"); c.data(b"GET / HTTP/1.0\\r\\n\\r\\n"); r = c.recv(quiet=True)
print("ANSWER", [bytes(x) for x in r if isinstance(x, bytes)])
s.__exit__(None, None, None)
import sys
print("SCAPY_TLS", "scapy.layers.tls.record" in sys.modules)
"""


@pytest.mark.stack
def test_shell_session(pki) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab", "shell", "--pki", pki.root], input=SESSION, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert "CR 0d00000b000008000d000400020804" in out, out
    assert "ASKED True" in out
    assert "ANSWER [b'HTTP/1.0 200 ok" in out   # s_server -www answered our request: the handshake completed
    assert "SCAPY_TLS False" in out
    assert "Traceback" not in out


def test_layers_import_in_a_plain_scapy_session() -> None:
    script = ("from layers import *\n"
              "print('OK', bytes(Handshake()/CertificateRequest12(certificate_types=[1])).hex())\n")
    proc = subprocess.run([sys.executable, "-m", "scapy"], input=script, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert "OK 0d00000a01010004080404030000" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
