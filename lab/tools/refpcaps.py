"""``certlab pcaps``: the reference captures in ``pcaps/``, one per key flow, each a real
handshake (certlab's engine against a real server, or a real client against certlab's server)
with its key log embedded, so Wireshark opens it decrypted. The folder's README lists each file
with the command that made it, the stack's version and the date."""
from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass

from lab.children import scratch
from lab.peers.registry import stack_version
from lab.pki import Pki
from lab.play.commands import run


@dataclass(frozen=True)
class Reference:
    file: str
    scenario: str
    stack: str
    version: str
    flow: str


REFERENCES = (
    Reference("tls12-rsa-ten-steps.pcapng", "explain", "openssl", "1.2",
              "the classic ten steps: TLS 1.2, RSA key exchange, client Certificate and CertificateVerify "
              "(`certlab explain` walks through it)"),
    Reference("tls12-ecdhe-client-auth.pcapng", "tls12-ecdhe-client-cert", "openssl", "1.2",
              "TLS 1.2 ECDHE with client authentication; the client certificate is in the clear"),
    Reference("tls13-client-auth.pcapng", "tls13-client-cert", "openssl", "1.3",
              "TLS 1.3 with client authentication; CertificateRequest, Certificate and CertificateVerify encrypted"),
    Reference("tls13-post-handshake-auth.pcapng", "tls13-pha-client-cert", "openssl", "1.3",
              "TLS 1.3 post-handshake authentication: the server asks after the handshake"),
    Reference("tls12-renegotiation-client-auth.pcapng", "tls12-renegotiation-client-cert", "openssl", "1.2",
              "TLS 1.2 renegotiation that asks for the certificate (encrypted under the first handshake's keys)"),
    Reference("tls12-no-certificate-handshake-failure.pcapng", "tls12-no-cert-required", "openssl", "1.2",
              "failure: an empty Certificate to a server that requires one (handshake_failure)"),
    Reference("tls13-no-certificate-certificate-required.pcapng", "tls13-no-cert-required", "openssl", "1.3",
              "failure: TLS 1.3, no certificate; certificate_required after the client's Finished"),
    Reference("tls13-untrusted-certificate-unknown-ca.pcapng", "tls13-untrusted-client-cert", "openssl", "1.3",
              "failure: a certificate from a CA the server does not trust (unknown_ca)"),
    Reference("tls12-bad-certificate-verify-decrypt-error.pcapng", "tls12-cv-wrong-key", "openssl", "1.2",
              "failure: a CertificateVerify signed with the wrong key (decrypt_error)"),
    Reference("tls13-client-choice-empty-certificate.pcapng", "srv-ca-names-other", "go", "1.3",
              "a real client's choice (Go): the CA names do not include its issuer, so it sends an empty "
              "Certificate"),
)


def make(out_dir: str, pki_dir: str | None = None) -> list[dict]:
    """Run every reference flow and keep its pcapng (key log embedded) in ``out_dir``; then the README."""
    os.makedirs(out_dir, exist_ok=True)
    made = []
    with scratch("pcaps") as tmp:
        pki_root = pki_dir or os.path.join(tmp, "pki")
        Pki.ensure(pki_root)
        for ref in REFERENCES:
            if ref.scenario == "explain":
                made.append(_ten_steps(ref, Pki(pki_root), os.path.join(out_dir, ref.file), tmp))
                continue
            [result] = run([ref.scenario], ref.stack, ref.version, tmp, pki_root)
            if not result.pcap:
                raise RuntimeError(f"{ref.scenario} against {ref.stack} wrote no capture: {result.reason}")
            dest = os.path.join(out_dir, ref.file)
            shutil.copyfile(result.pcap, dest + ".tmp")
            os.replace(dest + ".tmp", dest)
            made.append({"file": ref.file, "flow": ref.flow, "verdict": result.verdict,
                         "observed": result.observed.outcome, "alert": result.observed.alert,
                         "command": f"certlab run {ref.scenario} --stack {ref.stack} --tls {ref.version} "
                                    "--pcap-dir DIR", "stack": stack_version(ref.stack)})
    write_readme(out_dir, made)
    return made


def _ten_steps(ref: Reference, pki: Pki, dest: str, work: str) -> dict:
    """The classic flow as ``certlab explain`` records it: packet comments name the ten steps."""
    from lab.tools import explain
    from lab.peers.servers import server_classes
    from lab.script.setup import Setup
    with server_classes()[ref.stack](pki, ref.version, "required", work) as peer:
        run_ = explain.record_handshake(Setup(pki, ref.version), peer.port, "rsa", dest + ".tmp.pcapng")
    os.replace(dest + ".tmp.pcapng", dest)
    keys = dest + ".tmp.keys"
    if os.path.exists(keys):
        os.unlink(keys)
    obs = run_.observed
    return {"file": ref.file, "flow": ref.flow, "observed": obs.outcome if obs else "success",
            "alert": obs.alert if obs else None,
            "command": "certlab explain --tls 1.2 --kx rsa", "stack": stack_version(ref.stack)}


def write_readme(out_dir: str, made: list[dict]) -> None:
    from lab.files import write_atomic
    today = dt.date.today().isoformat()
    lines = ["# Reference captures", "",
             "One capture per key client-authentication flow, each a real handshake with its TLS key log embedded "
             "(pcapng Decryption Secrets Block): Wireshark and tshark open them decrypted, with no option set. "
             "Packet comments name each step. Regenerate them all with `certlab pcaps` (this README included).",
             "", f"Made on {today}.", "", "| file | flow | outcome | made by | stack |", "|---|---|---|---|---|"]
    for m in made:
        outcome = m["observed"] + (f" ({m['alert']})" if m["alert"] else "")
        lines.append(f"| `{m['file']}` | {m['flow']} | {outcome} | `{m['command']}` | {m['stack']} |")
    write_atomic(os.path.join(out_dir, "README.md"), "\n".join(lines) + "\n")
