"""Run in a subprocess: dissect cleartext TLS records (hex, one per line on stdin) with
scapy's own TLS layer and print what it saw as JSON. Kept out of the test process because
importing scapy.layers.tls binds TCP/443 and changes scapy's conf."""
import json
import sys

from scapy.layers.tls.record import TLS  # noqa: E402

out = []
for line in sys.stdin:
    rec = TLS(bytes.fromhex(line.strip()))
    for msg in rec.msg:
        d = {"type": getattr(msg, "msgtype", None), "cls": type(msg).__name__}
        if hasattr(msg, "ciphers") and isinstance(msg.ciphers, list):
            d["cipher_suites"] = list(msg.ciphers)
        if hasattr(msg, "cipher") and isinstance(getattr(msg, "cipher"), int):
            d["cipher_suite"] = msg.cipher
        if getattr(msg, "ext", None):
            d["extensions"] = [e.type for e in msg.ext]
        if type(msg).__name__ == "TLSCertificate":
            d["certificates"] = [len(bytes(c[1].der)) if hasattr(c[1], "der") else c[0] for c in msg.certs]
        if type(msg).__name__ == "TLSCertificateRequest":
            d["certificate_types"] = list(msg.ctypes)
            d["signature_algorithms"] = list(msg.sig_algs or [])
            d["ca_count"] = len(msg.certauth or [])
        if type(msg).__name__ == "TLSCertificateVerify":
            d["algorithm"] = msg.sig.sig_alg
        if type(msg).__name__ == "TLSServerKeyExchange" and msg.params is not None:
            d["named_curve"] = getattr(msg.params, "named_curve", None)
        if type(msg).__name__ == "TLSAlert":
            d["description"] = msg.descr
        out.append(d)
print(json.dumps(out))
