"""flows/report/ is one package whose modules import one way, and that reads the warehouse, never raw/."""

from __future__ import annotations

import ast
from pathlib import Path

import flows.report

PACKAGE = Path(flows.report.__file__).parent
ORDER = [
    "labels",
    "text",
    "synthetic",
    "data",
    "medicare",
    "evidence",
    "glance",
    "sections",
    "figure",
    "execute",
    "page",
    "render",
    "flow",
]
"""Each module may import only modules before it (sections and figure do not import each other)."""


def package_imports(path: Path) -> set[str]:
    """The flows.report modules one file imports (at its top or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "flows.report":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("flows.report."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("flows.report.")}
    return found


def test_every_module_of_the_package_has_its_place_in_the_order() -> None:
    assert sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__") == sorted(ORDER)


def test_the_package_imports_one_way_and_has_no_cycle() -> None:
    assert package_imports(PACKAGE / "__init__.py") == set()  # importing one module never loads the others
    for module in ORDER:
        allowed = set(ORDER[: ORDER.index(module)]) - ({"sections"} if module == "figure" else set())
        imported = package_imports(PACKAGE / f"{module}.py")
        assert imported <= allowed, f"flows/report/{module}.py imports {sorted(imported - allowed)}: upward"


def test_the_package_reads_no_raw_file_and_names_the_source_declarations_once() -> None:
    uses_registry = []
    for path in sorted(PACKAGE.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for name in ("raw_dir", "reference_dir", "billing_code_file", "payer_alias_file", "read_reference"):
            assert name not in source, f"{path.name} reaches into raw/ ({name})"
        if "from flows import catalog" in source or "flows.catalog" in source:
            uses_registry.append(path.name)
    assert uses_registry == ["labels.py"]  # labels.source_description: the one place to repoint
