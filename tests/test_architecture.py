"""The dependency rules of ARCHITECTURE.md, read from the source with ast."""
from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STDLIB = set(sys.stdlib_module_names)


def imports(folder: str, lazy: bool = True):
    """(file, imported module) for every import under ``folder``; ``lazy=False`` leaves out the
    imports inside functions (those run only when the function does)."""
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path) as fh:
                    tree = ast.parse(fh.read(), path)
                nodes = ast.walk(tree) if lazy else _module_level(tree)
                for node in nodes:
                    if isinstance(node, ast.Import):
                        for a in node.names:
                            yield os.path.relpath(path, ROOT), a.name
                    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                        yield os.path.relpath(path, ROOT), node.module


def _module_level(tree: ast.Module):
    """The statements that run at import time (not those inside functions)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]


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
                    if n > 400:
                        big.append((name, n))
    assert not big


def test_engine_is_sans_io() -> None:
    """The engine never touches sockets, peers, capture or the dissector."""
    banned = ("lab.transport", "lab.peers", "lab.capture", "lab.dissect", "lab.play.conversation", "socket", "subprocess")
    bad = [(p, m) for p, m in imports("lab/engine") if m.startswith(banned)]
    assert not bad


def package_of(path: str) -> str:
    """lab/play/client.py -> lab.play; lab/pki.py -> lab.pki; layers/x.py -> layers."""
    parts = path[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts[:2])


def test_scenarios_import_only_the_script_the_pki_and_layers() -> None:
    allowed = ("lab.script", "lab.pki", "layers", "scenarios", "scapy.packet")  # scapy's Raw is a layer too
    bad = [(p, m) for p, m in imports("scenarios") if m.split(".")[0] not in STDLIB | {"cryptography"}
           and not m.startswith(allowed)]
    assert not bad


def test_the_script_does_no_io() -> None:
    """The DSL, generators and flows never load the transport, peers, capture or the players."""
    banned = ("lab.transport", "lab.peers", "lab.capture", "lab.play", "lab.tools", "lab.cli", "socket",
              "subprocess")
    bad = [(p, m) for p, m in imports("lab/script") if m.startswith(banned)]
    assert not bad


def test_nothing_below_the_cli_imports_it() -> None:
    bad = [(p, m) for folder in ("lab", "layers", "scenarios") for p, m in imports(folder)
           if m.startswith("lab.cli") and not p.startswith(os.path.join("lab", "cli"))
           and p != os.path.join("lab", "__main__.py")]   # the entry point sits above the CLI
    assert not bad


def test_no_import_circle_between_lab_packages() -> None:
    """Packages of lab/ (and lab's top-level modules) form a graph without cycles."""
    graph: dict[str, set[str]] = {}
    for folder in ("lab", "layers", "scenarios"):
        for p, m in imports(folder):
            src = package_of(p)
            dst = ".".join(m.split(".")[:2]) if m.startswith("lab.") else m.split(".")[0]
            if dst != src and (dst.startswith("lab.") or dst in ("layers", "scenarios")):
                graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path + [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False
    for node in sorted(graph):
        if state.get(node) is None and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_one_loop_plays_steps() -> None:
    """Only ``lab.play.conversation.play`` performs steps in a loop: every role and tool calls it."""
    loops = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "lab")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path) as fh:
                    tree = ast.parse(fh.read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, (ast.For, ast.While)) and any(
                            isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "perform"
                            for c in ast.walk(node)):
                        loops.append((os.path.relpath(path, ROOT), node.lineno))
    assert [p for p, _ in loops] == [os.path.join("lab", "play", "conversation.py")], loops
