"""Property-based fuzzing (hypothesis): every layer's dissector, handshake parsing with any hint,
the record/handshake reassembly, the key-log parser, and ``certlab dissect``/``diagnose`` on
mutated real captures (the reference captures in pcaps/). Nothing may raise except the lab's own
typed errors (MalformedLayer, KeyLogError, InputError); no input may take more than a second
(hypothesis' deadline); length fields claiming 16 MiB must not make anything allocate that much.
Crashers found so far are kept as explicit examples."""
from __future__ import annotations

import inspect
import os
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from scapy.packet import Packet

import layers
import layers.extensions
from lab.tools import diagnose
from lab.dissect import render as report
from lab.crypto.keylog import KeyLog, KeyLogError
from lab.dissect import InputError, dissect
from lab.engine.recordstream import MAX_RECORD, Problem, Record, RecordStream, Unit
from layers.fields import LengthDelimitedHeader, MalformedLayer
from layers.handshake import Hint, parse_handshake
from tests.fuzz_dissect import mutate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The seed corpus: the reference captures; CERTLAB_FUZZ_SEEDS names another folder of captures
# (a matrix's pcaps/) for a longer run, CERTLAB_FUZZ_EXAMPLES the number of examples per test.
SEED_DIR = os.environ.get("CERTLAB_FUZZ_SEEDS") or os.path.join(ROOT, "pcaps")
SEEDS = sorted(os.path.join(SEED_DIR, f) for f in os.listdir(SEED_DIR) if f.endswith(".pcapng"))
LAYERS = sorted({c for m in (layers, layers.extensions) for c in vars(m).values()
                 if inspect.isclass(c) and issubclass(c, Packet) and c.__module__.startswith("layers")
                 and c is not LengthDelimitedHeader}, key=lambda c: c.__name__)
FAST = settings(max_examples=int(os.environ.get("CERTLAB_FUZZ_EXAMPLES", "150")), deadline=1000,
                suppress_health_check=[HealthCheck.too_slow], database=None)


@FAST
@given(cls=st.sampled_from(LAYERS), data=st.binary(max_size=700))
@example(cls=layers.CertificateRequest12, data=b"\x01\x01\x00\xc8" + b"\x04\x03" * 100)  # > 100 items
@example(cls=layers.Handshake, data=b"\x01\xff\xff\xff")
def test_every_layer_dissects_or_says_malformed(cls, data: bytes) -> None:
    try:
        pkt = cls(data)
    except MalformedLayer:
        return
    bytes(pkt)
    pkt.summary()


HINTS = st.builds(Hint, st.sampled_from([None, 0x0300, 0x0301, 0x0303, 0x0304]),
                  st.sampled_from([None, "rsa", "dhe", "ecdhe", "dh_anon", "psk", "tls13"]))


@FAST
@given(msg_type=st.integers(0, 255), body=st.binary(max_size=600), hint=HINTS)
def test_parse_handshake_any_type_any_hint(msg_type: int, body: bytes, hint: Hint) -> None:
    wire = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    try:
        parse_handshake(wire, hint).summary()
    except MalformedLayer:
        pass


def _records_from(data: bytes) -> bytes:
    """Random bytes framed as plausible records, so the stream gets past the first header."""
    out, i = b"", 0
    while i < len(data):
        n = data[i] % 64
        out += bytes([20 + data[i] % 5, 3, 3]) + n.to_bytes(2, "big") + data[i + 1:i + 1 + n].ljust(n, b"\0")
        i += 1 + n
    return out


@FAST
@given(data=st.binary(max_size=2000), framed=st.booleans(), cuts=st.lists(st.integers(0, 2000), max_size=8),
       tls13=st.booleans())
def test_record_stream_any_bytes_any_chunking(data: bytes, framed: bool, cuts: list[int], tls13: bool) -> None:
    wire = _records_from(data) if framed else data
    stream = RecordStream(tls13)
    stream.protected = tls13 and len(data) % 2 == 0
    bounds = sorted({0, len(wire), *[c % (len(wire) + 1) for c in cuts]})
    for a, b in zip(bounds, bounds[1:]):
        for item in stream.feed(wire[a:b]):
            assert isinstance(item, (Record, Unit, Problem))
        assert stream.pending <= MAX_RECORD + 5


@FAST
@given(text=st.text(max_size=400))
@example(text="CLIENT_RANDOM zz 00")
def test_keylog_parser_raises_only_its_error(text: str) -> None:
    try:
        KeyLog.parse(text)
    except KeyLogError:
        pass


@settings(max_examples=int(os.environ.get("CERTLAB_FUZZ_EXAMPLES", "150")), deadline=1000, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), salt=st.integers(0, 2**32 - 1))
@example(seed=os.path.join(ROOT, "pcaps", "tls12-ecdhe-client-auth.pcapng"), salt=28108)
def test_dissect_and_diagnose_mutated_captures(seed: str, salt: int, tmp_path_factory) -> None:
    with open(seed, "rb") as fh:
        data = mutate(fh.read(), random.Random(salt))
    path = str(tmp_path_factory.mktemp("fuzz") / "mutated.pcapng")
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        result = dissect(path)
    except InputError:
        return
    report.to_text(result)
    report.to_json(result)
    diagnose.to_text(result, diagnose.diagnose(result))


@pytest.mark.parametrize("wire", [
    b"\x16\x03\x03\xff\xff" + b"\x01",                                   # a record claiming 64 KiB
    b"\x16\x03\x03\x00\x08" + b"\x01\xff\xff\xff" + b"\x03\x03\x00\x00",   # a handshake claiming 16 MiB
    b"\x16\x03\x03\x00\x30" + b"\x01\x00\x00\x2c\x03\x03" + b"\x00" * 32 + b"\x00\xff\xfe\x00\x01",  # suites 64 KiB
])
def test_length_claims_allocate_nothing_of_the_kind(wire: bytes) -> None:
    tracemalloc.start()
    try:
        stream = RecordStream()
        for _ in range(200):   # the same lie again and again
            items = list(stream.feed(wire))
            for item in items:
                if isinstance(item, Unit) and item.content_type == 22:
                    try:
                        parse_handshake(item.data)
                    except MalformedLayer:
                        pass
            if stream.dead:
                stream = RecordStream()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak} bytes"


def test_short_aead_record_is_a_decrypt_error() -> None:
    """Crasher (mutated nginx capture): a TLS 1.2 GCM record shorter than its nonce and tag."""
    from lab.crypto.record import RecordDecryptError
    from lab.crypto.derive import tls12_protections
    from lab.engine.state import suite_params as suite
    client, _ = tls12_protections(0x0303, suite(0xC02F), b"\x01" * 48, b"\x02" * 32, b"\x03" * 32, False)
    with pytest.raises(RecordDecryptError):
        client.decrypt(23, 0x0303, b"\x00" * 10)


def _vec(data: bytes, width: int = 2) -> bytes:
    return len(data).to_bytes(width, "big") + data


def _both_ways(cls: type[Packet], wire: bytes) -> tuple[str, str]:
    """The layer as certlab's element lists dissect it and as scapy's PacketListField does."""
    from unittest import mock
    from scapy.fields import PacketListField
    from layers.fields import ElementListField

    def view() -> str:
        try:
            pkt = cls(wire)
        except MalformedLayer as exc:
            return f"malformed: {exc}"
        return pkt.show(dump=True) + bytes(pkt).hex()
    ours = view()
    with mock.patch.object(ElementListField, "getfield", PacketListField.getfield):
        return ours, view()


@FAST
@given(items=st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=24)), max_size=6),
       lie=st.tuples(st.integers(0, 400), st.integers(0, 255)), cut=st.integers(0, 400))
@example(items=[(0, b"\0\x07\0\0\x04host"), (43, b"\x02\x03\x04")], lie=(0, 0), cut=400)
def test_element_lists_dissect_as_scapys_own_lists(items, lie, cut) -> None:
    """Differential: extension lists, CA name lists and key shares, well-formed, with one byte
    lied about and cut short, give the same layers and bytes as scapy's own list dissection."""
    def forge(wire: bytes) -> bytes:
        b = bytearray(wire)
        if lie[0] < len(b):
            b[lie[0]] = lie[1]
        return bytes(b[:cut])
    exts = b"".join(t.to_bytes(2, "big") + _vec(body) for t, body in items)
    hello = b"\x03\x03" + bytes(32) + b"\x00" + _vec(b"\xc0\x2f") + b"\x01\x00" + _vec(exts)
    cas = b"\x01\x01" + _vec(b"\x04\x01") + _vec(b"".join(_vec(body) for _, body in items))
    shares = _vec(b"".join(t.to_bytes(2, "big") + _vec(body) for t, body in items))
    psks = (_vec(b"".join(_vec(body) + b"\0\0\0\1" for _, body in items))
            + _vec(b"".join(_vec(body, 1) for _, body in items)))
    names = _vec(b"".join(b"\0" + _vec(body) for _, body in items))
    alpn = _vec(b"".join(_vec(body, 1) for _, body in items))
    chain = _vec(b"".join(_vec(body, 3) for _, body in items), 3)
    for cls, wire in ((layers.ClientHello, hello), (layers.CertificateRequest12, cas),
                      (layers.extensions.KeyShareCH, shares), (layers.extensions.OfferedPsks, psks),
                      (layers.extensions.ServerNameList, names), (layers.extensions.ALPN, alpn),
                      (layers.Certificate12, chain)):
        ours, scapys = _both_ways(cls, forge(wire))
        assert ours == scapys
