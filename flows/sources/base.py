"""The interface every source adapter implements, and the error a bad file raises.

An adapter turns one raw file into a stream of `Batch`es: DataFrame chunks of raw values
(mostly text, named as the dataset schema names them) plus a `source_record` locator per row.
It never validates values and never writes anything: schemas validate, one loader writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flows.errors import ConfigurationError, PayerbenchError
from flows.sources.cadence import Cadence, Group

if TYPE_CHECKING:  # pragma: no cover - pandas stays out of processes that only scan bytes
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from flows.settings import Settings

RECORD_COLUMN = "source_record"
"""Column every batch carries: where in the file the row came from ("line 12", "$[3]")."""


class FileRejected(PayerbenchError):
    """A whole file cannot be loaded: nothing from it is kept.

    The message is one line naming the file, where (line / byte / JSON path) when known, what is
    wrong and what was expected, so an analyst can fix the file without reading code.
    """

    def __init__(self, path: Path | str, problem: str, expected: str = "", where: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.expected = expected
        self.where = where
        super().__init__(self.message)

    @property
    def message(self) -> str:
        location = f" ({self.where})" if self.where else ""
        wanted = f"; expected {self.expected}" if self.expected else ""
        return f"{self.path.name}{location}: {self.problem}{wanted}"


@dataclass
class Level:
    """One level of a file's rows (its header, its items, its prices...): the distinct entries, one row of
    `entries` each (raw values: a frame of object columns, or an Arrow table whose values as Python objects
    are the raw values), and for each row of the batch the entry it takes."""

    entries: pd.DataFrame | pa.Table  # rows 0..len-1
    at: np.ndarray  # intp, one per row of the batch: the row's entry
    # A level whose entries last the whole file (provider groups) names itself: its `entries` then only grow
    # from batch to batch (the same entries first, new ones after), and the loader reads each entry once.
    key: str | None = None
    # Entries held as Arrow may keep some columns as Python objects beside the table (exact decimals, which no
    # one Arrow type holds as they were written): a frame of object columns, same rows; `order` then gives
    # the level's columns in order, those of both.
    objects: pd.DataFrame | None = None
    order: list[str] | None = None

    @property
    def names(self) -> list[str]:
        if self.order is not None:
            return list(self.order)
        entries = self.entries
        return list(entries.column_names) if hasattr(entries, "column_names") else list(entries.columns)

    def values(self, name: str, at: np.ndarray) -> np.ndarray:
        """The raw values of column `name` at entries `at`, as an object array."""
        import numpy as np

        if self.objects is not None and name in self.objects.columns:
            return self.objects[name].to_numpy(dtype=object).take(at)
        if hasattr(self.entries, "column_names"):
            import pyarrow as pa

            taken = self.entries.column(name).take(pa.array(at, type=pa.int64())).to_pylist()
            return np.fromiter(taken, dtype=object, count=len(taken))
        return self.entries[name].to_numpy(dtype=object).take(at)

    def entries_frame(self, start: int = 0) -> pd.DataFrame:
        """The entries from `start` on as a frame of raw values (object columns, index from 0)."""
        import numpy as np
        import pandas as pd

        if hasattr(self.entries, "column_names"):
            table = self.entries.slice(start)
            data = {}
            for name in table.column_names:
                values = table.column(name).to_pylist()
                data[name] = np.fromiter(values, dtype=object, count=len(values))
            if self.objects is not None:
                for name in self.objects.columns:
                    data[name] = self.objects[name].to_numpy(dtype=object)[start:]
            return pd.DataFrame({name: data[name] for name in self.names}, dtype=object, copy=False)
        return self.entries.iloc[start:].reset_index(drop=True) if start else self.entries


@dataclass
class Levels:
    """A batch's rows held as levels (`Level`): each row is one entry of every level plus its locator, so
    the loader validates and converts each distinct entry once (flows/steps/validate.py `check_levels`)
    and builds a frame only for the rows that need one (`frame`). Columns not named in `floats` are the
    entries' values as they are; those in `floats` are shown as floats (NaN for None), as pandas held a
    column of ints with a gap."""

    levels: list[Level]
    records: np.ndarray | pa.Array  # each row's source_record (an object array, or Arrow text)
    floats: frozenset[str] = frozenset()
    tail: list[Level] = field(default_factory=list)  # levels whose columns come after source_record (payer_group)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def columns(self) -> list[str]:
        return [
            *(name for level in self.levels for name in level.names),
            RECORD_COLUMN,
            *(name for level in self.tail for name in level.names),
        ]

    def record_array(self, positions: np.ndarray) -> pa.Array:
        """The source_record of the rows at `positions`, as Arrow text."""
        import pyarrow as pa

        if isinstance(self.records, pa.Array):
            return self.records.take(pa.array(positions, type=pa.int64()))
        return pa.array(self.records[positions], type=pa.string())

    def _record_values(self, positions: np.ndarray | None) -> np.ndarray:
        """The source_record of all rows (or those at `positions`) as an object array."""
        import numpy as np
        import pyarrow as pa

        if isinstance(self.records, pa.Array):
            taken = self.records if positions is None else self.records.take(pa.array(positions, type=pa.int64()))
            values = taken.to_pylist()
            return np.fromiter(values, dtype=object, count=len(values))
        return self.records if positions is None else self.records[positions]

    def frame(self, positions: np.ndarray | None = None) -> pd.DataFrame:
        """The rows (all, or those at `positions`, which become the index) as one frame of object columns,
        the columns in level order then source_record."""
        import numpy as np
        import pandas as pd

        data: dict[str, object] = {}

        def add(levels: list[Level]) -> None:
            for level in levels:
                at = level.at if positions is None else level.at[positions]
                for name in level.names:
                    values = level.values(name, at)
                    if name in self.floats:
                        values = np.array(
                            [float("nan") if v is None else float(v) for v in values.tolist()], dtype=object
                        )
                    data[name] = values

        add(self.levels)
        data[RECORD_COLUMN] = self._record_values(positions)
        add(self.tail)
        index = None if positions is None else pd.Index(positions)
        return pd.DataFrame(data, index=index, dtype=object, copy=False)


@dataclass
class Batch:
    """A chunk of rows for one dataset, as parsed (not yet validated)."""

    dataset: str
    frame: pd.DataFrame | None  # None when the rows come as `levels`
    # Rows the adapter already knows are broken (e.g. a CSV row with too many fields). Columns:
    # source_record, column, check, failure_value, reason, raw_record. Quarantined as they are.
    rejects: pd.DataFrame | None = None
    # The same rows as the file held them, before the adapter normalised values (same index):
    # quarantine shows failing values and raw records from here, e.g. "Maybe Covered" as typed.
    raw: pd.DataFrame | None = None
    # True for rows *about* the file rather than rows *of* it (the data year an adapter read from
    # the file name, the codes a filtered file was scanned for): stored like any dataset, with
    # lineage, but not counted in rows read / loaded; a fact that fails its schema rejects the file.
    describes_file: bool = False
    # Advisory findings the adapter makes itself, e.g. about the whole file (same columns as
    # `rejects`): written to the advisory table and counted in the load's advisories; rows still load.
    advisories: pd.DataFrame | None = None
    # The rows as levels (see `Levels`) instead of `frame`: no per-row frame unless a row needs one.
    levels: Levels | None = None

    def __post_init__(self) -> None:
        # the loader's level path (flows/steps/load.py `_load_levels`) writes rows only: anything else given with
        # levels would be lost there, so it is refused here, where the adapter made the batch
        given = [name for name in ("frame", "rejects", "raw", "advisories") if getattr(self, name) is not None]
        if self.levels is not None and (given or self.describes_file):
            raise ValueError(f"a {self.dataset} batch of levels carries rows only, not {given or 'describes_file'}")

    def row_count(self) -> int:
        """How many rows the batch holds (not `__len__`: a batch of no rows is still a batch)."""
        return len(self.frame) if self.frame is not None else len(self.levels or ())

    def rows(self) -> pd.DataFrame:
        """The batch's rows as one frame (`frame`, or the frame of its `levels`)."""
        if self.frame is not None or self.levels is None:
            return self.frame
        return self.levels.frame()


class PayerLookup(Protocol):
    """What an adapter may ask of the payer directory (flows/steps/payer_directory.py implements it)."""

    def lookup(self, name: object) -> str | None:
        """Payer group for a payer name as the source writes it, or None when the directory does not know it."""
        ...


@dataclass
class ReadContext:
    """What an adapter may consult while parsing (never the warehouse)."""

    settings: Settings
    codes_of_interest: frozenset[str] = frozenset()
    payers: PayerLookup | None = None
    # Facts the user states about the files of one ingest (`payerbench ingest SRC FILE -o
    # data_year=2022`) when the file itself cannot tell; only keys the source declares in
    # `Source.options` are accepted.
    options: Mapping[str, str] = field(default_factory=dict)


Reader = Callable[[Path, ReadContext], Iterator[Batch]]
Detector = Callable[[Path], bool]


@dataclass(frozen=True)
class FetchStep:
    """Where and how a source's files are fetched, as its catalog entry declares it.

    Sources whose entries share a step (same `key`) share its downloads: the PFS RVU zip feeds four sources.
    """

    key: str  # the step's name, also the prefix of its manifest logical keys ("cms_pfs_rvu_zip")
    # run(context: flows.fetch.run.FetchContext) -> [flows.fetch.manifest.ManifestRow, ...]
    run: Callable[..., list[Any]]
    discovery: str  # README: where it is published and how its newest release is found
    home: str  # the page or document discovery starts from (the manifest's URL when a step fails before asking)
    every: str  # README: how often the scheduled fetch checks it, and what request it makes
    licence: str | None = None  # "cms_ama": downloads need PAYERBENCH_ACCEPT_CMS_LICENSE=yes


@dataclass(frozen=True)
class Source:
    """One source as flows/catalog.py declares it: its adapter, the datasets it feeds with their
    schemas, how payer names are resolved, its calendar and labels, and the hooks only some need.

    Steps receive a `Source` from their caller; they never look one up themselves.
    """

    name: str
    description: str
    read: Reader
    # dataset -> the pandera DataFrameModel that validates it, in the order the adapter yields them
    schemas: Mapping[str, type]
    detect: Detector | None = None
    # Column holding a payer name as the source writes it, resolved to `payer_group` by the
    # loader through the shared payer reference table; None when the source names no payer.
    payer_column: str | None = None
    # What happens to a payer name the reference table does not know: "quarantine" (a policy
    # row about an unknown payer is useless) or "other" (kept under payer group `other`).
    unknown_payer: str = "quarantine"
    # Loaded before every other source in `run` (reference tables other sources resolve against).
    is_reference: bool = False
    file_globs: tuple[str, ...] = field(default=("*",))
    # files in its raw folder that are not its data (the TiC crawl's plans beside the tables of contents it lands)
    skip_globs: tuple[str, ...] = ()
    # Options `payerbench ingest` accepts for this source, as (name, what it means) pairs.
    options: tuple[tuple[str, str], ...] = ()
    # --- calendar and labels (status, deployments, README, report)
    cadence: Cadence | None = None
    group: Group | None = None  # the deployment group that loads it on a schedule
    labels: Mapping[str, str] = field(default_factory=dict)  # dataset -> label a reader understands
    formats: str = ""  # README: the format versions the adapter reads
    grain: str = ""  # README: one row per ...
    engines: tuple[str, ...] = ()  # README: engine modules the adapter streams through
    # --- hooks, for what only some sources need (None: the source does not need it)
    # expand(toc, settings, download) -> [toc, *files it lists]: a table of contents becomes files
    expand: Callable[..., list[Path]] | None = None
    # runner(settings, address) -> a Prefect task runner (None: files load one after another here)
    runner: Callable[..., Any] | None = None
    # where and how the source is fetched (flows/fetch/); None: it is only read from raw/ and the inbox
    fetch: FetchStep | None = None
    # remote(settings) -> the URLs its fetch step planned, streamed straight from the network after a fetch
    # (never stored whole: TiC in-network files); None: the source's files are read from raw/ only
    remote: Callable[..., list[str]] | None = None

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self.schemas)

    def label(self, dataset: str) -> str:
        """The dataset's human label, or its name when the catalog gives none."""
        return self.labels.get(dataset, dataset)

    def check_options(self, options: Mapping[str, str]) -> None:
        """ConfigurationError naming an option this source does not take, and the ones it does."""
        known = dict(self.options)
        for name in options:
            if name not in known:
                takes = "; ".join(f"{k} ({v})" for k, v in known.items()) or "none"
                raise ConfigurationError(f"source {self.name!r} takes no option {name!r}; options it takes: {takes}")
