"""The dependency rules of DESIGN.md, read from the source with ast."""
from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STDLIB = set(sys.stdlib_module_names)


def imports(folder: str):
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path) as fh:
                    tree = ast.parse(fh.read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        for a in node.names:
                            yield os.path.relpath(path, ROOT), a.name
                    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                        yield os.path.relpath(path, ROOT), node.module


def top(module: str) -> str:
    return module.split(".")[0]


def test_layers_import_only_scapy_and_stdlib() -> None:
    bad = [(p, m) for p, m in imports("layers") if top(m) not in STDLIB | {"scapy", "layers"}]
    assert not bad


def test_crypto_is_bytes_in_bytes_out() -> None:
    bad = [(p, m) for p, m in imports("lab/crypto")
           if top(m) not in STDLIB | {"cryptography"} and not m.startswith("lab.crypto")]
    assert not bad


def test_only_the_shell_imports_scapy_all() -> None:
    bad = [(p, m) for folder in ("lab", "layers", "scenarios") for p, m in imports(folder)
           if m == "scapy.all" and p != os.path.join("lab", "tools", "shell.py")]
    assert not bad


def test_nothing_imports_scapy_tls_layer() -> None:
    bad = [(p, m) for folder in ("lab", "layers", "scenarios") for p, m in imports(folder)
           if m.startswith("scapy.layers.tls")]
    assert not bad


def test_importing_layers_binds_nothing_to_tcp() -> None:
    import subprocess
    code = ("import layers; from scapy.layers.inet import TCP; from layers.record import TLSPlaintext;"
            "print(any(c is TLSPlaintext for c, _ in TCP.payload_guess))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_modules_stay_small() -> None:
    big = []
    for folder in ("lab", "layers", "scenarios"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(dirpath, name)) as fh:
                        n = sum(1 for _ in fh)
                    if n > 600:
                        big.append((name, n))
    assert not big


def test_engine_is_sans_io() -> None:
    """The engine never touches sockets, peers, capture or the dissector."""
    banned = ("lab.transport", "lab.peers", "lab.capture", "lab.dissect", "lab.play.conversation", "socket", "subprocess")
    bad = [(p, m) for p, m in imports("lab/engine") if m.startswith(banned)]
    assert not bad
