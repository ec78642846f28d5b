"""tests/ mirrors the code: every module has its own test file, or tests/README.md says where it is covered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR

TESTS = PROJECT_DIR / "tests"
README_ROW = re.compile(r"^\| `(?P<module>[^`]+\.py)` \| (?P<where>.+) \|$")


def modules(root: Path = PROJECT_DIR) -> list[Path]:
    """Every code module under flows/ and schemas/ (package __init__ files aside), relative to root."""
    found = [p for folder in ("flows", "schemas") for p in (root / folder).rglob("*.py")]
    return sorted(p.relative_to(root) for p in found if p.name != "__init__.py" and "__pycache__" not in p.parts)


def mirrored(module: Path) -> Path:
    """Where a module's own tests live: flows/<pkg>/<m>.py -> tests/<pkg>/test_<m>.py; schemas/ keeps its folder."""
    parts = module.parts[1:] if module.parts[0] == "flows" else module.parts
    return Path("tests", *parts[:-1], f"test_{module.stem}.py")


def covered_elsewhere(readme: Path = TESTS / "README.md") -> dict[str, list[str]]:
    """tests/README.md's table: module -> the test files it names."""
    table = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        if match := README_ROW.match(line):
            table[match["module"]] = re.findall(r"`(tests/[^`]+\.py)`", match["where"])
    return table


def test_every_module_has_a_mirrored_test_file_or_a_readme_line() -> None:
    elsewhere = covered_elsewhere()
    unplaced = [str(m) for m in modules() if not (PROJECT_DIR / mirrored(m)).is_file() and str(m) not in elsewhere]
    assert not unplaced, f"add tests/<mirror>/test_<module>.py or a row in tests/README.md for: {unplaced}"


def test_the_readme_names_only_modules_and_test_files_that_exist() -> None:
    elsewhere = covered_elsewhere()
    assert len(elsewhere) >= 10  # the table was read (a format change would otherwise pass silently)
    known = {str(m) for m in modules()}
    assert not set(elsewhere) - known, f"tests/README.md names modules that are gone: {set(elsewhere) - known}"
    missing = sorted({f for files in elsewhere.values() for f in files if not (PROJECT_DIR / f).is_file()})
    assert not missing, f"tests/README.md names test files that do not exist: {missing}"
    assert all(elsewhere.values()), [m for m, files in elsewhere.items() if not files]
    mirrored_too = [m for m in elsewhere if (PROJECT_DIR / mirrored(Path(m))).is_file()]
    assert not mirrored_too, f"these have their own test file now; drop their README row: {mirrored_too}"


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("flows/steps/load.py", "tests/steps/test_load.py"),
        ("flows/catalog.py", "tests/test_catalog.py"),
        ("flows/report/data.py", "tests/report/test_data.py"),
        ("schemas/cms_mcd.py", "tests/schemas/test_cms_mcd.py"),
    ],
)
def test_the_mirror_of_a_module(module: str, expected: str) -> None:
    assert mirrored(Path(module)) == Path(expected)


def test_a_new_module_without_tests_is_caught(tmp_path: Path) -> None:
    (tmp_path / "flows" / "steps").mkdir(parents=True)
    (tmp_path / "flows" / "steps" / "new_step.py").write_text("", encoding="utf-8")
    (tmp_path / "schemas").mkdir()
    found = modules(tmp_path)
    assert found == [Path("flows/steps/new_step.py")]
    assert not (tmp_path / mirrored(found[0])).exists()
    readme = tmp_path / "README.md"
    readme.write_text("| `flows/steps/new_step.py` | `tests/steps/test_load.py` |\n", encoding="utf-8")
    assert covered_elsewhere(readme) == {"flows/steps/new_step.py": ["tests/steps/test_load.py"]}
