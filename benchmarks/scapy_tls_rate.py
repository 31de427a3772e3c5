"""Subprocess half of bench_dissect: scapy.layers.tls dissecting (and decrypting, with the key
log) the same capture. Prints JSON {records, seconds}."""
import json
import sys
import time

from scapy.all import conf, load_layer
from scapy.sessions import TCPSession
from scapy.utils import PcapReader

load_layer("tls")
from scapy.layers.tls.record import TLS  # noqa: E402
from scapy.sendrecv import sniff  # noqa: E402

path, keylog = sys.argv[1], sys.argv[2]
conf.tls_session_enable = True
conf.tls_nss_filename = keylog
count = 0


def on_packet(pkt):
    global count
    layer = pkt.getlayer(TLS)
    while layer is not None:
        count += 1
        layer = layer.payload.getlayer(TLS)


start = time.perf_counter()
sniff(offline=path, session=TCPSession, prn=on_packet, store=False)
print(json.dumps({"records": count, "seconds": time.perf_counter() - start}))
_ = PcapReader
