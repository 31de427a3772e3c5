"""``certlab explain --tls 1.3``: the same walk as the classic ten steps, showing where TLS 1.3
changes them: the key exchange moves into the hellos, HKDF replaces the PRF, and from the
ServerHello on everything (the CertificateRequest and the client's certificate included)
travels encrypted; the client's signature covers a context string and the transcript hash."""
from __future__ import annotations

from lab.crypto import prf, tls13
from lab.dissect.describe import suite_name
from lab.dissect.model import MessageInfo, transcript_before
from lab.tools.explain.walk import (Check, Step, _app_step, _cert_facts, _cv_check, _msgs, _request_facts,
                         _server_cert_check)
from lab.play.client import ClientConversation
from lab.script.setup import Setup
from layers.registry import HandshakeType as H
from layers.extensions import extensions_in


def steps13(run: ClientConversation, setup: Setup, ms: list[MessageInfo]) -> list[Step]:
    eng = run.engine
    k = eng.k
    hash_name = k.params.prf_hash
    ch, sh = _msgs(ms, "client", H.client_hello)[-1], _msgs(ms, "server", H.server_hello)[-1]
    ee, cr = _msgs(ms, "server", H.encrypted_extensions)[0], _msgs(ms, "server", H.certificate_request)
    scert, scv = _msgs(ms, "server", H.certificate)[0], _msgs(ms, "server", H.certificate_verify)[0]
    sfin = _msgs(ms, "server", H.finished)[0]
    ccert, ccv = _msgs(ms, "client", H.certificate)[0], _msgs(ms, "client", H.certificate_verify)[0]
    cfin = _msgs(ms, "client", H.finished)[0]
    share = next(e.payload.server_share for e in extensions_in(sh.layer.payload) if e.extension_type == 51)
    shared = eng.shares[share.group].shared_secret(bytes(share.key_exchange))
    schedule = tls13.KeySchedule(hash_name)
    c_hs, s_hs = schedule.handshake(shared, transcript_before(ms, sh, True) + sh.raw)
    c_ap, s_ap = schedule.application(transcript_before(ms, sfin, True) + sfin.raw)
    fin_s = tls13.finished_verify_data(hash_name, s_hs, prf.digest(hash_name, transcript_before(ms, sfin, True)))
    fin_c = tls13.finished_verify_data(hash_name, c_hs, prf.digest(hash_name, transcript_before(ms, cfin, True)))
    facts_cv, cv_check = _cv_check(ms, ccv, ccert, True, hash_name)
    return [
        Step(1, "ClientHello (with key shares)", "Unchanged in purpose, but the client already sends its "
             "ephemeral (EC)DHE public key (key_share) and signature algorithms; versions move to "
             "supported_versions.", [ch], [f"client random {k.client_random.hex()}"]),
        Step(2, "ServerHello (with the server's key share)", "The server picks the suite and answers with its own "
             "key share. From here on the handshake is encrypted: there is no separate key exchange step.", [sh],
             [f"cipher suite {suite_name(k.suite_code)}", f"(EC)DHE shared secret {shared.hex()}",
              "handshake secret = HKDF-Extract(derived early secret, shared secret); HKDF replaces the PRF"],
             [Check("the client handshake traffic secret recomputes (key log CLIENT_HANDSHAKE_TRAFFIC_SECRET)",
                    c_hs == k.c_hs, c_hs.hex()[:32] + "..."),
              Check("the server handshake traffic secret recomputes (SERVER_HANDSHAKE_TRAFFIC_SECRET)",
                    s_hs == k.s_hs, s_hs.hex()[:32] + "...")]),
        Step(3, "EncryptedExtensions", "New in TLS 1.3: the extensions that need not be in the clear.", [ee]),
        Step(4, "CertificateRequest (encrypted)", "The request now carries a context and extensions "
             "(signature_algorithms, certificate_authorities) and is encrypted: an observer cannot see that a "
             "certificate was requested, nor which CAs.", cr, _request_facts(cr)),
        Step(5, "Server Certificate, CertificateVerify, Finished (encrypted)", "The server signs the transcript "
             "hash (with a context string) instead of signing key-exchange parameters; its Finished ends the "
             "server flight. There is no ServerHelloDone.", [scert, scv, sfin],
             _cert_facts(scert, "server"), _server_cert_check(setup, scert)
             + [Check("the server Finished recomputes (HMAC with the server handshake secret)",
                      bytes(sfin.layer.payload.verify_data) == fin_s, fin_s.hex())]),
        Step(6, "Client Certificate (encrypted)", "The client's certificate is encrypted with the client "
             "handshake traffic key: a passive observer no longer reads the client's identity.", [ccert],
             _cert_facts(ccert, "client")),
        Step(7, "No ClientKeyExchange", "The key exchange already happened in the hellos; no premaster secret "
             "is encrypted to the server's key (RSA key exchange is gone from TLS 1.3).", []),
        Step(8, "CertificateVerify (encrypted)", "The client signs a context string and the transcript hash, not "
             "the raw messages.", [ccv], facts_cv, [cv_check]),
        Step(9, "Client Finished (encrypted)", "The HMAC over the transcript with the client handshake secret; "
             "no ChangeCipherSpec is needed (a dummy one may be sent for middleboxes).", [cfin],
             [f"application traffic secrets from the master secret: client {c_ap.hex()[:32]}..."],
             [Check("the client Finished recomputes", bytes(cfin.layer.payload.verify_data) == fin_c, fin_c.hex()),
              Check("the client application traffic secret recomputes (CLIENT_TRAFFIC_SECRET_0)", c_ap == k.c_ap)]),
        Step(10, "The server judges the certificate", "TLS 1.3 has no server Finished after the client's: the "
             "server's verdict on the client certificate (an alert such as certificate_required or "
             "unknown_ca) can only come after the client believes the handshake is done, on its first read.",
             []),
        _app_step(ms),
    ]
