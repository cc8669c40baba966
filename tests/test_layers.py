"""The layout holds: every import of plugin/ (inside functions too) goes down the layers or
stays within one, never up, and no set of modules imports itself round in a circle; core
imports no web, database, HTTP, queue or settings code; no module grows past 400 lines.
The layers and their order are the README's "How it is built"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent.parent / "plugin"
MAX_LINES = 400

# Lowest first: a module may import its own layer and the ones before it.
LAYERS = (
    ("base", ("plugin.models", "plugin.errors")),
    ("core", ("plugin.core",)),
    ("settings", ("plugin.config",)),
    ("db", ("plugin.db",)),
    ("adapters", ("plugin.connectors", "plugin.queue", "plugin.metrics")),
    ("services", ("plugin.services",)),
    ("web", ("plugin.web",)),
    ("top", ("plugin.tasks", "plugin.runtime", "plugin.worker", "plugin.cli", "plugin.cli_admin", "plugin")),
)
# What pure code must not reach for: the caller passes settings, storage and clients in.
CORE_FORBIDDEN = ("flask", "werkzeug", "sqlalchemy", "alembic", "requests", "huey", "redis", "psycopg",
                  "dotenv", "plugin.config", "plugin.db", "plugin.connectors", "plugin.services", "plugin.web")


def modules() -> dict[str, Path]:
    found = {}
    for path in PLUGIN.rglob("*.py"):
        if "migrations" in path.relative_to(PLUGIN).parts:
            continue
        name = ".".join(path.relative_to(PLUGIN.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> set[str]:
    """Every module this one imports, at any depth of its code (plugin modules resolved exactly)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in MODULES else base)
    return out


GRAPH = {name: {i for i in imports(name, path) if i in MODULES} for name, path in MODULES.items()}


def layer(name: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{name} is in no layer: add it to LAYERS and the README"
    return best[0]


def test_every_module_is_in_a_layer():
    for name in MODULES:
        layer(name)


def test_no_module_imports_a_layer_above_it():
    upward = [f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
              for name, targets in GRAPH.items() for target in targets
              if layer(target) > layer(name) and not name.startswith(target + ".")]
    assert upward == []


def test_the_import_graph_has_no_cycles():
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(GRAPH[node]):
            if node.startswith(target + "."):
                continue  # a package's own __init__ is not a dependency of its modules
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == 1))
def test_core_is_pure(name):
    reached = {i for i in imports(name, MODULES[name])
               if any(i == f or i.startswith(f + ".") for f in CORE_FORBIDDEN)}
    assert reached == set(), f"{name} imports {reached}: pass what it needs in instead"


def test_base_imports_nothing_of_ours():
    for name in ("plugin.models", "plugin.errors"):
        assert GRAPH[name] == set()


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
