"""What the warehouse build needs of the datasets' Pandera schema models, made where they are imported.

flows/steps/warehouse.py builds without pandas and pandera (flows/lean_build.py runs it in a process that never
imported them), so what it needs of the models comes in as `Datasets`, made here: each dataset's view
comment, the fingerprint of what its Parquet schema is made from, and its empty Parquet file. This module imports
neither pandera nor Arrow until a function needs them, and never flows/steps/warehouse.py, which imports it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path

from flows.settings import Settings
from flows.steps.lake import ADVISORY, QUARANTINE, write_file_atomic

FINDINGS = {"quarantine": QUARANTINE, "advisory": ADVISORY}
"""The findings views and their folders in the lake."""


class Datasets(Mapping[str, str]):
    """What the build needs of the datasets' schema models, without them: each dataset's name (in the catalog's
    order) and its view's comment, the fingerprint of what their Parquet schemas are made from (`plan`'s state),
    the text of the load log's and the findings' Arrow layouts (`system_schemas`, also in the state), and
    `empty_files(settings, key)`: the empty Parquet file of each dataset and of `load_log`, `quarantine` and
    `advisory`, which gives a view over no loads its columns (making those needs the Pandera schemas and Arrow: the
    caller's function does it). Every function of flows/steps/warehouse.py that takes `schemas` takes either this or
    the mapping of dataset -> schema model, which it turns into this (`datasets` below, which imports pandera)."""

    def __init__(
        self,
        docs: Mapping[str, str],
        fingerprint: str,
        empty_files: Callable[[Settings, str], Mapping[str, Path]],
        system_schemas: tuple[str, str],
    ) -> None:
        self.docs = dict(docs)
        self.fingerprint = fingerprint
        self._empty_files = empty_files
        self.system_schemas = system_schemas

    def __getitem__(self, dataset: str) -> str:
        return self.docs[dataset]

    def __iter__(self) -> Iterator[str]:
        return iter(self.docs)

    def __len__(self) -> int:
        return len(self.docs)

    def empty_files(self, settings: Settings, key: str) -> dict[str, Path]:
        return dict(self._empty_files(settings, key))


def digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def empty_file(settings: Settings, name: str, schema) -> Path:  # type: ignore[no-untyped-def]
    """An empty Parquet file with the exact schema, so a view over no loads still has its columns."""
    import pyarrow.parquet as pq

    from flows.steps.store import write_table_atomic

    # named by its schema, never rewritten: a session on an older build keeps reading the file it lists
    path = settings.lake_read_dir / "_empty" / f"{name}-{digest(schema)[:12]}.parquet"
    if not path.exists() or pq.read_schema(path) != schema:
        write_table_atomic(schema.empty_table(), path)
    return path


def datasets(schemas: Mapping[str, type]) -> Datasets:
    """`Datasets` of the dataset -> schema model mapping (the caller's catalog)."""
    from flows.steps.load_log import LOG_SCHEMA
    from flows.steps.store import FINDING_SCHEMA

    return Datasets(
        {dataset: model_doc(model) for dataset, model in schemas.items()},
        schema_fingerprint(schemas),
        partial(empty_files, schemas=dict(schemas)),
        (str(FINDING_SCHEMA), str(LOG_SCHEMA)),
    )


def model_doc(model: type) -> str:
    """A dataset view's comment: the first paragraph of its model's docstring."""
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def schema_fingerprint(schemas: Mapping[str, type]) -> str:
    """What the datasets' Parquet schemas (`dataset_arrow_schema`) are made from, without building them (40
    Pandera schemas cost ~0.4 s, on every nothing-new run): each dataset's model by name, the text of every
    module its models live in and of their packages' other modules (shared field types), the code that turns
    a model into Arrow types and lineage columns (validate.py, load.py), and Pandera's and Arrow's versions."""
    import pandera
    import pyarrow

    from flows.steps.load import dataset_arrow_schema

    loader = Path(inspect.getfile(dataset_arrow_schema))
    files: set[Path] = {loader, loader.with_name("validate.py")}
    for model in schemas.values():
        module = Path(inspect.getfile(model))
        files |= set(module.parent.glob("*.py")) if module.parent.joinpath("__init__.py").exists() else {module}
    return digest(
        *(f"{d}={model.__module__}.{model.__qualname__}" for d, model in schemas.items()),
        *(f"{f.name}:{hashlib.sha256(f.read_bytes()).hexdigest()}" for f in sorted(files)),
        pandera.__version__,
        pyarrow.__version__,
    )


def empty_files(settings: Settings, fingerprint: str, *, schemas: Mapping[str, type]) -> dict[str, Path]:
    """Each dataset's empty file (`empty_file`), then those of the system views (`load_log`, `quarantine`,
    `advisory`: fixed Arrow layouts, checked each time as before). Making them needs every dataset's Parquet schema, which
    builds its Pandera schema (39 of them: ~0.3 s of a build); `fingerprint` (the build state's `schema`: what those
    schemas are made from) names an index of the files made for it, so a build with the same schemas lists them
    without building one."""
    from flows.steps.load_log import LOG_SCHEMA
    from flows.steps.store import FINDING_SCHEMA

    system = {
        "load_log": empty_file(settings, "load_log", LOG_SCHEMA),
        **{name: empty_file(settings, name, FINDING_SCHEMA) for name in FINDINGS},
    }
    index = settings.lake_read_dir / "_empty" / f"index-{fingerprint[:24]}.json"
    try:
        names = json.loads(index.read_text(encoding="utf-8"))
        files = {dataset: index.with_name(names[dataset]) for dataset in schemas}
        if all(f.exists() for f in files.values()):
            return files | system
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from flows.steps.load import dataset_arrow_schema

    files = {dataset: empty_file(settings, dataset, dataset_arrow_schema(model)) for dataset, model in schemas.items()}
    write_file_atomic(index, json.dumps({dataset: f.name for dataset, f in files.items()}, sort_keys=True))
    return files | system
