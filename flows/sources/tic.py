"""Payers' Transparency-in-Coverage machine-readable files (45 CFR 147.212, CMS schema v1.x and v2.x).

Publisher: every US group health plan and issuer (or its TPA), listed in the plan's table of
contents. Formats (all one JSON object; `.json`, `.json.gz` or a `.zip` holding one JSON file):
  - in-network rates: `provider_references[]` + `in_network[]` items with `negotiated_rates[]`
    (provider reference ids or inline `provider_groups`) and `negotiated_prices[]`;
  - allowed amounts: `out_of_network[].allowed_amounts[].payments[].providers[]`;
  - table of contents: `reporting_structure[]` of `reporting_plans[]` + `in_network_files[]` +
    `allowed_amount_file`;
  - provider-reference files (v1 remote references): `provider_groups[]`.
The kind and schema version are told by the file's own keys and `version`, never its name.
Cadence: monthly (the rule requires an update each month, dated `last_updated_on`).
Quirks handled: float `provider_group_id`s (CareFirst `690.64462`); place-of-service codes
without their leading zero (HealthSCOPE `["1", "11"]` -> "01", "11"); provider_references after
in_network, or absent; v1 remote references (`location` URLs, resolved from a local copy of the
referenced file kept next to the in-network file, else kept with NULL NPIs and a reason);
`expiration_date` 9999-12-31 for "no end"; NPIs written as floats; billing codes written as numbers.
Only items for the codes of interest are kept (raw/reference/billing_codes.csv); provider groups
are kept only for the rates kept. Extraction: see flows/engines/tic_scan.py.
"""

from __future__ import annotations

import decimal
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from flows.engines.json_guard import decompressed
from flows.engines.json_guard import items as json_items
from flows.engines.tic_scan import Extract, extract, id_text
from flows.engines.tic_stream import Limits, open_raw
from flows.sources.base import Batch, FileRejected, Level, Levels, ReadContext

RATE = "tic__in_network_rate"
ALLOWED = "tic__allowed_amount"
FILE = "tic__file"
TOC = "tic__toc_file"
DATASETS = (RATE, ALLOWED, FILE, TOC)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

HEADER_FIELDS = [
    "reporting_entity_name",
    "reporting_entity_type",
    "plan_name",
    "plan_id_type",
    "plan_id",
    "plan_market_type",
    "issuer_name",
    "plan_sponsor_name",
    "last_updated_on",
]


def detect(path: Path) -> bool:
    """True for JSON (or gzipped / zipped JSON) whose opening bytes carry TiC top-level keys."""
    try:
        raw, _, _ = open_raw(path)
    except FileRejected:
        return False
    try:
        head = raw.read(256 * 1024)
    except Exception:  # noqa: BLE001 - a corrupt container is simply not recognised
        return False
    finally:
        raw.close()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] == b"{" and any(
        k in head for k in (b'"reporting_entity_name"', b'"in_network"', b'"reporting_structure"', b'"out_of_network"')
    )


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Extract the codes of interest from one TiC file and yield its rows (and one file row)."""
    # spilled provider references go beside the warehouse (leftovers.recover sweeps them); with the lake
    # in an object store the reader may be a Dask worker on another machine: its own temporary folder
    local = not ctx.settings.lake_url and ctx.settings.warehouse_dir.exists()
    result = extract(
        path,
        ctx.codes_of_interest,
        limits=Limits.of(ctx.settings),
        spill_dir=ctx.settings.warehouse_dir if local else None,
    )
    rows = ctx.settings.chunk_rows
    codes: set[str] | None = None  # an in-network file's billing codes, gathered as its rows are built
    if result.kind == "in_network":
        # remote provider references are resolved from local copies next to a local file; a file read from
        # its URL (a RemoteFile) has no folder, so they stay `remote_unresolved`
        folder = path.parent if isinstance(path, Path) else None
        codes = set()
        levels_of = in_network_levels(result, folder, Limits.of(ctx.settings), rows, codes=codes, release=True)
        for levels in levels_of:
            yield Batch(RATE, None, levels=levels)
            del levels  # not held while the next batch is built
    elif result.kind == "allowed_amount":
        yield from _batches(ALLOWED, allowed_amount_rows(result), rows)
    elif result.kind == "table_of_contents":
        yield from _batches(TOC, toc_rows(result), rows)
    elif result.kind == "unknown":
        raise FileRejected(
            path,
            "a JSON object without in_network, out_of_network, reporting_structure or provider_groups",
            "a Transparency-in-Coverage file",
        )
    yield Batch(FILE, _frame([{**file_row(result, path, codes), "source_record": "$"}]), describes_file=True)


def _batches(dataset: str, rows: Iterator[dict], size: int) -> Iterator[Batch]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield Batch(dataset, _frame(chunk))
            chunk = []
    if chunk:
        yield Batch(dataset, _frame(chunk))


def _frame(rows: list[dict]) -> pd.DataFrame:
    import pandas as pd  # imported here: the extraction step alone never needs pandas

    return pd.DataFrame.from_records(rows).astype(object)


# --- shared value helpers -------------------------------------------------------------------------
def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
        return id_text(value) if not isinstance(value, decimal.Decimal) else str(value)
    return json.dumps(value, default=str)


def _texts(values: object) -> list[str] | None:
    """A JSON list as a list of strings (None when absent); a scalar becomes a one-item list."""
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    return [t for t in (_text(v) for v in values) if t is not None]


def _places_of_service(values: object) -> list[str] | None:
    """CMS place-of-service codes are 2-digit text; files that drop the leading zero (HealthSCOPE
    writes ["1", "3", "11"]) or write numbers are read as "01", "03", "11"."""
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    out = []
    for v in values:
        if type(v) is str:  # nearly every code: as `_text` reads it, then the leading zero
            out.append(f"0{v}" if len(v) == 1 and v.isdigit() else v)
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 100:
            out.append(f"{v:02d}")
        else:
            text = _text(v)
            if text is not None:
                out.append(f"0{text}" if len(text) == 1 and text.isdigit() else text)
    return out


def _npis(values: object) -> list[str] | None:
    """NPIs as 10-digit text; numbers written as floats (1234567890.0) are read as integers."""
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    # ints and strings (nearly every NPI) without a call each; anything else as `_npi`
    return [v if type(v) is str else str(v) if type(v) is int else _npi(v) for v in values]


def _npi(v: object) -> str:
    if isinstance(v, decimal.Decimal) and v == v.to_integral_value():
        v = int(v)
    return str(v) if not isinstance(v, str) else v


def _number(value: object) -> tuple[decimal.Decimal | None, str]:
    """(exact number or None, JSON type of the value as written)."""
    if isinstance(value, bool):
        return None, "boolean"
    if isinstance(value, int):
        return decimal.Decimal(value), "number"
    if isinstance(value, decimal.Decimal):
        return value, "number"
    if value is None:
        return None, "null"
    if isinstance(value, str):
        return None, "string"
    return None, type(value).__name__


def _header(ex: Extract) -> dict[str, object]:
    h = ex.header
    out = {name: _text(h.get(name)) for name in HEADER_FIELDS}
    out["payer_name"] = out["reporting_entity_name"]
    out["schema_version"] = _text(h.get("version"))
    return out


def _code_columns(item: dict) -> dict[str, object]:
    """The billing-code columns of an in-network or allowed-amount item."""
    return {
        "billing_code_type": _text(item.get("billing_code_type")),
        "billing_code_type_version": _text(item.get("billing_code_type_version")),
        "billing_code": _text(item.get("billing_code")),
        "item_name": _text(item.get("name")),
    }


# --- in-network ---------------------------------------------------------------------------------------
def _item_columns(item: dict) -> dict[str, object]:
    """The columns an in-network item gives each of its rows: its code, arrangement, bundled codes and
    covered services."""
    return {
        **_code_columns(item),
        "negotiation_arrangement": _text(item.get("negotiation_arrangement")),
        "bundled_codes": _texts([c.get("billing_code") for c in item.get("bundled_codes") or [] if isinstance(c, dict)])
        or None,
        "covered_services": _texts(
            [c.get("billing_code") for c in item.get("covered_services") or [] if isinstance(c, dict)]
        )
        or None,
    }


def in_network_rows(ex: Extract, folder: Path | None, limits: Limits | None = None) -> Iterator[dict]:
    """One row per billing code x negotiated price x provider group (NPI list and TIN)."""
    header = _header(ex)
    remote: dict[str, list[dict] | None] = {}
    for locator, item in ex.items:
        base = {**header, **_item_columns(item)}
        for j, rate in enumerate(item.get("negotiated_rates") or []):
            if not isinstance(rate, dict):
                continue
            groups = list(_groups_of(rate, ex, folder, remote, limits))
            for k, price in enumerate(rate.get("negotiated_prices") or []):
                if not isinstance(price, dict):
                    continue
                price_cols = _price(price)
                for suffix, group_cols in groups:
                    row = dict(base)
                    row.update(price_cols)
                    row.update(group_cols)
                    row["source_record"] = f"{locator}.negotiated_rates[{j}].negotiated_prices[{k}]{suffix}"
                    yield row


PRICE_COLUMNS = [
    "negotiated_type",
    "negotiated_rate_usd",
    "negotiated_percentage",
    "negotiated_rate_text",
    "negotiated_rate_json_type",
    "billing_class",
    "setting",
    "service_codes",
    "billing_code_modifiers",
    "expiration_date",
    "additional_information",
]
GROUP_COLUMNS = [
    "provider_group_status",
    "provider_group_id",
    "provider_reference_location",
    "network_names",
    "npis",
    "npi_count",
    "tin_type",
    "tin_value",
    "tin_business_name",
]


def _price(price: dict) -> dict[str, object]:
    return dict(zip(PRICE_COLUMNS, _price_values(price)))


def _price_values(price: dict) -> tuple:
    """A negotiated price's columns (PRICE_COLUMNS), in order."""
    # text values (nearly all) are taken as they are, without a call each: `_text` for anything else
    get = price.get
    kind = v if type(v := get("negotiated_type")) is str else _text(v)
    rate = get("negotiated_rate")
    value, json_type = _number(rate)
    is_percentage = kind == "percentage"
    return (
        kind,
        None if is_percentage else value,
        value if is_percentage else None,
        _text(rate),
        json_type,
        v if type(v := get("billing_class")) is str else _text(v),
        v if type(v := get("setting")) is str else _text(v),
        _places_of_service(get("service_code")),
        None if (v := get("billing_code_modifier")) is None else _texts(v),
        v if type(v := get("expiration_date")) is str else _text(v),
        (v if type(v := get("additional_information")) is str else _text(v)) or None,
    )


def _group_cols(
    group: dict | None, status: str, group_id: str | None, location: str | None, networks: object
) -> dict[str, object]:
    return dict(zip(GROUP_COLUMNS, _group_values(group, status, group_id, location, _names(networks))))


def _names(networks: object) -> list[str] | None:
    """A reference's network names as text (once per reference, shared by its groups' rows)."""
    return None if networks is None else _texts(networks)


def _group_values(
    group: dict | None, status: str, group_id: str | None, location: str | None, names: list[str] | None
) -> tuple:
    """A provider group's columns (GROUP_COLUMNS), in order; `names`: the network names as `_names` reads them."""
    tin = (group or {}).get("tin") if isinstance(group, dict) else None
    tin = tin if isinstance(tin, dict) else {}
    npis = _npis(group.get("npi")) if isinstance(group, dict) else None
    get = tin.get
    return (
        status,
        group_id,
        location,
        names,
        npis,
        len(npis) if npis is not None else None,
        v if type(v := get("type")) is str else _text(v),
        v if type(v := get("value")) is str else _text(v),
        v if type(v := get("business_name")) is str else _text(v),
    )


def _groups_of(
    rate: dict, ex: Extract, folder: Path | None, remote: dict[str, list[dict] | None], limits: Limits | None = None
) -> Iterator[tuple[str, dict]]:
    """(locator suffix, provider-group columns) for every provider group a rate applies to."""
    any_group = False
    for g, group in enumerate(rate.get("provider_groups") or []):
        any_group = True
        yield f".provider_groups[{g}]", _group_cols(group, "inline", None, None, None)
    for r, ref in enumerate(rate.get("provider_references") or []):
        any_group = True
        suffix = f".provider_references[{r}]"
        for tail, values in _reference_groups(id_text(ref), ex, folder, remote, limits):
            yield suffix + tail, dict(zip(GROUP_COLUMNS, values))
    if not any_group:
        yield "", _group_cols(None, "no_provider_group", None, None, None)


def _reference_groups(
    key: str, ex: Extract, folder: Path | None, remote: dict[str, list[dict] | None], limits: Limits | None
) -> list[tuple[str, tuple]]:
    """(locator tail after `.provider_references[r]`, provider-group columns as `_group_values`) for one
    reference id: the same for every rate naming it (a remote reference's file is read once, see
    `_remote_groups`)."""
    entries = ex.provider_refs.get(key) or []
    if not entries:
        return [("", _group_values(None, "unknown_reference", key, None, None))]
    if len(entries) > 1:
        return [("", _group_values(None, "duplicate_reference_id", key, None, None))]
    entry = entries[0]
    names = _names(entry.get("network_name"))
    location = _text(entry.get("location"))
    groups = entry.get("provider_groups")
    status = "resolved"
    if groups is None and location:
        groups = _remote_groups(location, folder, remote, limits)
        status = "remote_resolved"
        if groups is None:
            return [("", _group_values(None, "remote_unresolved", key, location, names))]
    if not groups:
        return [("", _group_values(None, "empty_reference", key, location, names))]
    return [
        (
            _GROUP_TAILS[g] if g < len(_GROUP_TAILS) else f".provider_groups[{g}]",
            _group_values(group, status, key, location, names),
        )
        for g, group in enumerate(groups)
    ]


_GROUP_TAILS = [f".provider_groups[{g}]" for g in range(64)]


def _remote_groups(
    location: str, folder: Path | None, cache: dict[str, list[dict] | None], limits: Limits | None = None
) -> list[dict] | None:
    """Provider groups of a remote reference, from a local copy named like the URL's file (never fetched).
    The copy is held to the same limits as the file itself (size, ratio, one value, nesting depth)."""
    if location in cache:
        return cache[location]
    if folder is None:
        return None
    name = Path(urlparse(location).path).name
    candidates = [folder / name, folder / f"{name}.gz", folder / "provider_references" / name]
    groups = None
    for candidate in candidates:
        if candidate.is_file():
            with decompressed(candidate, limits, "a real TiC provider-reference file") as stream:
                groups = list(json_items(stream, "provider_groups.item"))
            break
    cache[location] = groups
    return groups


# --- in-network, as columns ---------------------------------------------------------------------------
HEADER_COLUMNS = [*HEADER_FIELDS, "payer_name", "schema_version"]
ITEM_COLUMNS = [
    "billing_code_type",
    "billing_code_type_version",
    "billing_code",
    "item_name",
    "negotiation_arrangement",
    "bundled_codes",
    "covered_services",
]
RATE_COLUMNS = [*HEADER_COLUMNS, *ITEM_COLUMNS, *PRICE_COLUMNS, *GROUP_COLUMNS, "source_record"]
"""The in-network frame's columns, in the order `in_network_rows` builds a row's keys."""


class _Level:
    """The distinct values of one level of the file (items, prices or provider groups), one tuple each; a
    row refers to one entry of each level by its index, and a batch carries, per level, the entries its
    rows name and each row's entry (`Level`).

    A `window` level (items, prices: each one's rows come together, in order) keeps only the entries the
    rows not yet in a batch may still name (`release_before`), so its memory is one batch's worth, not
    the file's. Other levels (provider groups: a reference id names the same entries all through the file)
    keep every entry, in a frame that grows batch by batch (its tuples are let go once in it), and name
    themselves (`key`) so the loader reads each entry once."""

    def __init__(
        self, names: list[str], *, window: bool = False, key: str | None = None, types: dict | None = None
    ) -> None:
        self.names = names
        self.window = window
        self.key = key
        # the Arrow types of the level's columns: its entries are handed over (a window level) or kept (a lasting
        # one) as Arrow, not Python objects; a window level's columns without a type stay Python objects beside
        self.types = types
        self.entries: list[tuple] = []
        self.base = 0  # index of entries[0]
        self._frame_so_far: pd.DataFrame | pa.Table | None = None

    def add(self, values: tuple) -> int:
        """Keep one entry (its columns' values in `names` order); its index."""
        self.entries.append(values)
        return self.base + len(self.entries) - 1

    def _frame(self, entries: list[tuple], only: frozenset[str] | None = None) -> pd.DataFrame:
        """The entries as a frame of object columns (those in `only`, when given)."""
        import numpy as np
        import pandas as pd

        count = len(entries)
        columns = zip(*entries) if entries else ((),) * len(self.names)
        data = {
            name: np.fromiter(c, dtype=object, count=count)
            for name, c in zip(self.names, columns)
            if only is None or name in only
        }
        return pd.DataFrame(data, dtype=object, copy=False)

    def _table(self, entries: list[tuple]) -> pa.Table | None:
        """The entries' columns that have a type in `types` as an Arrow table; None when a value does not
        convert (e.g. text that is not UTF-8), and the level keeps Python values instead."""
        import pyarrow as pa

        count = len(entries)
        columns = zip(*entries) if entries else ((),) * len(self.names)
        types = self.types
        try:
            return pa.table(
                {
                    n: _repeated_lists(c, types[n]) if n in _REPEATED_LISTS else pa.array(c, type=types[n], size=count)
                    for n, c in zip(self.names, columns)
                    if n in types
                }
            )
        except (pa.ArrowException, UnicodeError, TypeError):
            return None

    def level(self, where) -> Level:  # type: ignore[no-untyped-def]
        """The entries at `where` (indices of entries, one per row) as a `Level`."""
        if self.window:
            lo = int(where.min()) if len(where) else self.base
            hi = int(where.max()) + 1 if len(where) else self.base
            entries = self.entries[lo - self.base : hi - self.base]
            table = self._table(entries) if self.types is not None else None
            if table is not None:
                rest = frozenset(self.names).difference(table.column_names)
                objects = self._frame(entries, rest) if rest else None
                return Level(table, where - lo, objects=objects, order=list(self.names))
            return Level(self._frame(entries), where - lo)
        if self.entries or self._frame_so_far is None:  # the new entries join the frame, their tuples go
            import pandas as pd

            so_far = self._frame_so_far
            fresh = self._table(self.entries) if self.types is not None else None
            if fresh is not None:
                import pyarrow as pa

                self._frame_so_far = fresh if so_far is None else pa.concat_tables([so_far, fresh])
            else:
                if so_far is not None and not isinstance(so_far, pd.DataFrame):  # kept as Python values from now on
                    so_far = Level(so_far, None).entries_frame()  # type: ignore[arg-type]
                self.types = None
                fresh = self._frame(self.entries)
                self._frame_so_far = fresh if so_far is None else pd.concat([so_far, fresh], ignore_index=True)
            self.base += len(self.entries)
            self.entries = []
        return Level(self._frame_so_far, where, key=self.key)

    def release_before(self, index: int) -> None:
        """A window level forgets its entries below `index` (no row left to build names them)."""
        if self.window and index > self.base:
            del self.entries[: index - self.base]
            self.base = index


_REPEATED_LISTS = frozenset({"service_codes", "billing_code_modifiers"})
"""Lists of text that few distinct values fill (a price's places of service): converted once each."""


def _repeated_lists(values: tuple, kind: pa.DataType) -> pa.Array:
    """`pa.array(values, kind)` for lists of text that repeat: each distinct list converted once, then taken."""
    import pyarrow as pa

    seen: dict[tuple | None, int] = {}
    distinct: list[list[str] | None] = []
    at = []
    for value in values:
        key = None if value is None else tuple(value)
        found = seen.get(key)
        if found is None:
            found = seen[key] = len(distinct)
            distinct.append(value)
        at.append(found)
    return pa.array(distinct, type=kind).take(pa.array(at, type=pa.int32()))


def _text_types(names: list[str], lists: set[str]) -> dict:
    """Arrow types for columns of text (`_text`) and, those in `lists`, lists of text (`_texts`)."""
    import pyarrow as pa

    return {name: pa.list_(pa.string()) if name in lists else pa.string() for name in names}


def _price_types() -> dict:
    """The Arrow types of the price columns a window of prices is handed over in: text and lists of text as
    `_price_values` makes them (the expiration date too: its text, as written); the amounts stay exact Python
    decimals beside the table."""
    amounts = {"negotiated_rate_usd", "negotiated_percentage"}
    texts = [name for name in PRICE_COLUMNS if name not in amounts]
    return _text_types(texts, {"service_codes", "billing_code_modifiers"})


def _group_types() -> dict:
    """The Arrow types of the provider-group columns (`_group_cols` makes text, lists of text and a count)."""
    import pyarrow as pa

    lists = {"network_names", "npis"}
    return {
        name: pa.list_(pa.string()) if name in lists else pa.int64() if name == "npi_count" else pa.string()
        for name in GROUP_COLUMNS
    }


def in_network_frames(
    ex: Extract, folder: Path | None, limits: Limits | None = None, size: int = 20_000, codes: set[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of `in_network_rows` (same values, same order, same columns), as frames of at most `size`
    rows: the frames of `in_network_levels`."""
    for levels in in_network_levels(ex, folder, limits, size, codes):
        yield levels.frame()


def in_network_levels(
    ex: Extract,
    folder: Path | None,
    limits: Limits | None = None,
    size: int = 20_000,
    codes: set[str] | None = None,
    release: bool = False,
) -> Iterator[Levels]:
    """The rows of `in_network_rows` (same values, same order), in batches of at most `size` rows held as
    levels (header, items, prices, provider groups: `Levels`), no dict per row. Each item, price and provider
    group is read once; a provider reference is resolved once per file, whichever rates name it. Rows are kept
    a price at a time (its item, its entry, its locator, its rate's provider groups and their locator tails)
    and spread into a batch's rows with numpy; each row's source_record is joined in Arrow from its price's
    locator and its tail, so no Python object is made per row. Items and prices are handed over as Arrow
    (amounts as exact Python decimals beside them), provider groups are kept as Arrow.

    The cyclic garbage collector is off while a batch is built (it would walk the whole extract again and
    again as the levels grow; nothing here makes a cycle), and on while the loader validates and writes it.

    `codes`, when given, receives each item's billing code text (as `file_row` lists them) as it is read.

    `release`: the extract is read once (the loader's case), and each item's and provider reference's kept
    JSON is let go once read (13 + 9 MB for the 1 GB benchmark file), so the extract shrinks as the rows
    grow; `ex.items` and `ex.provider_refs` keep their lengths (what `file_row` counts), not their contents."""
    collecting = gc.isenabled()
    batches = _in_network_levels(ex, folder, limits, size, set() if codes is None else codes, release)
    try:
        while True:
            gc.disable()
            try:
                batch = next(batches, None)
            finally:
                if collecting:
                    gc.enable()
            if batch is None:
                return
            yield batch
            del batch  # not held while the next batch is built
    finally:
        batches.close()


def _kept_items(ex: Extract, release: bool) -> Iterator[tuple[str, dict]]:
    """The extract's items, decoded one at a time; with `release`, each one's kept form is let go once read
    (`KeptItems.read_once`: `len(ex.items)` holds)."""
    return ex.items.read_once() if release else iter(ex.items)


def _in_network_levels(
    ex: Extract, folder: Path | None, limits: Limits | None, size: int, codes: set[str], release: bool = False
) -> Iterator[Levels]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    header = _Level(HEADER_COLUMNS, key="header")
    header.add(tuple(_header(ex)[name] for name in HEADER_COLUMNS))
    items = _Level(ITEM_COLUMNS, window=True, types=_text_types(ITEM_COLUMNS, {"bundled_codes", "covered_services"}))
    prices = _Level(PRICE_COLUMNS, window=True, types=_price_types())
    groups = _Level(GROUP_COLUMNS, key="provider_groups", types=_group_types())
    # the rows not yet in a batch are kept a price at a time, not a row at a time: each price's item, its entry,
    # its locator (up to the price) and where its rate's targets (provider group, locator tail) start and how
    # many there are; `_rows` spreads them into rows with numpy and Arrow when a batch is due
    price_item: list[int] = []
    price_at: list[int] = []
    price_prefix: list[str] = []
    price_start: list[int] = []
    price_count: list[int] = []
    target_groups: list[int] = []
    target_tails: list[int] = []  # index into `tails`
    tail_ids: dict[str, int] = {}
    tails: list[str] = []
    carry: tuple | None = None  # rows spread but not yet in a batch: (item, price, group, record) arrays
    pending = 0  # rows kept, spread or not
    remote: dict[str, list[dict] | None] = {}
    # reference id -> its provider groups (entries of `groups`) and its shape: the locator tails of its groups, which
    # few references differ in (`shapes`, numbered), so a rate's tails are found by (position in the rate, shape)
    references: dict[str, tuple[list[int], int]] = {}
    shapes: dict[tuple[str, ...], int] = {}
    shape_tails: list[tuple[str, ...]] = []
    named: dict[tuple[int, int], list[int]] = {}
    nobody: list[int] = []

    def tail_id(tail: str) -> int:
        found = tail_ids.get(tail)
        if found is None:
            found = tail_ids[tail] = len(tails)
            tails.append(tail)
        return found

    def spread() -> tuple:
        """The kept prices' rows, after the carried ones: each row's item, price, group and source_record."""
        counts = np.array(price_count, dtype=np.intp)
        rows = int(counts.sum())
        owner = np.repeat(np.arange(len(counts), dtype=np.intp), counts)  # each row's price
        # each row's target: its price's first one plus its rank among the price's rows
        offset = np.array(price_start, dtype=np.intp) - (np.cumsum(counts) - counts)
        target = np.arange(rows, dtype=np.intp) + offset[owner]
        at_group = np.array(target_groups, dtype=np.intp)[target]
        tail_of = np.array(target_tails, dtype=np.intp)[target]
        prefixes = pa.array(price_prefix, type=pa.string()).take(owner)
        record = pc.binary_join_element_wise(prefixes, pa.array(tails, type=pa.string()).take(tail_of), "")
        spread_rows = (np.array(price_item, dtype=np.intp)[owner], np.array(price_at, dtype=np.intp)[owner], at_group)
        for kept in (price_item, price_at, price_prefix, price_start, price_count, target_groups, target_tails):
            kept.clear()
        if carry is None:
            return (*spread_rows, record)
        return (
            *(np.concatenate([old, new]) for old, new in zip(carry[:3], spread_rows)),
            pa.concat_arrays([carry[3], record]),
        )

    def batch(rows: tuple, count: int) -> Levels:
        at_item, at_price, at_group, record = rows
        levels = [header.level(np.zeros(count, dtype=np.intp))]
        for level, at in ((items, at_item), (prices, at_price), (groups, at_group)):
            levels.append(level.level(at[:count]))
            # the rows still to come name the next row's entry or later, or the newest entry (its item or
            # price may have more rows)
            level.release_before(int(at[count]) if len(at) > count else level.base + len(level.entries) - 1)
        # as the row path's frame held npi_count (pandas read ints with a gap as floats): a quarantined
        # row's raw_record says "2.0" there
        named = levels[-1]
        entries = named.entries
        if hasattr(entries, "column_names"):  # kept as Arrow
            missing = entries.column("npi_count").is_null().to_numpy(zero_copy_only=False)[named.at]
        else:
            missing = entries["npi_count"].isna().to_numpy(dtype=bool)[named.at]
        gap = bool(missing.any()) and not missing.all()
        return Levels(levels, record.slice(0, count), frozenset({"npi_count"}) if gap else frozenset())

    refs = ex.provider_refs
    for locator, item in _kept_items(ex, release):
        item_columns = _item_columns(item)
        codes.add(item_columns["billing_code"] or "")
        i = items.add(tuple(item_columns[name] for name in ITEM_COLUMNS))
        for j, rate in enumerate(item.get("negotiated_rates") or []):
            if not isinstance(rate, dict):
                continue
            rate_groups: list[int] = []  # the rate's targets: each one's provider group and locator tail
            rate_tails: list[int] = []
            for g, group in enumerate(rate.get("provider_groups") or []):
                rate_groups.append(groups.add(_group_values(group, "inline", None, None, None)))
                rate_tails.append(tail_id(f".provider_groups[{g}]"))
            for r, ref in enumerate(rate.get("provider_references") or []):
                key = id_text(ref)
                found = references.get(key)
                if found is None:
                    resolved = _reference_groups(key, ex, folder, remote, limits)
                    shape = tuple(tail for tail, _ in resolved)
                    found = references[key] = (
                        [groups.add(values) for _, values in resolved],
                        shapes.setdefault(shape, len(shapes)),
                    )
                    if release and key in refs:  # read once: its entries' JSON goes, the id stays counted
                        refs[key] = ()
                    if len(shape_tails) < len(shapes):
                        shape_tails.append(shape)
                rate_groups.extend(found[0])
                ids = named.get((r, found[1]))
                if ids is None:
                    suffix = f".provider_references[{r}]"
                    ids = named[(r, found[1])] = [tail_id(suffix + tail) for tail in shape_tails[found[1]]]
                rate_tails.extend(ids)
            if not rate_groups:
                if not nobody:
                    nobody.append(groups.add(_group_values(None, "no_provider_group", None, None, None)))
                rate_groups, rate_tails = nobody, [tail_id("")]
            n = len(rate_groups)
            start = -1  # where the rate's targets start in `target_groups`, once one of its prices is kept
            for k, price in enumerate(rate.get("negotiated_prices") or []):
                if not isinstance(price, dict):
                    continue
                price_at.append(prices.add(_price_values(price)))
                if start < 0:
                    start = len(target_groups)
                    target_groups.extend(rate_groups)
                    target_tails.extend(rate_tails)
                price_item.append(i)
                price_prefix.append(f"{locator}.negotiated_rates[{j}].negotiated_prices[{k}]")
                price_start.append(start)
                price_count.append(n)
                pending += n
                if pending >= size:
                    carry = spread()
                    start = -1  # the rate's targets were let go with the kept prices
                    while pending >= size:
                        yield batch(carry, size)
                        carry = tuple(part[size:] for part in carry[:3]) + (carry[3].slice(size),)
                        pending -= size
    if pending:
        carry = spread()
        yield batch(carry, pending)


# --- allowed amounts --------------------------------------------------------------------------------
def allowed_amount_rows(ex: Extract) -> Iterator[dict]:
    """One row per billing code x allowed amount (TIN, setting) x payment x provider."""
    header = _header(ex)
    for locator, item in ex.items:
        base = {**header, **_code_columns(item)}
        for a, allowed in enumerate(item.get("allowed_amounts") or []):
            if not isinstance(allowed, dict):
                continue
            tin = allowed.get("tin") if isinstance(allowed.get("tin"), dict) else {}
            scope = {
                "tin_type": _text(tin.get("type")),
                "tin_value": _text(tin.get("value")),
                "service_codes": _places_of_service(allowed.get("service_code")),
                "billing_class": _text(allowed.get("billing_class")),
                "setting": _text(allowed.get("setting")),
            }
            for p, payment in enumerate(allowed.get("payments") or []):
                if not isinstance(payment, dict):
                    continue
                amount, amount_type = _number(payment.get("allowed_amount"))
                providers = payment.get("providers") or [None]
                for q, provider in enumerate(providers):
                    provider = provider if isinstance(provider, dict) else {}
                    charge, charge_type = _number(provider.get("billed_charge"))
                    npis = _npis(provider.get("npi"))
                    row = dict(base)
                    row.update(scope)
                    row.update(
                        {
                            "allowed_amount_usd": amount,
                            "allowed_amount_json_type": amount_type,
                            "billing_code_modifiers": _texts(payment.get("billing_code_modifier")),
                            "billed_charge_usd": charge,
                            "billed_charge_json_type": charge_type if provider else "null",
                            "npis": npis,
                            "npi_count": len(npis) if npis is not None else None,
                        }
                    )
                    suffix = f".providers[{q}]" if provider else ""
                    row["source_record"] = f"{locator}.allowed_amounts[{a}].payments[{p}]{suffix}"
                    yield row


# --- tables of contents -------------------------------------------------------------------------------
def toc_rows(ex: Extract) -> Iterator[dict]:
    """One row per reporting plan x listed file (in-network or allowed-amount)."""
    entity = {
        "reporting_entity_name": _text(ex.header.get("reporting_entity_name")),
        "reporting_entity_type": _text(ex.header.get("reporting_entity_type")),
        "schema_version": _text(ex.header.get("version")),
    }
    for locator, structure in ex.toc:
        plans = structure.get("reporting_plans") or [None]
        files: list[tuple[str, dict]] = [
            ("in_network", f) for f in structure.get("in_network_files") or [] if isinstance(f, dict)
        ]
        allowed = structure.get("allowed_amount_file")
        if isinstance(allowed, dict):
            files.append(("allowed_amount", allowed))
        for p, plan in enumerate(plans):
            plan = plan if isinstance(plan, dict) else {}
            for f, (file_type, listed) in enumerate(files):
                row = dict(entity)
                row.update(
                    {
                        "plan_name": _text(plan.get("plan_name")),
                        "plan_id_type": _text(plan.get("plan_id_type")),
                        "plan_id": _text(plan.get("plan_id")),
                        "plan_market_type": _text(plan.get("plan_market_type")),
                        "file_type": file_type,
                        "file_description": _text(listed.get("description")),
                        "file_location": _text(listed.get("location")),
                    }
                )
                row["source_record"] = f"{locator}.reporting_plans[{p}].files[{f}]"
                yield row


# --- file summary ---------------------------------------------------------------------------------------
def file_row(ex: Extract, path: Path, codes: set[str] | None = None) -> dict[str, object]:
    """One row per file: what it is, what was found, and how it was read. `codes`: the items' billing
    code texts when the row builder gathered them already (else, or when empty, each kept item is read again)."""
    header = _header(ex)
    row: dict[str, object] = {
        k: header[k]
        for k in (
            "reporting_entity_name",
            "reporting_entity_type",
            "plan_name",
            "plan_id",
            "issuer_name",
            "last_updated_on",
            "schema_version",
            "payer_name",
        )
    }
    if not codes:
        codes = {_text(item.get("billing_code")) or "" for _, item in ex.items}
    found = sorted(codes)
    row.update(
        {
            "file_kind": ex.kind,
            "uncompressed_bytes": ex.uncompressed_bytes,
            "items_scanned": ex.items_seen,
            "target_items": len(ex.items),
            "target_codes_found": found or None,
            "provider_references_resolved": len(ex.provider_refs),
            "extraction_path": ex.path_used,
            "fallback_reason": ex.fallback_reason,
            "extraction_seconds": round(ex.seconds, 3),
        }
    )
    return row
