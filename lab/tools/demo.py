"""The quick-start job: a real mutual-TLS handshake between Python's ``ssl`` client and server
(OpenSSL underneath), recorded byte for byte, framed as a TCP conversation, written as a pcapng
with its key log embedded, and dissected."""
from __future__ import annotations

import os
import ssl

from lab.capture.synth import Flight, frame_conversation
from lab.capture.writer import write_pcapng
from lab.pki import Pki


class DemoError(Exception):
    pass


def _contexts(pki: Pki, version: str, keylog: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    tv = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    srv = pki.identity("rsa", "server")
    cli = pki.identity("rsa", "client")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = sctx.maximum_version = tv
    sctx.load_cert_chain(srv.cert, srv.key)
    sctx.load_verify_locations(srv.ca)
    sctx.verify_mode = ssl.CERT_REQUIRED
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.minimum_version = cctx.maximum_version = tv
    cctx.load_verify_locations(cli.ca)
    cctx.load_cert_chain(cli.cert, cli.key)
    cctx.keylog_filename = keylog
    return cctx, sctx


def record_handshake(pki: Pki, version: str, keylog: str, payload: int = 0) -> tuple[list[Flight], str]:
    """Run the handshake and one request/response over memory BIOs; return what each side wrote
    and the client subject the server saw. ``payload`` more bytes follow the response (a download)."""
    cctx, sctx = _contexts(pki, version, keylog)
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(cin, cout, server_hostname="localhost")
    server = sctx.wrap_bio(sin, sout, server_side=True)
    flights: list[Flight] = []

    def pump(label: str) -> None:
        for out, dest, from_client in ((cout, sin, True), (sout, cin, False)):
            data = out.read()
            if data:
                who = "client" if from_client else "server"
                flights.append(Flight(from_client, data, f"step {len(flights) + 1}: {who} {label}"))
                dest.write(data)

    done = [False, False]
    for _ in range(20):
        for i, obj in enumerate((client, server)):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        pump("handshake flight")
        if all(done):
            break
    else:
        raise DemoError("the handshake did not complete")
    client.write(b"GET / HTTP/1.0\r\n\r\n")
    pump("application data (request)")
    request = server.read(4096)
    peer = server.getpeercert() or {}
    subject = ", ".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
    server.write(b"HTTP/1.0 200 OK\r\n\r\nhello " + subject.encode() + b"\n")
    pump("application data (response)")
    client.read(4096)
    chunk = bytes(range(256)) * 256
    for sent in range(0, payload, len(chunk)):
        server.write(chunk[:payload - sent])
        pump("application data (download)")
        while True:
            try:
                if not client.read(1 << 16):
                    break
            except ssl.SSLWantReadError:
                break
    if not request:
        raise DemoError("the server read no request")
    for obj in (client, server):
        try:
            obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        pump("close_notify")
    return flights, subject


def run_demo(out: str, version: str = "1.3") -> str:
    from lab.dissect import render as report
    from lab.dissect import dissect
    os.makedirs(out, exist_ok=True)
    pki = Pki.ensure(os.path.join(out, "pki"))
    keylog = os.path.join(out, ".demo-keylog.tmp")
    try:
        flights, subject = record_handshake(pki, version, keylog)
        with open(keylog) as fh:
            secrets = fh.read()
    except (ssl.SSLError, OSError) as exc:
        raise DemoError(f"Python ssl handshake failed: {exc}") from None
    finally:
        if os.path.exists(keylog):
            os.unlink(keylog)
    packets = frame_conversation(flights, ("127.0.0.1", 50000), ("127.0.0.1", 443))
    pcap = os.path.join(out, f"mtls-python-tls{version.replace('.', '')}.pcapng")
    write_pcapng(pcap, packets, secrets)
    result = dissect(pcap)
    return (f"Recorded a mutual-TLS {version} handshake (Python ssl client and server); the server "
            f"authenticated the client as: {subject}\n"
            f"Capture: {pcap} (key log embedded; also {os.path.splitext(pcap)[0]}.keys)\n"
            f"Open it in Wireshark, or run: certlab dissect {pcap}\n\n" + report.to_text(result))
