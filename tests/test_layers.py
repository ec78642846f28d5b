"""Layers point one way: every import of every module under flows/ and schemas/, read with ast.

All imports count: module level, inside functions, and under `if TYPE_CHECKING:` (a type-only import
still ties the two modules together for a reader and for the next refactor). The test fails on
- an import that points up a layer, or into a layer its layer may not use (steps -> adapters),
- any import cycle between modules (the message gives the cycle's path),
- a module that no layer lists (a new module must be placed in LAYERS below),
- a KNOWN_VIOLATIONS entry that no longer occurs (so the list only shrinks).
"""

from __future__ import annotations

import ast
import fnmatch
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "schemas")


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # dotted names; `*` matches anything (the most specific pattern wins)
    skips: frozenset[str] = frozenset()  # lower layers this one may NOT import even so


# The layer table, lowest first. A module may import modules of its own layer and of any layer
# listed before its own, except the layers in its `skips`.
LAYERS: tuple[Layer, ...] = (
    # importable by all: exceptions, paths and tunables, the Pandera schemas; the (empty) package inits
    Layer(
        "base",
        (
            "flows.errors",
            "flows.settings",
            "flows.orchestration",
            "schemas",
            "schemas.*",
            "flows",
            "flows.sources",
            "flows.engines",
            "flows.steps",
            "flows.ops",
        ),
    ),
    # the adapter interface (Batch, Source, FileRejected, ReadContext, PayerLookup; cadence.py's Cadence,
    # Period and Group types a Source carries): engines raise its
    # FileRejected, adapters implement it, steps consume it
    Layer("interface", ("flows.sources.base", "flows.sources.cadence")),
    # byte/file engines the adapters use (streaming readers, prefilters, JSON guard, TiC extraction)
    Layer("engines", ("flows.engines.*",)),
    # one adapter per source: parse only
    Layer("adapters", ("flows.sources.*",)),
    # load, store, validate, load log, lock, warehouse build: they get the source and its schema from
    # the caller, so never an adapter (and the catalog sits above them)
    Layer("steps", ("flows.steps.*",), skips=frozenset({"adapters"})),
    # fetch: HTTP, the manifest and each source's fetch step (flows/fetch/); it lands files under raw/ and may
    # use the steps' atomic writes and an adapter's column names, never the catalog
    Layer("fetch", ("flows.fetch", "flows.fetch.*")),
    # the one declaration of every source (flows/catalog.py) and the hooks its entries name
    # (tic_hooks.py: a table of contents expanded to files, files run on Dask)
    Layer("catalog", ("flows.catalog", "flows.tic_hooks")),
    # Prefect flows, the benchmark report, operations (run summary, status, deployments), lookups
    Layer(
        "flows",
        (
            "flows.ingest",
            "flows.fetch_sources",
            "flows.run_pipeline",
            "flows.build_warehouse",
            "flows.lean_build",
            "flows.land_inbox",
            "flows.lookups",
            "flows.report",
            "flows.report.*",
            "flows.ops.*",
        ),
    ),
    # the command line: the only place exit codes are decided
    Layer("cli", ("flows.cli", "flows.cli.*", "flows.__main__")),
)

# Violations other changes of issue 13 are removing right now. Each must still occur (the test fails
# on a stale entry), so this set empties as those changes merge.
KNOWN_VIOLATIONS: frozenset[str] = frozenset({})


# --- reading the imports ---------------------------------------------------------------------------


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of a .py file under root (a package's __init__.py is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of the given packages under root, by dotted name."""
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The project module an imported dotted name lands in (its longest known prefix), or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """Project modules `module` imports anywhere in its file (module level, functions, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, `level - 1` packages up
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # `from a.b import c`: c is the module a.b.c when there is one, else a name in a.b
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, known)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    known = project_modules(root, packages)
    return {module: imports_of(module, path, known) for module, path in known.items()}


# --- judging them ----------------------------------------------------------------------------------


def layer_of(module: str, layers: tuple[Layer, ...] = LAYERS) -> Layer | None:
    """The layer whose most specific pattern matches the module (an exact name beats any wildcard)."""
    best: tuple[tuple[bool, int], Layer] | None = None
    for layer in layers:
        for pattern in layer.modules:
            if fnmatch.fnmatchcase(module, pattern):
                rank = ("*" not in pattern, len(pattern.split("*")[0]))
                if best is None or rank > best[0]:
                    best = (rank, layer)
    return best[1] if best else None


def layer_violations(graph: Mapping[str, set[str]], layers: tuple[Layer, ...] = LAYERS) -> dict[str, str]:
    """`importer -> imported` -> why it breaks the layer table; an unplaced module is one too."""
    order = {layer.name: index for index, layer in enumerate(layers)}
    found: dict[str, str] = {}
    for module in sorted(graph):
        if layer_of(module, layers) is None:
            found[f"unplaced: {module}"] = f"{module} is in no layer: add it to LAYERS in tests/test_layers.py"
    for module, targets in sorted(graph.items()):
        own = layer_of(module, layers)
        for target in sorted(targets):
            theirs = layer_of(target, layers)
            if own is None or theirs is None or own is theirs:
                continue
            if order[theirs.name] > order[own.name]:
                why = f"points up: {own.name} -> {theirs.name}"
            elif theirs.name in own.skips:
                why = f"{own.name} may not import {theirs.name}"
            else:
                continue
            found[f"{module} -> {target}"] = f"{module} ({own.name}) imports {target} ({theirs.name}): {why}"
    return found


def _components(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component))
    return result


def _cycle_path(graph: Mapping[str, set[str]], members: list[str]) -> list[str]:
    """A shortest import path from the first member back to itself, within the component."""
    inside = set(members)
    start = members[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in inside:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component always has one


def cycles(graph: Mapping[str, set[str]]) -> dict[str, str]:
    """`cycle: a, b, ...` (the modules of one import cycle) -> one path around it."""
    return {
        f"cycle: {', '.join(members)}": "import cycle: " + " -> ".join(_cycle_path(graph, members))
        for members in _components(graph)
        if len(members) > 1
    }


def violations(root: Path, layers: tuple[Layer, ...] = LAYERS, packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Every layer violation and import cycle of the modules under root."""
    graph = import_graph(root, packages)
    return {**layer_violations(graph, layers), **cycles(graph)}


# --- the project -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def found() -> dict[str, str]:
    return violations(ROOT)


def test_no_import_points_up_a_layer_or_closes_a_cycle(found: dict[str, str]) -> None:
    new = {key: why for key, why in found.items() if key not in KNOWN_VIOLATIONS}
    assert not new, "layer violations (see LAYERS in tests/test_layers.py):\n" + "\n".join(sorted(new.values()))


def test_every_known_violation_still_occurs(found: dict[str, str]) -> None:
    """A violation fixed elsewhere leaves this list: the list only shrinks, and is empty once issue 13 lands."""
    stale = sorted(KNOWN_VIOLATIONS - found.keys())
    assert not stale, f"no longer violations, remove them from KNOWN_VIOLATIONS: {stale}"


def test_the_graph_sees_the_imports_it_must() -> None:
    """The reader finds imports at module level, inside functions and under TYPE_CHECKING."""
    graph = import_graph(ROOT)
    assert "flows.sources.base" in graph["flows.sources.tic"]  # module level
    assert "flows.engines.readers" in graph["flows.sources.reference"]  # `from x.y import name`
    assert "flows.ops.status" in graph["flows.cli"]  # inside a function (`from flows.ops import status`)
    assert "flows.steps.warehouse" in graph["flows.ops.run_summary"]  # under TYPE_CHECKING
    assert "flows.settings" in graph["flows.sources.base"]  # under TYPE_CHECKING


def test_the_layer_table_places_modules_by_their_most_specific_pattern() -> None:
    assert layer_of("flows.sources.base").name == "interface"  # type: ignore[union-attr]
    assert layer_of("flows.catalog").name == "catalog"  # type: ignore[union-attr]
    assert layer_of("flows.sources.tic").name == "adapters"  # type: ignore[union-attr]
    assert layer_of("flows.engines.tic_scan").name == "engines"  # type: ignore[union-attr]
    assert layer_of("flows.ops.status").name == "flows"  # type: ignore[union-attr]
    assert layer_of("schemas.fields").name == "base"  # type: ignore[union-attr]
    assert layer_of("flows.cli").name == "cli"  # type: ignore[union-attr]
    assert layer_of("flows.somewhere_new") is None


# --- the checker catches what it must (synthetic modules) ------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


PACKAGE_INITS = {
    f"{p}/__init__.py": "" for p in ("flows", "flows/engines", "flows/sources", "flows/steps", "flows/ops", "schemas")
}


def test_an_upward_import_is_reported_wherever_it_hides(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            **PACKAGE_INITS,
            "flows/errors.py": "",
            "schemas/fields.py": "from flows import errors\n",  # base -> base: fine
            "flows/sources/base.py": "from flows.errors import *\n",
            "flows/catalog.py": "from flows.sources import base\n",  # catalog -> interface: fine
            "flows/engines/readers.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from flows.steps.store import Writer     # engines -> steps: up
            """,
            "flows/sources/tic.py": """
                from flows.engines import readers             # adapters -> engines: fine
                def read():
                    from flows import catalog                 # adapters -> catalog: up
            """,
            "flows/steps/load.py": """
                from flows.sources.base import Batch          # steps -> interface: fine
                from flows.sources.tic import read            # steps -> adapters: not allowed
                from . import store                           # relative, same layer: fine
            """,
            "flows/steps/store.py": "from ..cli import main\n",  # relative, steps -> cli: up
            "flows/cli.py": "import flows.sources.base\n",  # cli -> interface: fine
            "flows/stray.py": "",
        },
    )
    found = violations(tmp_path)
    assert set(found) == {
        "flows.engines.readers -> flows.steps.store",
        "flows.sources.tic -> flows.catalog",
        "flows.steps.load -> flows.sources.tic",
        "flows.steps.store -> flows.cli",
        "unplaced: flows.stray",
    }
    assert "points up: engines -> steps" in found["flows.engines.readers -> flows.steps.store"]
    assert "steps may not import adapters" in found["flows.steps.load -> flows.sources.tic"]


def test_an_import_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            **PACKAGE_INITS,
            "flows/steps/a.py": "from flows.steps import b\n",
            "flows/steps/b.py": "def f():\n    from flows.steps.c import g\n",  # hidden in a function
            "flows/steps/c.py": "import flows.steps.a\n",
            "flows/steps/d.py": "from flows.steps import a\n",  # into the cycle, not part of it
            "flows/ops/x.py": "from flows.ops import y\n",
            "flows/ops/y.py": "from flows.ops.x import thing\n",
        },
    )
    found = violations(tmp_path)
    assert found == {
        "cycle: flows.ops.x, flows.ops.y": "import cycle: flows.ops.x -> flows.ops.y -> flows.ops.x",
        "cycle: flows.steps.a, flows.steps.b, flows.steps.c": (
            "import cycle: flows.steps.a -> flows.steps.b -> flows.steps.c -> flows.steps.a"
        ),
    }
