"""Pandera schemas: one module per dataset family, plus shared field types in `fields`.

Importing this package first settles, once per process, that Pandera's Dask types are not used here.
Building a schema from a `DataFrameModel` (`to_schema()`) asks `pandera.typing.get_index_types()`, which
imports `pandera.typing.dask`, which tries `import dask.dataframe` (pandera 0.35: pandera/typing/__init__.py
`get_index_types`, pandera/typing/dask.py). Dask is installed (the TiC Dask runner, flows/tic_hooks.py), so the
first schema build of every process imported dask.dataframe: 0.3-0.7 s on this machine, for types no schema
here uses (every dataset is validated as a pandas frame). `_pandera_without_dask` imports that module once with
`dask` marked absent (a `None` entry in `sys.modules` makes its import raise ImportError:
https://docs.python.org/3/reference/import.html#the-module-cache), so pandera records `DASK_INSTALLED = False`,
then removes the mark: Dask itself stays importable for the runner.
"""

from __future__ import annotations

import sys


def _pandera_without_dask() -> None:
    if "pandera.typing.dask" in sys.modules or "dask" in sys.modules:
        return  # already settled, or dask is loaded anyway (nothing to save)
    sys.modules["dask"] = None  # type: ignore[assignment]
    try:
        import pandera.typing.dask  # noqa: F401
    finally:
        del sys.modules["dask"]


_pandera_without_dask()
