"""The bridge's package layout keeps its promises (README "Architecture"): every module imports,
no module imports another's private name, no import cycle (TYPE_CHECKING imports count too),
one module writes to stream sockets, and the wire constants are defined once."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import bridge

ROOT = Path(bridge.__file__).parent
# Calls that put bytes on a client's socket (aiohttp transports, WebSocket and SSE answers).
SOCKET_WRITES = {"send_frame", "send_str", "send_bytes", "send_json"}
SOCKET_WRITER = "bridge.streams.connection"


def modules() -> dict[str, ast.Module]:
    """Every module of the bridge's server side and client, by dotted name, parsed."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return found


MODULES = modules()


def is_package(name: str) -> bool:
    return (ROOT.parent / name.replace(".", "/") / "__init__.py").exists()


def imports(name: str, tree: ast.Module) -> set[str]:
    """The bridge modules `name` imports anywhere in its text (functions and TYPE_CHECKING
    blocks included): `from a import b` is a.b when that is a module, else a."""
    found: set[str] = set()
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def graph() -> dict[str, set[str]]:
    """Import edges, plus the packages an import runs first (a.b.c runs a and a.b) unless they
    hold the importer (a package's own modules are imported after its __init__ anyway)."""
    edges: dict[str, set[str]] = {}
    for name, tree in MODULES.items():
        targets = set()
        for target in imports(name, tree):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                parent = ".".join(parts[:i])
                if parent in MODULES and not (name + ".").startswith(parent + "."):
                    targets.add(parent)
        edges[name] = targets - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("name", [m.name for m in pkgutil.walk_packages(bridge.__path__,
                                                                         "bridge.")
                                  if m.name != "bridge.__main__"])  # that one runs the CLI
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_checks_see_the_modules() -> None:
    assert {"bridge.streams.connection", "bridge.protocol", "bridge.client.metrics"} <= \
        set(MODULES)
    assert "bridge.protocol" in imports("bridge.client.common", MODULES["bridge.client.common"])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_module_imports_a_private_name_of_another() -> None:
    found = []
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bridge"):
                found += [f"{name}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and a.name != "__version__"]
    assert found == []


def test_one_module_writes_to_stream_sockets() -> None:
    """Server side: transports' write() and aiohttp's send_* are called in one module only."""
    writers = set()
    for name, tree in MODULES.items():
        if name.startswith("bridge.client"):
            continue  # the client writes to its own sockets
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr, owner = node.func.attr, node.func.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else \
                    getattr(owner, "id", "")
                if attr in SOCKET_WRITES or (attr == "write" and owner_name in
                                             ("transport", "resp", "ws")) \
                        or is_close_frame(node):
                    writers.add(name)
    assert writers == {SOCKET_WRITER}


def is_close_frame(call: ast.Call) -> bool:
    """`ws.close(code=...)`: aiohttp writes a close frame (and may wait for the peer)."""
    return isinstance(call.func, ast.Attribute) and call.func.attr == "close" and \
        any(k.arg == "code" for k in call.keywords)


def test_the_socket_check_sees_a_close_frame() -> None:
    call = ast.parse("ws.close(code=1008, message=b'x')").body[0].value
    assert is_close_frame(call) and not is_close_frame(ast.parse("db.close()").body[0].value)


def test_wire_constants_are_defined_once() -> None:
    """The literals of the contract appear in bridge.protocol and nowhere else in code."""
    literals = {"promwire.msgpack", "/api/ws/ws", "/api/ws/ws/alerts", "/api/metrics/current",
                "/api/sse/metrics", "/api/sse/alerts"}
    found = []
    for name, tree in MODULES.items():
        if name == "bridge.protocol" or name.endswith(".apidoc"):
            continue  # OpenAPI descriptions name their paths as data
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in literals:
                found.append(f"{name}: {node.value}")
    assert found == []
