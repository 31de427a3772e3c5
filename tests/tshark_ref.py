"""Wireshark's (tshark's) reading of a capture: the independent truth the dissector is tested
against. Parses ``tshark -T json`` keeping repeated keys (several records per frame)."""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class TsharkView:
    messages: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: {"client": [], "server": []})
    records: dict[str, Counter] = field(default_factory=lambda: {"client": Counter(), "server": Counter()})
    certificates: dict[str, list[list[str]]] = field(default_factory=lambda: {"client": [], "server": []})
    ca_names: list[list[str]] = field(default_factory=list)
    malformed: int = 0


def _pairs(pairs: list) -> list:
    return pairs  # keep order and duplicates


def _strings(tree: object) -> list[str]:
    """The attribute values (UTF8String, PrintableString...) inside a dissected Name, in order."""
    out: list[str] = []
    if isinstance(tree, list):
        for k, v in tree:
            if isinstance(v, str) and k.startswith("x509sat.") and k.endswith("String") \
                    and not k.endswith("DirectoryString"):
                out.append(v)
            else:
                out.extend(_strings(v))
    return out


def _find(tree: object, key: str) -> list:
    """Every value stored under ``key`` anywhere below ``tree`` (1.3 nests CA names in an extension)."""
    out: list = []
    if isinstance(tree, list):
        for k, v in tree:
            if k == key:
                out.append(v)
            else:
                out.extend(_find(v, key))
    return out


def _walk_record(rec: list, direction: str, view: TsharkView) -> None:
    d = dict(rec)
    wire = d.get("tls.record.opaque_type") or d.get("tls.record.content_type")
    if wire is not None:
        view.records[direction][int(wire)] += 1
    elif d.get("tls.record.version") == "0x0002":   # SSLv2: no content type, the message type in the record
        view.records[direction][None] += 1
        if "tls.handshake.type" in d:
            view.messages[direction].append(("handshake", int(d["tls.handshake.type"])))
    for key, val in rec:
        if key == "tls.handshake" and isinstance(val, list):
            hd = dict(val)
            if "tls.handshake.type" in hd:
                view.messages[direction].append(("handshake", int(hd["tls.handshake.type"])))
                certs = [v for k, v in val if k == "tls.handshake.certificates"]
                if certs:
                    view.certificates[direction].append([v for k, v in certs[0] if k == "tls.handshake.certificate"])
                if int(hd["tls.handshake.type"]) == 13:
                    view.ca_names.append([_strings(x) for x in _find(val, "tls.handshake.dname")])
        elif key == "tls.alert_message" and isinstance(val, list):
            view.messages[direction].append(("alert", int(dict(val)["tls.alert_message.desc"])))


def tshark_view(pcap: str, keylog: str | None = None, port: int | None = None,
                prefs: list[str] | None = None, decode_as: list[str] | None = None) -> TsharkView:
    views = tshark_streams(pcap, keylog, port, prefs, decode_as)
    total = TsharkView()
    for v in views.values():
        for d in ("client", "server"):
            total.messages[d] += v.messages[d]
            total.records[d] += v.records[d]
            total.certificates[d] += v.certificates[d]
        total.ca_names += v.ca_names
        total.malformed += v.malformed
    return total


def tshark_streams(pcap: str, keylog: str | None = None, port: int | None = None,
                   prefs: list[str] | None = None, decode_as: list[str] | None = None) -> dict[str, TsharkView]:
    """One view per TCP stream (tshark's tcp.stream), in the order the streams appear."""
    exe = shutil.which("tshark")
    assert exe, "tshark is required for this test"
    cmd = [exe, "-r", pcap, "-T", "json", "-J", "tcp tls _ws.malformed", "-o", "tls.desegment_ssl_records:TRUE",
           "-o", "tls.desegment_ssl_application_data:TRUE"]
    if keylog:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    if port:
        cmd += ["-d", f"tcp.port=={port},tls"]
    for rule in decode_as or []:
        cmd += ["-d", rule]
    for pref in prefs or []:
        cmd += ["-o", pref]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    frames = json.loads(out, object_pairs_hook=_pairs) if out.strip() else []
    views: dict[str, TsharkView] = {}
    client_ports: dict[str, int] = {}  # tcp.stream -> the port that sent the first TLS record
    for frame in frames:
        layers = dict(dict(frame)["_source"])["layers"]
        tcp = dict(dict(layers).get("tcp", []))
        sport, stream = int(tcp.get("tcp.srcport", 0)), tcp.get("tcp.stream", "0")
        for key, val in layers:
            if key == "_ws.malformed":
                views.setdefault(stream, TsharkView()).malformed += 1
            if key != "tls":
                continue
            records = [v for k, v in val if k == "tls.record"] if isinstance(val, list) else []
            for rec in records:
                client_port = client_ports.setdefault(stream, sport)  # the ClientHello comes first
                _walk_record(rec, "client" if sport == client_port else "server", views.setdefault(stream, TsharkView()))
    return views


def certlab_view(doc: dict) -> TsharkView:
    """The same facts from one connection of ``certlab dissect --json``."""
    view = TsharkView()
    for m in doc["messages"]:
        if m["kind"] in ("handshake", "alert") and m["type"] is not None:
            view.messages[m["direction"]].append((m["kind"], m["type"]))
            if m["kind"] == "handshake" and m["type"] == 11 and "body" in m:
                view.certificates[m["direction"]].append(
                    [e["cert_data"] for e in m["body"].get("certificate_list", [])])
            if m["kind"] == "handshake" and m["type"] == 13:
                view.ca_names.append(m.get("certificate_authorities", []))
    for r in doc["records"]:
        view.records[r["direction"]][r["content_type"]] += 1
    return view
