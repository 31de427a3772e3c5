"""A PKI made the way users make theirs, with the openssl CLI and no certlab code: a CA
("Acme Client CA"), a server (CN=app.internal, SAN app.internal and 127.0.0.1) and an ECDSA
client "alice" whose key is encrypted (password s3cret), also as PKCS#12 (password p12pass)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

EXT = """[srv]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:app.internal,IP:127.0.0.1
[cli]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
"""


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make(d: str) -> str:
    """Write the PKI into ``d``; returns ``d``."""
    with open(os.path.join(d, "ext.cnf"), "w") as fh:
        fh.write(EXT)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/O=Acme/CN=Acme Client CA", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=app.internal",
             cwd=d)
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.crt",
             "-days", "30", "-extfile", "ext.cnf", "-extensions", "srv", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "alice.key", "-out", "alice.csr",
             "-subj", "/O=Acme/CN=alice", "-passout", "pass:s3cret", cwd=d)
    openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "alice.crt", "-days", "30", "-extfile", "ext.cnf", "-extensions", "cli", cwd=d)
    openssl("pkcs12", "-export", "-in", "alice.crt", "-inkey", "alice.key", "-passin", "pass:s3cret",
             "-out", "alice.p12", "-passout", "pass:p12pass", cwd=d)
    openssl("pkey", "-in", "alice.key", "-passin", "pass:s3cret", "-out", "alice-plain.key", cwd=d)
    os.chmod(os.path.join(d, "alice-plain.key"), 0o600)
    with open(os.path.join(d, "p12pw.txt"), "w") as fh:
        fh.write("p12pass\n")
    return d


def listening(port: int, seconds: float = 15.0, host: str = "127.0.0.1") -> bool:
    """Wait until something accepts connections on ``host``:``port``; False if nothing did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), 0.1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


@contextlib.contextmanager
def nginx(conf: str, port: int):
    """nginx on ``conf`` (listening on 127.0.0.1:``port``), stopped however the block ends."""
    proc = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert listening(port), "nginx did not start"
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
