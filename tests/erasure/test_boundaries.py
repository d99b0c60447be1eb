"""Erasure spans every layer but owns none: it calls the store's, vault's and lake's public
methods and takes them as arguments (`erasure.layers.Layers`), never their private members,
their engines or the facade that imports erasure."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import memgraph_ops.erasure

ERASURE = Path(memgraph_ops.erasure.__file__).parent
MODULES = sorted(ERASURE.glob("*.py"))
CLI_ADAPTER = "cli.py"
"""The `memgraph-ops erase` command builds the facade it hands to erasure (a CLI face)."""
ENGINES = {"duckdb", "zstandard"}
"""Engines another package wraps (the store's DuckDB, the vault's zstd frames)."""


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every module and imported name."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _foreign_privates(tree: ast.AST) -> list[tuple[int, str]]:
    """`x._name` where `x` is not `self`, `cls` or a standard-library module (whose private
    types annotations may name, as `argparse._SubParsersAction`): a reach into another
    object's internals."""
    own = {"self", "cls", *sys.stdlib_module_names}
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in own)
        ):
            out.append((node.lineno, f".{node.attr}"))
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_erasure_uses_only_public_members_of_other_packages(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = _foreign_privates(tree)
    for line, name in _imports(tree):
        parts = name.split(".")
        if parts[0] in ENGINES:
            problems.append((line, f"imports {name}"))
        foreign = parts[0] == "memgraph_ops" and len(parts) > 2 and parts[1] != "erasure"
        if foreign and any(p.startswith("_") for p in parts[2:]):
            problems.append((line, f"imports {name}"))
        facade = parts[:2] == ["memgraph_ops", "api"] or name == "memgraph_ops.Memgraph"
        if facade and path.name != CLI_ADAPTER:
            problems.append((line, f"imports the facade ({name})"))
    assert problems == [], f"{path.name}: {problems}"


def test_the_guard_sees_a_reach_in() -> None:
    """The checks above would catch what erasure used to do."""
    old = (
        "from memgraph_ops.api import Memgraph\n"
        "from memgraph_ops.store._duckdb import connect\n"
        "import duckdb\n"
        "def f(store, mg):\n"
        "    with store._lock:\n"
        "        store._con.execute('DELETE FROM events')\n"
        "    store._context_cache.clear()\n"
        "    mg._store = None\n"
    )
    tree = ast.parse(old)
    assert {n for _, n in _foreign_privates(tree)} == {
        "._lock", "._con", "._context_cache", "._store"
    }  # fmt: skip
    names = {n for _, n in _imports(tree)}
    assert {"memgraph_ops.api.Memgraph", "memgraph_ops.store._duckdb.connect", "duckdb"} <= names
