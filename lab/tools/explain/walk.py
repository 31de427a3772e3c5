"""``certlab explain``: the classic "ten steps of the SSL handshake with client authentication",
played for real against a real server and walked through message by message. Each step shows
the decoded message and a hex excerpt, and each cryptographic claim is checked live from the
captured bytes: the server certificate chains to the CA, the premaster secret decrypts with the
server's key, the CertificateVerify signature verifies over the exact bytes it covers, the
master secret and both Finished values recompute, and the first application record decrypts.
With TLS 1.3 the same walk shows where the steps change."""
from __future__ import annotations

import dataclasses
import os

from lab.script import generators as gen
from lab.crypto import x509view
from lab.crypto import prf
from lab.crypto.asym import cv13_content, decrypt_premaster, verify
from lab.dissect import dissect
from lab.dissect.describe import handshake_fields, scheme_name, suite_name
from lab.dissect.model import MessageInfo, transcript_before
from lab.engine.client import ClientConfig, ClientEngine
from lab.play.capture import save_capture
from lab.play.client import ClientConversation
from lab.play.conversation import play
from lab.script.setup import Setup
from lab.script.dsl import ReadUntil, Send, SendAppData, SendCCS
from lab.transport import SocketTransport
from layers.registry import HandshakeType as H

SUITE = {("1.2", "rsa"): 0x009C, ("1.2", "ecdhe"): 0xC02F}


@dataclasses.dataclass
class Check:
    claim: str
    ok: bool
    detail: str = ""


@dataclasses.dataclass
class Step:
    number: int
    title: str
    story: str
    messages: list[MessageInfo] = dataclasses.field(default_factory=list)
    facts: list[str] = dataclasses.field(default_factory=list)
    checks: list[Check] = dataclasses.field(default_factory=list)


def record_handshake(setup: Setup, port: int, kx: str, pcap: str, timeout: float = 5.0) -> ClientConversation:
    """The engine as client: a full client-authenticated handshake, one request, the answer."""
    suites = (SUITE[(setup.version, kx)],) if setup.version == "1.2" else ()
    cfg = ClientConfig(version=setup.version, chain=tuple(setup.chain()), key=setup.key(), cipher_suites=suites,
                       ems=False)   # the classic flow: master secret from the randoms (RFC 7627 EMS aside)
    run = ClientConversation(ClientEngine(cfg), SocketTransport("127.0.0.1", port), timeout)
    if setup.version == "1.3":
        steps = [Send(gen.client_hello(), label="ClientHello with a key share"),
                 ReadUntil(("finished",), label="ServerHello; encrypted: EncryptedExtensions, CertificateRequest, "
                                                "Certificate, CertificateVerify, Finished"),
                 SendCCS(label="ChangeCipherSpec (compatibility)"),
                 Send(gen.certificate(), gen.certificate_verify(), gen.finished(),
                      label="encrypted: Certificate, CertificateVerify, Finished")]
    else:
        steps = [Send(gen.client_hello(), label="step 1: ClientHello"),
                 ReadUntil(("server_hello_done",), label="steps 2-5: ServerHello, Certificate, "
                           + ("ServerKeyExchange, " if kx == "ecdhe" else "") + "CertificateRequest, ServerHelloDone"),
                 Send(gen.certificate(), gen.client_key_exchange(), gen.certificate_verify(),
                      label="steps 6-8: Certificate, ClientKeyExchange, CertificateVerify"),
                 SendCCS(label="step 9: ChangeCipherSpec"), Send(gen.finished(), label="step 9: Finished"),
                 ReadUntil(("finished",), label="step 10: ChangeCipherSpec, Finished")]
    steps += [SendAppData(b"GET / HTTP/1.0\r\n\r\n", label="application data"),
              ReadUntil((), label="application data")]
    play(steps, run)
    run.transport.close()
    save_capture(run, pcap)
    return run


def _msgs(messages: list[MessageInfo], direction: str, *types: int) -> list[MessageInfo]:
    return [m for m in messages if m.direction == direction and m.kind == "handshake" and m.type in types]


def _cert_facts(msg: MessageInfo, who: str) -> list[str]:
    out = []
    for i, entry in enumerate(msg.layer.payload.certificate_list):
        sm = x509view.summary(bytes(entry.cert_data))
        out.append(f"{who} certificate [{i}]: subject {sm.get('subject')}, issuer {sm.get('issuer')}")
    return out


def _request_facts(msgs: list[MessageInfo]) -> list[str]:
    from lab.dissect.describe import certificate_request_facts
    out = []
    for m in msgs:
        f = certificate_request_facts(m.layer.payload)
        out.append("CA names: " + ("; ".join(f.get("certificate_authorities", [])) or "none (any issuer)"))
        schemes = f.get("signature_algorithms", [])
        out.append(f"signature schemes ({len(schemes)}): " + ", ".join(schemes[:5]) + (" ..." if len(schemes) > 5
                                                                                        else ""))
    return out


def explain(run: ClientConversation, setup: Setup, pcap: str) -> list[Step]:
    """The steps, each tied to the captured messages, with its checks."""
    conn = dissect(pcap).connections[0]
    ms = conn.messages
    if setup.version == "1.3":
        from lab.tools.explain.tls13 import steps13
        return steps13(run, setup, ms)
    return _steps12(run, setup, ms)


def _server_cert_check(setup: Setup, msg: MessageInfo) -> list[Check]:
    chain = [bytes(e.cert_data) for e in msg.layer.payload.certificate_list]
    leaf = x509view.certificate(chain[0])
    with open(setup.pki.identity(setup.alg, "server").ca, "rb") as fh:
        from cryptography import x509
        ca = x509.load_pem_x509_certificate(fh.read())
    try:
        leaf.verify_directly_issued_by(ca)
        ok, detail = True, f"signed by {ca.subject.rfc4514_string()}"
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        ok, detail = False, str(exc)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    return [Check("the server certificate chains to the trusted CA", ok, detail),
            Check("it names the host we connected to (localhost)", "localhost" in names, ", ".join(names))]


def _ske_check(k, scert: MessageInfo, ske: list[MessageInfo]) -> list[Check]:
    """ECDHE: the server signed client random + server random + its curve and public key."""
    if not ske:
        return []
    body = ske[0].layer.payload
    params = bytes(body)[:4 + len(body.point)]
    leaf = x509view.certificate(bytes(scert.layer.payload.certificate_list[0].cert_data))
    try:
        verify(body.algorithm, leaf.public_key(), bytes(body.signature), k.client_random + k.server_random + params)
        ok, detail = True, scheme_name(body.algorithm)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return [Check("the ServerKeyExchange signature (over both randoms and the ECDHE key) verifies with the server "
                  "certificate's key", ok, detail)]


def _cv_check(ms: list[MessageInfo], cv: MessageInfo, client_cert: MessageInfo, tls13_: bool,
              hash_name: str) -> tuple[list[str], Check]:
    signed = transcript_before(ms, cv, tls13_)
    leaf = x509view.certificate(bytes(client_cert.layer.payload.certificate_list[0].cert_data))
    body = cv.layer.payload
    if tls13_:
        content = cv13_content(prf.digest(hash_name, signed), server=False)
        facts = [f"signed content: 64 spaces + \"TLS 1.3, client CertificateVerify\" + 0x00 + "
                 f"{hash_name}(ClientHello..Certificate) = {prf.digest(hash_name, signed).hex()}",
                 f"({len(content)} bytes in all)"]
    else:
        content = signed
        facts = [f"signed content: every handshake message so far, ClientHello..ClientKeyExchange "
                 f"({len(signed)} bytes; {hash_name} {prf.digest(hash_name, signed).hex()[:32]}...)"]
    try:
        verify(body.algorithm, leaf.public_key(), bytes(body.signature), content)
        ok, detail = True, f"{scheme_name(body.algorithm)} with the client certificate's public key"
    except Exception as exc:  # noqa: BLE001
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return facts, Check("the CertificateVerify signature verifies over exactly those bytes", ok, detail)


def _steps12(run: ClientConversation, setup: Setup, ms: list[MessageInfo]) -> list[Step]:
    eng = run.engine
    k = eng.k
    ch, sh = _msgs(ms, "client", H.client_hello)[0], _msgs(ms, "server", H.server_hello)[0]
    scert, cr = _msgs(ms, "server", H.certificate)[0], _msgs(ms, "server", H.certificate_request)
    ske, shd = _msgs(ms, "server", H.server_key_exchange), _msgs(ms, "server", H.server_hello_done)[0]
    ccert, cke = _msgs(ms, "client", H.certificate)[0], _msgs(ms, "client", H.client_key_exchange)[0]
    cv = _msgs(ms, "client", H.certificate_verify)[0]
    cfin, sfin = _msgs(ms, "client", H.finished)[0], _msgs(ms, "server", H.finished)[0]
    hash_name, rsa_kx = k.params.prf_hash, k.params.kx == "rsa"
    steps = [Step(1, "ClientHello", "The client offers its TLS versions, a 32-byte random, its cipher suites and "
                  "extensions (signature algorithms, groups).", [ch],
                  [f"client random {k.client_random.hex()}"]),
             Step(2, "ServerHello", "The server picks the version and cipher suite and sends its own random.", [sh],
                  [f"server random {k.server_random.hex()}", f"cipher suite {suite_name(k.suite_code)}"]),
             Step(3, "Server Certificate" + (", ServerKeyExchange" if ske else ""),
                  "The server proves its identity with its certificate chain; the client validates it. "
                  + ("With ECDHE the server also sends an ephemeral public key, signed with its certificate's key."
                     if ske else "With RSA key exchange there is no ServerKeyExchange: the certificate's RSA "
                     "key itself will receive the premaster secret."), [scert, *ske],
                  _cert_facts(scert, "server"), _server_cert_check(setup, scert) + _ske_check(k, scert, ske)),
             Step(4, "CertificateRequest", "Client authentication starts here: the server asks for a certificate, "
                  "naming the certificate types, signature algorithms and CA names it accepts. In TLS 1.2 this "
                  "travels in the clear.", cr, _request_facts(cr)),
             Step(5, "ServerHelloDone", "The server's flight is complete.", [shd]),
             Step(6, "Client Certificate", "The client sends its certificate chain, in the clear in TLS 1.2: a "
                  "passive observer reads the subject and issuer.", [ccert], _cert_facts(ccert, "client"))]
    pms_check: list[Check] = []
    facts7 = []
    if rsa_kx:
        enc = bytes(cke.layer.payload.encrypted_pre_master_secret)
        pms = decrypt_premaster(setup.key("server"), enc)
        facts7 = [f"premaster secret (48 bytes: version 03 03 + 46 random) {eng._premaster.hex()}",
                  f"encrypted with the server certificate's RSA public key: {len(enc)} bytes {enc[:16].hex()}..."]
        pms_check = [Check("decrypting with the server's private key gives the same premaster secret",
                           pms == eng._premaster, pms.hex()[:32] + "...")]
    else:
        pms = eng._premaster
        facts7 = [f"ECDHE: the client's ephemeral public key; both sides compute the shared secret "
                  f"(the premaster secret) {pms.hex()}"]
    steps.append(Step(7, "ClientKeyExchange", "The premaster secret: " + (
        "the client makes it and encrypts it under the server's public key." if rsa_kx else
        "agreed by ECDHE from the two ephemeral keys."), [cke], facts7, pms_check))
    master = prf.master_secret(k.version, hash_name, pms, k.client_random, k.server_random)
    facts_cv, cv_check = _cv_check(ms, cv, ccert, False, hash_name)
    steps.append(Step(8, "CertificateVerify", "The client proves it holds the private key of its certificate: it "
                      "signs the handshake so far.", [cv], facts_cv, [cv_check]))
    fin_c = prf.finished_verify_data(k.version, hash_name, master, b"client finished", transcript_before(ms, cfin))
    fin_s = prf.finished_verify_data(k.version, hash_name, master, b"server finished", transcript_before(ms, sfin))
    kb = prf.key_block(k.version, hash_name, master, k.client_random, k.server_random, 2 * (k.params.key_len + 4))
    steps.append(Step(9, "Client ChangeCipherSpec, Finished", "Both sides derive the master secret and session "
                      "keys with the PRF; the client switches to them and sends Finished, the first encrypted "
                      "message: a MAC over the whole handshake.", [cfin],
                      [f"master secret = PRF(premaster, \"master secret\", client random + server random) = "
                       f"{master.hex()}",
                       f"client write key {kb[:k.params.key_len].hex()}, server write key "
                       f"{kb[k.params.key_len:2 * k.params.key_len].hex()}"],
                      [Check("the master secret matches the key log's CLIENT_RANDOM line", master == k.master),
                       Check("the client Finished recomputes from the master secret and the transcript",
                             bytes(cfin.layer.payload.verify_data) == fin_c, fin_c.hex())]))
    steps.append(Step(10, "Server ChangeCipherSpec, Finished", "The server does the same; its Finished proves it "
                      "saw the same handshake. Client authentication succeeded.", [sfin],
                      checks=[Check("the server Finished recomputes", bytes(sfin.layer.payload.verify_data) == fin_s,
                                    fin_s.hex())]))
    return steps + [_app_step(ms)]


def _app_step(ms: list[MessageInfo]) -> Step:
    app = [m for m in ms if m.kind == "application_data" and m.direction == "server"]
    text = app[0].raw[:60].decode("latin-1", "replace") if app else ""
    return Step(11, "Application data", "Everything after the handshake is protected with the session keys.",
                app[:1], [f"the server's first application record, decrypted: {text!r}"] if app else [],
                [Check("the first application record decrypts", bool(app) and app[0].decrypted)])


def message_lines(m: MessageInfo) -> list[str]:
    fields = handshake_fields(m.name, m.layer.payload if m.layer is not None and m.kind == "handshake" else None)
    shown = {k: v for k, v in fields.items() if not isinstance(v, (list, dict)) or len(str(v)) < 160}
    where = "encrypted on the wire" if m.encrypted else "in the clear"
    out = [f"{m.direction} {m.name} (frame {m.frame}, {len(m.raw)} bytes, {where})"]
    out += [f"  {k}: {v}" for k, v in shown.items()]
    out.append(f"  hex: {m.raw[:32].hex(' ')}{' ...' if len(m.raw) > 32 else ''}")
    return out


def to_text(steps: list[Step], header: str) -> str:
    lines = [header, ""]
    for s in steps:
        lines.append(f"Step {s.number}. {s.title}")
        lines.append(f"  {s.story}")
        for m in s.messages:
            lines += ["  " + x for x in message_lines(m)]
        lines += [f"  - {f}" for f in s.facts]
        lines += [f"  [{'OK' if c.ok else 'FAILED'}] {c.claim}" + (f" ({c.detail})" if c.detail else "")
                  for c in s.checks]
        lines.append("")
    failed = [c for s in steps for c in s.checks if not c.ok]
    lines.append(f"{sum(len(s.checks) for s in steps)} checks, {len(failed)} failed.")
    return "\n".join(lines)


def pcap_path(folder: str, version: str, kx: str) -> str:
    return os.path.join(folder, f"explain-tls{version.replace('.', '')}{'-' + kx if version == '1.2' else ''}.pcapng")
