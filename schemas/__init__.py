"""Pandera schemas: one module per dataset family, plus shared field types in `fields`.

pandera.typing.dask is imported with `dask` marked absent, whenever it is first imported (not at this
package's import: the report and the CLI read only `fields`' enumerations and never import pandera).
Building a schema from a `DataFrameModel` (`to_schema()`) asks `pandera.typing.get_index_types()`, which
imports `pandera.typing.dask`, which tries `import dask.dataframe` (0.3-0.7 s) for types no schema here uses.
A `None` entry in `sys.modules` makes that import raise ImportError
(https://docs.python.org/3/reference/import.html#the-module-cache), so pandera records `DASK_INSTALLED = False`;
the mark is removed at once: Dask itself stays importable for the runner.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any


class _PanderaDaskWithoutDask(importlib.abc.MetaPathFinder):
    """Finds `pandera.typing.dask` as Python would, and runs it with `dask` marked absent."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "pandera.typing.dask" or "dask" in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            sys.modules["dask"] = None  # type: ignore[assignment]
            try:
                run(module)
            finally:  # only our mark: a dask another thread finished importing meanwhile stays
                if "dask" in sys.modules and sys.modules["dask"] is None:
                    del sys.modules["dask"]

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "pandera.typing.dask" not in sys.modules and not any(isinstance(f, _PanderaDaskWithoutDask) for f in sys.meta_path):
    sys.meta_path.insert(0, _PanderaDaskWithoutDask())
