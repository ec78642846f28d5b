"""TiC in-network rows built as columns (`in_network_frames`) are the rows of `in_network_rows`, exactly:
same values, order, columns and chunks, and through the loader (which reads them as levels, `in_network_levels`)
the same Parquet, quarantine and advisory rows as the row-per-dict frames through the frame path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import catalog
from flows.engines import tic_scan
from flows.engines.tic_scan import extract, id_text
from flows.engines.tic_stream import Limits
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources import tic
from flows.sources.base import Batch, ReadContext
from flows.steps.load import load_file
from flows.steps.validate import DatasetValidator
from tests.conftest import BUNDLED_RAW, FIXTURES

CODES = frozenset(
    {"0440T", "0441T", "0442T", "64640", "64624", "64450", "27447", "99214", "97110", "0200", "81.54", "0000"}
    | {"1111", "2222", "0440"}
)


def fixtures() -> list[Path]:
    found = sorted(
        p
        for folder in FIXTURES.glob("tic*")
        for p in folder.rglob("*.json*")
        if "truncated" not in p.name and "html" not in p.name
    )
    return found + sorted((BUNDLED_RAW / "tic").glob("*.json.gz"))


def in_network_fixtures() -> list[Path]:
    return [p for p in fixtures() if extract(p, CODES).kind == "in_network"]


def _records(frame: pd.DataFrame) -> list[dict]:
    # the row path's frames hold NaN for a missing text where a chunk's other rows hold text (pandas infers
    # a string column there); every step after treats NaN and None alike (null), the columns say None
    return [
        {k: None if isinstance(v, str | float) and v != v else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


@pytest.mark.parametrize("size", [1, 3, 20_000])
@pytest.mark.parametrize("path", in_network_fixtures(), ids=lambda p: p.name)
def test_columns_are_the_rows(path: Path, size: int) -> None:
    ex = extract(path, CODES)
    frames = list(tic.in_network_frames(ex, path.parent, size=size))
    batches = [b.frame for b in tic._batches(tic.RATE, tic.in_network_rows(ex, path.parent), size)]
    assert [len(f) for f in frames] == [len(b) for b in batches]  # the same chunks: size rows each, the rest last
    for built, expected in zip(frames, batches):
        assert list(built.columns) == list(expected.columns) == tic.RATE_COLUMNS
        assert {str(dtype) for dtype in built.dtypes} == {"object"}
        assert [str(v) for v in built["npi_count"]] == [str(v) for v in expected["npi_count"]]
        assert _records(built) == _records(expected)


def test_a_reference_named_by_many_rates_is_resolved_once_and_rows_stay_apart(tmp_path: Path) -> None:
    """A shared reference's group values are shared between rows (one level entry), yet each row keeps
    its own locator; an unknown id and a rate naming nobody get their status."""
    doc = {
        "reporting_entity_name": "Synthetic Plan",
        "provider_references": [
            {"provider_group_id": 7, "provider_groups": [{"npi": [1234567890], "tin": {"type": "ein", "value": "1"}}]}
        ],
        "in_network": [
            {
                "billing_code": "0440T",
                "negotiated_rates": [
                    {
                        "provider_references": [7, 8],
                        "negotiated_prices": [{"negotiated_type": "negotiated", "negotiated_rate": 10}],
                    },
                    {"provider_references": [7], "negotiated_prices": [{"negotiated_type": "negotiated"}]},
                    {"negotiated_prices": [{"negotiated_rate": 1}]},
                ],
            }
        ],
    }
    path = tmp_path / "synthetic_shared_reference.json"
    path.write_text(json.dumps(doc))
    (frame,) = tic.in_network_frames(extract(path, frozenset({"0440T"})), tmp_path)
    assert frame["source_record"].str.replace(r"^.*?\.negotiated_rates", "", regex=True).tolist() == [
        "[0].negotiated_prices[0].provider_references[0].provider_groups[0]",
        "[0].negotiated_prices[0].provider_references[1]",
        "[1].negotiated_prices[0].provider_references[0].provider_groups[0]",
        "[2].negotiated_prices[0]",
    ]
    assert frame["provider_group_status"].tolist() == ["resolved", "unknown_reference", "resolved", "no_provider_group"]
    assert frame["npis"].tolist() == [["1234567890"], None, ["1234567890"], None]
    assert frame["negotiated_rate_usd"].tolist()[:2] == [10, 10]


def _lake(settings: Settings) -> dict[str, list[str]]:
    volatile = {"load_id", "run_id", "loaded_at", "found_at", "extraction_seconds"}
    found: dict[str, list[str]] = {}
    for part in sorted((settings.lake_dir).rglob("*.parquet")):
        dataset = part.relative_to(settings.lake_dir).parts[0]
        if dataset.startswith("_load_log"):
            continue
        for row in pq.read_table(part).to_pylist():
            found.setdefault(dataset, []).append(
                json.dumps({k: v for k, v in row.items() if k not in volatile}, default=str, sort_keys=True)
            )
    return {k: sorted(v) for k, v in found.items()}


def _row_frames(ex, folder, limits=None, size=20_000, codes=None):  # type: ignore[no-untyped-def]
    """The in-network frames as they were built before the columns: one dict per row, a frame per batch
    (`codes` left empty: the file row then lists the codes from the items, as it did)."""
    return (b.frame for b in tic._batches(tic.RATE, tic.in_network_rows(ex, folder, limits), size))


def _rows_read(path: Path, ctx: ReadContext):  # type: ignore[no-untyped-def]
    """`tic.read` as it was before the levels: frames of one dict per row, which the loader's frame path
    validates whole (`DatasetValidator.check`) and converts with `frame_to_table`."""
    result = tic.extract(path, ctx.codes_of_interest, limits=Limits.of(ctx.settings))
    assert result.kind == "in_network"
    for frame in _row_frames(result, path.parent, Limits.of(ctx.settings), ctx.settings.chunk_rows):
        yield Batch(tic.RATE, frame)
    yield Batch(tic.FILE, tic._frame([{**tic.file_row(result, path), "source_record": "$"}]), describes_file=True)


def _load_both(path: Path, tmp_path: Path, chunk_rows: int) -> list[tuple]:
    lakes = []
    for label, source in (
        ("rows", dataclasses.replace(catalog.get("tic"), read=_rows_read)),
        ("levels", catalog.get("tic")),
    ):
        settings = Settings(
            raw_dir=BUNDLED_RAW,
            warehouse_dir=tmp_path / label / "warehouse",
            reports_dir=tmp_path / label / "reports",
            inbox_dir=tmp_path / label / "inbox",
            chunk_rows=chunk_rows,
            render_reports=False,
        )
        record = load_file(
            source, path, settings, "run-x", payers=payer_directory(settings.payer_alias_file), codes=CODES
        )
        assert record.status in {"loaded", "loaded_with_quarantine"}, record.error
        lakes.append(
            (record.rows_read, record.rows_loaded, record.rows_quarantined, record.advisories, _lake(settings))
        )
    return lakes


@pytest.mark.parametrize("path", in_network_fixtures(), ids=lambda p: p.name)
def test_the_loader_writes_the_same_rows_and_quarantine(path: Path, tmp_path: Path) -> None:
    lakes = _load_both(path, tmp_path, 2)
    assert lakes[0] == lakes[1]


def _group(npis: object, tin: object = "12-3456789") -> dict:
    return {"npi": npis, "tin": {"type": "ein", "value": tin}}


DEFECTS = {
    "reporting_entity_name": "Defect Health",
    "reporting_entity_type": "health insurance issuer",
    "last_updated_on": "2025-01-01",
    "version": "1.0.0",
    "provider_references": [
        {"provider_group_id": 1, "provider_groups": [_group([1234567893]), _group(["12", 1234567893], 77)]},
        {"provider_group_id": 2, "provider_groups": [{"tin": {"type": "npi", "value": "1234567893"}}]},
        {"provider_group_id": 3, "network_name": ["A", "B"], "provider_groups": [_group([0])]},
    ],
    "in_network": [
        {
            "negotiation_arrangement": arrangement,
            "name": "x",
            "billing_code_type": "CPT",
            "billing_code_type_version": "2025",
            "billing_code": "0440T",
            "negotiated_rates": [
                {
                    "provider_references": refs,
                    "negotiated_prices": [
                        {
                            "negotiated_type": kind,
                            "negotiated_rate": rate,
                            "expiration_date": expires,
                            "service_code": places,
                            "billing_class": billing_class,
                        }
                        for kind, rate, expires, places, billing_class in prices
                    ],
                }
                for refs, prices in rates
            ],
        }
        for arrangement, rates in (
            (
                "ffs",
                [
                    ([1, 2], [("negotiated", 10.5, "9999-12-31", ["11"], "professional")]),
                    ([2, 9], [("negotiated", 0, "2025-13-45", ["1", "XX"], "professional")]),
                    ([9, 3], [("negotiated", 0, "2026-01-01", ["1", "XX"], "professional")]),
                    ([3], [("percentage", 55.5, "2026-01-01", None, "institutional")]),
                    ([1], [("negotiated", 1e20, "2026-01-01", ["11"], "professional")]),
                    ([3, 1], [("weird", -1, None, ["11"], None), ("fee schedule", "12.00", "2026-01-01", [], "both")]),
                ],
            ),
            ("nonsense", [([2], [("negotiated", 7, "2026-01-01", ["11"], "professional")])]),
        )
    ],
}


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 20_000])
def test_the_levels_quarantine_and_note_what_the_frame_path_does(tmp_path: Path, chunk_rows: int) -> None:
    """A file with a defect of every kind the schema knows (a rate that is a string, negative, too large for
    its decimal or a dollar amount and a percentage at once, a date that is not one, a value outside its list,
    a missing billing class, NPIs that are not 10 digits, an NPI count with a gap, unresolved references,
    places of service to note, zero rates) loads the same through the levels as through whole frames."""
    path = tmp_path / "defects.json"
    path.write_text(json.dumps(DEFECTS))
    rows, levels = _load_both(path, tmp_path, chunk_rows)
    assert rows == levels
    assert rows[2] > 5 and rows[3] > 3  # rows quarantined and advisories: the defects were seen
    checks = {json.loads(r)["check_name"] for r in rows[4]["_quarantine"]}
    assert {"npis_are_10_digit", "negotiated_rate_is_a_number", "not_nullable", "isin"} <= checks
    assert any(c.startswith("coerce_dtype") for c in checks)


@pytest.mark.parametrize("lazy", [False, True], ids=["", "lazy_rates"])
@pytest.mark.parametrize("path", in_network_fixtures(), ids=lambda p: p.name)
def test_levels_that_release_the_extract_are_the_same_and_let_its_kept_json_go(
    path: Path, lazy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`in_network_levels(release=True)` (the loader's read) gives the same batches as reading the extract
    and keeping it; the extract's items and provider references are let go as read, their counts kept (the
    file row's `target_items`, `provider_references_resolved`). `lazy`: every item is read with its rates
    decoded one at a time (flows/engines/tic_scan.py `LazyRates`, for items of 64 KB or more)."""
    if lazy:
        monkeypatch.setattr(tic_scan, "LAZY_RATES_BYTES", 0)
    kept = extract(path, CODES)
    expected = [levels.frame() for levels in tic.in_network_levels(kept, path.parent, size=3)]
    ex = extract(path, CODES)
    items, references = len(ex.items), len(ex.provider_refs)
    codes: set[str] = set()
    got = [levels.frame() for levels in tic.in_network_levels(ex, path.parent, size=3, codes=codes, release=True)]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        pd.testing.assert_frame_equal(a, b)
    assert (len(ex.items), len(ex.provider_refs)) == (items, references)
    with pytest.raises(ValueError, match="already read once"):  # each item let go as read
        ex.items[0]
    named = {
        id_text(ref)
        for _, item in kept.items
        for rate in item.get("negotiated_rates") or []
        if isinstance(rate, dict)
        for ref in rate.get("provider_references") or []
    }
    assert all(not ex.provider_refs[key] for key in named if key in ex.provider_refs)
    row, row_kept = tic.file_row(ex, path, codes), tic.file_row(kept, path, codes)
    row.pop("extraction_seconds"), row_kept.pop("extraction_seconds")  # two extracts: their own timings
    assert row == row_kept


@pytest.mark.parametrize(
    "extra",
    [
        {"rejects": pd.DataFrame({"reason": ["x"]})},
        {"raw": pd.DataFrame({"a": [1]})},
        {"advisories": pd.DataFrame({"reason": ["x"]})},
        {"describes_file": True},
    ],
    ids=["rejects", "raw", "advisories", "describes_file"],
)
def test_a_batch_of_levels_refuses_what_the_level_loader_would_lose(extra: dict) -> None:
    """The loader's level path writes a batch's rows only: rejects, raw rows, advisories or a file fact given with
    levels would be lost there without a trace, so the batch refuses them where the adapter makes it."""
    path = in_network_fixtures()[0]
    levels = next(iter(tic.in_network_levels(extract(path, CODES), path.parent, size=3)))
    assert Batch(tic.RATE, None, levels=levels).row_count() == len(levels)
    with pytest.raises(ValueError, match="batch of levels carries rows only"):
        Batch(tic.RATE, None, levels=levels, **extra)


def _price_defects(setting: object) -> dict:
    """DEFECTS with two more prices: one with `setting` as written, a scalar modifier and a list as its
    information; one with a date written as a number."""
    data = json.loads(json.dumps(DEFECTS))
    more = {
        "negotiated_type": "negotiated",
        "negotiated_rate": 12.5,
        "expiration_date": "2026-01-01",
        "service_code": ["11", 3],
        "billing_class": "professional",
        "setting": setting,
        "billing_code_modifier": "26",
        "additional_information": ["a", 1],
    }
    data["in_network"][0]["negotiated_rates"][0]["negotiated_prices"] += [more, {**more, "expiration_date": 20260101}]
    return data


def test_prices_are_handed_over_as_arrow_and_quarantined_as_whole_frames_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of prices is handed to the loader as Arrow (text and lists of text) with its exact amounts as
    Python decimals beside it (`Level.objects`), so the validator reads those columns without a Python object
    each, entry by entry (never falling back to the whole batch); a bad price (a date written as a number, a
    setting outside its list, a rate that is a string, a negative one) is still quarantined and noted as
    whole-frame validation does it."""

    def whole(*args: object) -> None:
        raise AssertionError("the levels were validated as a whole batch")

    monkeypatch.setattr(DatasetValidator, "_checked_whole", whole)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(_price_defects("home")))
    (levels,) = tic.in_network_levels(extract(path, CODES), None)
    prices = levels.levels[2]
    assert prices.names == tic.PRICE_COLUMNS and hasattr(prices.entries, "column_names")
    assert hasattr(levels.levels[1].entries, "column_names") and levels.levels[1].objects is None  # the items
    assert list(prices.objects.columns) == ["negotiated_rate_usd", "negotiated_percentage"]
    frame = levels.frame()
    for name in ("negotiated_rate_usd", "service_codes", "expiration_date", "additional_information"):
        assert prices.values(name, prices.at).tolist() == frame[name].tolist()
    for chunk_rows in (2, 20_000):
        rows, arrow = _load_both(path, tmp_path / str(chunk_rows), chunk_rows)
        assert rows == arrow
        quarantined = [json.loads(r) for r in rows[4]["_quarantine"]]
        assert {"expiration_date", "setting", "negotiated_rate_json_type"} <= {q["column_name"] for q in quarantined}


def test_prices_arrow_cannot_hold_stay_python_values() -> None:
    """Text Arrow cannot hold (a lone surrogate, which the ijson fallback can hand over) leaves the window of
    prices as Python values, as before."""
    prices = tic._Level(tic.PRICE_COLUMNS, window=True, types=tic._price_types())
    good = tic._price_values({"negotiated_type": "negotiated", "negotiated_rate": 1, "setting": "outpatient"})
    bad = tic._price_values({"negotiated_type": "negotiated", "negotiated_rate": 1, "setting": "in\ud800patient"})
    for entry in (good, bad):
        prices.add(entry)
    import numpy as np

    assert hasattr(prices.level(np.array([0])).entries, "column_names")
    level = prices.level(np.array([0, 1]))
    assert isinstance(level.entries, pd.DataFrame) and level.objects is None
    assert level.values("setting", level.at).tolist() == ["outpatient", "in\ud800patient"]


def test_repeated_lists_convert_as_arrow_does() -> None:
    """Places of service and modifiers are converted once per distinct list: the same Arrow array."""
    import pyarrow as pa

    values = (["11", "22"], None, ["11", "22"], [], ["0"], [], ["22", "11"], None)
    kind = pa.list_(pa.string())
    assert tic._repeated_lists(values, kind).equals(pa.array(values, type=kind))


def test_a_loaded_batch_is_let_go_before_the_next_one_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing on the way from the row builder to the loader (`in_network_levels`, `tic.read`, the loader's
    `_read_batches`) holds a batch once it is loaded: when the next batch is built, the last one's levels (a
    batch's row locators, items and prices: 5-8 MB of the 1 GB benchmark load's peak) are gone."""
    import weakref

    made: list[weakref.ref] = []
    alive_when_building: list[int] = []
    build = tic._in_network_levels

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        batches = build(*args, **kwargs)
        while True:
            alive_when_building.append(sum(ref() is not None for ref in made))
            levels = next(batches, None)
            if levels is None:
                return
            made.append(weakref.ref(levels))
            yield levels
            del levels

    monkeypatch.setattr(tic, "_in_network_levels", spy)
    settings = Settings(
        raw_dir=BUNDLED_RAW,
        warehouse_dir=tmp_path / "warehouse",
        reports_dir=tmp_path / "reports",
        inbox_dir=tmp_path / "inbox",
        chunk_rows=2,
        render_reports=False,
    )
    path = max(in_network_fixtures(), key=lambda p: p.stat().st_size)
    record = load_file(
        catalog.get("tic"), path, settings, "run-x", payers=payer_directory(settings.payer_alias_file), codes=CODES
    )
    assert record.status in {"loaded", "loaded_with_quarantine"}, record.error
    assert len(made) >= 3 and alive_when_building == [0] * len(alive_when_building), alive_when_building
