"""Differential test: the cleartext messages of a real TLS 1.2 mutual-auth handshake (Python
ssl on both ends, OpenSSL underneath) dissected by our layers and by scapy.layers.tls."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from lab.tools.demo import record_handshake
from layers.handshake import Hint, parse_handshake

HERE = os.path.dirname(os.path.abspath(__file__))


def _cleartext_records(flights) -> list[bytes]:
    """Each side's records up to its first ChangeCipherSpec (what follows is encrypted)."""
    clear, after_ccs = [], set()
    for f in flights:
        data = f.data
        while len(data) >= 5:
            n = int.from_bytes(data[3:5], "big")
            rec, data = data[:5 + n], data[5 + n:]
            if rec[0] == 20:
                after_ccs.add(f.from_client)
            elif f.from_client not in after_ccs:
                clear.append(rec)
    return clear


def test_our_layers_agree_with_scapy_tls(pki, tmp_path) -> None:
    flights, _ = record_handshake(pki, "1.2", str(tmp_path / "keys"))
    records = _cleartext_records(flights)
    proc = subprocess.run([sys.executable, os.path.join(HERE, "scapy_tls_reader.py")],
                          input="\n".join(r.hex() for r in records), capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    ours = []
    kx = None
    for rec in records:
        data = rec[5:]
        while data:
            n = int.from_bytes(data[1:4], "big")
            msg = parse_handshake(data[:4 + n], Hint(0x0303, kx))
            data = data[4 + n:]
            b = msg.payload
            d = {"type": msg.msg_type}
            if msg.msg_type == 1:
                d["cipher_suites"] = list(b.cipher_suites)
                d["extensions"] = [e.extension_type for e in b.extensions]
            elif msg.msg_type == 2:
                d["cipher_suite"] = b.cipher_suite
                d["extensions"] = [e.extension_type for e in b.extensions]
                kx = "ecdhe" if b.cipher_suite >> 8 == 0xC0 else "rsa"
            elif msg.msg_type == 11:
                d["certificates"] = [len(e.cert_data) for e in b.certificate_list]
            elif msg.msg_type == 12:
                d["named_curve"] = b.named_curve
            elif msg.msg_type == 13:
                d["certificate_types"] = list(b.certificate_types)
                d["signature_algorithms"] = list(b.supported_signature_algorithms)
                d["ca_count"] = len(b.certificate_authorities)
            elif msg.msg_type == 15:
                d["algorithm"] = b.algorithm
            ours.append(d)
    assert [m["type"] for m in ours] == [1, 2, 11, 12, 13, 14, 11, 16, 15, 4]
    assert len(theirs) == len(ours)
    for mine, scapys in zip(ours, theirs):
        for key, value in mine.items():
            assert scapys.get(key) == value, (key, mine, scapys)
