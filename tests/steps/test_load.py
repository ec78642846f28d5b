"""The shared loader: quarantine with reasons, rejection, lineage, idempotence, atomic commits."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa_model
import pyarrow.parquet as pq
import pytest
from pandera.typing import Series

from flows import catalog
from flows.errors import ConfigurationError
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources.base import Batch
from flows.steps import load_log, store, warehouse
from flows.steps.load import load_file
from schemas.fields import ALL_PAYER_GROUPS
from tests.conftest import fixture

DATASET = "payer__policy"
SOURCE = catalog.get("payer_policy")


def load(settings: Settings, name: str | Path, run_id: str = "20260101T000000Z-test01"):  # type: ignore[no-untyped-def]
    path = name if isinstance(name, Path) else fixture(DATASET, name)
    payers = payer_directory(settings.payer_alias_file)
    return load_file(SOURCE, path, settings, run_id, payers=payers)


def quarantine(settings: Settings) -> pd.DataFrame:
    parts = sorted((settings.lake_dir / store.QUARANTINE).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


def loaded_rows(settings: Settings) -> pd.DataFrame:
    parts = sorted((settings.lake_dir / DATASET).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "invalid_code.csv",
            [("line 3", "billing_code", "str_matches", "440T"), ("line 4", "billing_code", "str_matches", "0440")],
        ),
        ("unknown_payer.csv", [("line 3", "payer_name", "payer_name_in_reference", "Acme Health Plan")]),
        (
            "unparseable_date.csv",
            [
                ("line 3", "effective_date", "coerce_dtype", "2026-13-45"),
                ("line 4", "effective_date", "coerce_dtype", "sometime in 2024"),
            ],
        ),
        ("status_not_in_enum.csv", [("line 3", "coverage_status", "isin", "maybe_covered")]),
        (
            "duplicate_key.csv",
            [("line 4", "payer_name,plan_type,policy_id,billing_code", "unique_key (first seen at line 2)", None)],
        ),
        (
            "blank_required_field.csv",
            [("line 3", "payer_name", "not_nullable", None), ("line 4", "retrieved_date", "not_nullable", None)],
        ),
        ("extra_fields_row.csv", [("line 3", None, "field_count", "17 fields")]),
        ("reviewed_after_retrieved.csv", [("line 2", None, "reviewed_before_retrieved", None)]),
        ("stance_without_policy_id.csv", [("line 2", None, "stance_needs_policy_id", None)]),
    ],
)
def test_bad_rows_are_quarantined_with_their_reason(settings: Settings, name: str, expected: list[tuple]) -> None:
    record = load(settings, name)
    assert record.status == "loaded_with_quarantine", record.error
    assert record.rows_quarantined == len(expected)
    assert record.rows_read == record.rows_loaded + record.rows_quarantined
    assert record.rows_loaded >= 1  # the good rows of the file still load
    found = quarantine(settings).sort_values("source_record")
    assert len(found) == len(expected)
    for (line, column, check, value), row in zip(expected, found.itertuples(index=False)):
        assert row.source_record == line
        assert (None if pd.isna(row.column_name) else row.column_name) == column
        assert row.check_name.startswith(check)
        if value is not None:
            assert row.failure_value == value
        assert row.reason and row.raw_record[:1] in ("{", "[")  # a list when fields do not align
        assert row.source_file == name and row.dataset == DATASET
    assert set(loaded_rows(settings)["source_record"]).isdisjoint(set(found["source_record"]))


def test_unknown_payer_reason_names_the_reference_table(settings: Settings) -> None:
    load(settings, "unknown_payer.csv")
    reason = quarantine(settings).iloc[0]["reason"]
    assert "payer_aliases.csv" in reason and "add an alias" in reason


def test_bom_file_loads_and_rows_carry_lineage(settings: Settings) -> None:
    path = fixture(DATASET, "bom_header.csv")
    record = load(settings, "bom_header.csv", run_id="20260101T000000Z-lineag")
    assert (record.status, record.rows_read, record.rows_loaded) == ("loaded", 2, 2)
    rows = loaded_rows(settings)
    assert set(rows["source_file"]) == {"bom_header.csv"}
    assert set(rows["source_sha256"]) == {hashlib.sha256(path.read_bytes()).hexdigest()}
    assert list(rows["source_record"]) == ["line 2", "line 3"]
    assert set(rows["run_id"]) == {"20260101T000000Z-lineag"}
    assert set(rows["payer_group"]) == {"aetna", "cigna"}  # resolved through the reference table


def test_rejected_file_loads_nothing_and_leaves_earlier_data(settings: Settings) -> None:
    good = load(settings, "valid_minimal.csv")
    before = sorted(
        p.relative_to(settings.lake_dir) for p in settings.lake_dir.rglob("*.parquet") if store.LOAD_LOG not in p.parts
    )
    bad = load(settings, "truncated_quote.csv")
    after = sorted(
        p.relative_to(settings.lake_dir) for p in settings.lake_dir.rglob("*.parquet") if store.LOAD_LOG not in p.parts
    )
    assert good.status == "loaded" and bad.status == "rejected"
    assert before == after
    assert (bad.rows_read, bad.rows_loaded, bad.rows_quarantined) == (0, 0, 0)
    log = load_log.read(settings.lake_dir)
    assert list(log["status"]) == ["loaded", "rejected"]
    assert (
        "truncated_quote.csv (record starting on line 3): the file ends inside a quoted field" in log.iloc[1]["error"]
    )
    assert not (settings.lake_dir / ".staging").exists() or not any((settings.lake_dir / ".staging").iterdir())


def test_same_file_twice_is_unchanged(settings: Settings, tmp_path: Path) -> None:
    first = load(settings, "valid_minimal.csv")
    copy = tmp_path / "renamed_copy.csv"
    shutil.copy(fixture(DATASET, "valid_minimal.csv"), copy)
    second = load(settings, copy)  # identical bytes under another name: same sha256
    assert first.status == "loaded" and second.status == "unchanged"
    assert len(loaded_rows(settings)) == 2
    assert second.rows_read == second.rows_loaded == second.rows_quarantined == 0


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_every_load_log_row_reconciles(settings: Settings, chunk_rows: int) -> None:
    settings = Settings(raw_dir=settings.raw_dir, warehouse_dir=settings.warehouse_dir, chunk_rows=chunk_rows)
    for name in [
        "valid_minimal.csv",
        "invalid_code.csv",
        "duplicate_key.csv",
        "empty.csv",
        "extra_fields_row.csv",
        "unknown_payer.csv",
        "valid_minimal.csv",
    ]:
        load(settings, name)
    log = load_log.read(settings.lake_dir)
    assert len(log) == 7
    assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
    assert log["rows_read"].sum() > 0
    assert set(log["status"]) == {"loaded", "loaded_with_quarantine", "rejected", "unchanged"}
    assert list(log["rows_quarantined"])[1:3] == [2, 1]  # same verdicts whatever the chunk size


def test_crash_between_data_and_log_leaves_no_visible_rows(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    load(settings, "valid_minimal.csv")
    warehouse.build(settings, catalog.SCHEMAS)

    real_write = store.write_table_atomic

    def killed_before_log(table, dest):  # type: ignore[no-untyped-def]
        if dest.parent.name == store.LOAD_LOG:
            raise KeyboardInterrupt("killed mid-commit")
        real_write(table, dest)

    monkeypatch.setattr(store, "write_table_atomic", killed_before_log)  # data moves, the log row never lands
    with pytest.raises(KeyboardInterrupt):
        load(settings, "us_dates.csv")
    monkeypatch.undo()
    orphans = [p for p in (settings.lake_dir / DATASET).iterdir() if p.is_dir()]
    assert len(orphans) == 2  # the committed load and the orphan
    committed = set(load_log.read(settings.lake_dir)["load_id"])
    assert [p.name for p in store.orphans(settings.lake_dir, committed) if p.parent.name == DATASET] == [
        next(p.name for p in orphans if p.name not in committed)
    ]
    warehouse.build(settings, catalog.SCHEMAS)  # the next writer removes the orphan as it takes the lock
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute(f"select count(*) from {DATASET}").fetchone()[0] == 2  # only the committed load
    con.close()
    assert [p.name for p in (settings.lake_dir / DATASET).iterdir()] == sorted(committed & {p.name for p in orphans})
    assert store.sweep_orphans(settings.lake_dir, committed) == []


def test_reference_tables_unusable_rejects_files_with_the_reason(settings: Settings) -> None:
    settings.payer_alias_file.write_text("alias,match_type,payer_group\nAetna,fuzzy,aetna\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"payer_aliases.csv \(line 2\): invalid row: match_type fails isin"):
        payer_directory(settings.payer_alias_file)


def test_quarantine_shows_values_as_the_file_wrote_them(settings: Settings) -> None:
    load(settings, "status_not_in_enum.csv")
    found = quarantine(settings).iloc[0]
    assert found["failure_value"] == "maybe_covered"
    assert '"coverage_status": "maybe_covered"' in found["raw_record"]


def test_raw_value_is_kept_when_the_adapter_normalised_it(settings: Settings, tmp_path: Path) -> None:
    text = fixture(DATASET, "valid_minimal.csv").read_text(encoding="utf-8")
    path = tmp_path / "typed_by_hand.csv"
    path.write_text(
        text.replace("experimental_investigational,unknown,2026-04-21", "Maybe Covered,unknown,2026-04-21"),
        encoding="utf-8",
    )
    load(settings, path)
    found = quarantine(settings).iloc[0]
    assert found["failure_value"] == "Maybe Covered"  # not the normalised maybe_covered
    assert '"coverage_status": "Maybe Covered"' in found["raw_record"]


def test_a_file_that_changes_while_read_is_rejected(settings: Settings, tmp_path: Path) -> None:
    from flows.sources import payer_policy
    from flows.sources.base import Source

    path = tmp_path / "growing.csv"
    path.write_text(fixture(DATASET, "valid_minimal.csv").read_text(encoding="utf-8"), encoding="utf-8")
    real_read = payer_policy.read

    def read_while_download_continues(p, ctx):  # type: ignore[no-untyped-def]
        for batch in real_read(p, ctx):
            with p.open("a", encoding="utf-8") as handle:
                handle.write("more,rows\n")
            yield batch

    source = Source(
        SOURCE.name, SOURCE.description, read_while_download_continues, SOURCE.schemas, payer_column="payer_name"
    )
    record = load_file(source, path, settings, "run-x", payers=payer_directory(settings.payer_alias_file))
    assert record.status == "rejected" and "changed while it was being read" in record.error
    assert not (settings.lake_dir / DATASET).exists()


class _FileFact(pa_model.DataFrameModel):
    """One row per file: a fact an adapter read about the file (test schema)."""

    data_year: Series[int] = pa_model.Field(ge=2000)

    class Config:
        name = "test__file_fact"
        coerce = True


def _facts_source(year: str):  # type: ignore[no-untyped-def]
    from flows.sources import payer_policy
    from flows.sources.base import Batch, Source

    def read(p, ctx):  # type: ignore[no-untyped-def]
        yield from payer_policy.read(p, ctx)
        yield Batch(
            "test__file_fact", pd.DataFrame({"data_year": [year], "source_record": ["file name"]}), describes_file=True
        )

    return Source(
        SOURCE.name,
        SOURCE.description,
        read,
        {**SOURCE.schemas, "test__file_fact": _FileFact},
        payer_column="payer_name",
    )


def test_file_facts_are_stored_but_not_counted_as_rows(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    payers = payer_directory(settings.payer_alias_file)
    record = load_file(_facts_source("2023"), fixture(DATASET, "valid_minimal.csv"), settings, "run-f", payers=payers)
    assert record.status == "loaded" and (record.rows_read, record.rows_loaded, record.rows_quarantined) == (2, 2, 0)
    assert "test__file_fact" in record.datasets
    facts = pq.read_table(next((settings.lake_dir / "test__file_fact").glob("*/*.parquet"))).to_pandas()
    assert facts[["data_year", "source_record", "source_file"]].values.tolist() == [
        [2023, "file name", "valid_minimal.csv"]
    ]


def test_an_invalid_file_fact_rejects_the_file(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    payers = payer_directory(settings.payer_alias_file)
    record = load_file(_facts_source("1999"), fixture(DATASET, "valid_minimal.csv"), settings, "run-f", payers=payers)
    assert record.status == "rejected" and record.rows_read == 0
    assert "facts read about the file are invalid" in record.error and "data_year" in record.error
    assert not (settings.lake_dir / DATASET).exists()


def test_options_reach_the_adapter(settings: Settings) -> None:
    from flows.sources import payer_policy
    from flows.sources.base import Source

    seen = {}

    def read(p, ctx):  # type: ignore[no-untyped-def]
        seen.update(ctx.options)
        yield from payer_policy.read(p, ctx)

    source = Source(
        SOURCE.name,
        SOURCE.description,
        read,
        SOURCE.schemas,
        payer_column="payer_name",
        options=(("data_year", "the year"),),
    )
    record = load_file(
        source,
        fixture(DATASET, "valid_minimal.csv"),
        settings,
        "run-o",
        payers=payer_directory(settings.payer_alias_file),
        options={"data_year": "2022"},
    )
    assert record.status == "loaded" and seen == {"data_year": "2022"}
    with pytest.raises(ConfigurationError, match="takes no option 'year'; options it takes: data_year \\(the year\\)"):
        source.check_options({"year": "2022"})


class _Rates(pa_model.DataFrameModel):
    """One row per payer name (a test dataset for unknown_payer='other')."""

    payer_name: Series[str] = pa_model.Field(nullable=True)
    payer_group: Series[str] = pa_model.Field(isin=ALL_PAYER_GROUPS, nullable=True)

    class Config:
        name = "test__rates"


def test_unknown_payer_other_keeps_unknown_names_and_leaves_payerless_rows_ungrouped(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source declaring unknown_payer='other' keeps unknown names under `other`; a row naming no payer
    (a payer-independent charge) gets no payer group rather than `other`."""

    def read(path, ctx):  # type: ignore[no-untyped-def]
        frame = pd.DataFrame(
            {"payer_name": ["Aetna", "Acme Health Plan", None], "source_record": ["line 2", "line 3", "line 4"]},
            dtype="str",
        )
        yield Batch("test__rates", frame)

    source = dataclasses.replace(
        SOURCE, name="test_rates", read=read, schemas={"test__rates": _Rates}, unknown_payer="other"
    )
    path = tmp_path / "rates.csv"
    path.write_text("payer_name\n")
    record = load_file(
        source, path, settings, "20260101T000000Z-other1", payers=payer_directory(settings.payer_alias_file)
    )
    assert (record.status, record.rows_loaded, record.rows_quarantined) == ("loaded", 3, 0)
    parts = sorted((settings.lake_dir / "test__rates").glob("*/*.parquet"))
    rows = pd.concat([pq.read_table(p).to_pandas() for p in parts]).sort_values("source_record")
    assert [None if pd.isna(g) else g for g in rows["payer_group"]] == ["aetna", "other", None]


def test_an_adapters_own_advisory_is_recorded_and_the_rows_load(settings: Settings) -> None:
    """Batch.advisories: a finding about the file the adapter makes itself (once, not once per row)."""
    from flows.engines.readers import REJECT_COLUMNS
    from flows.sources import payer_policy

    def read(p, ctx):  # type: ignore[no-untyped-def]
        note = pd.DataFrame(
            [
                {
                    "source_record": "file name",
                    "column": "plan_type",
                    "check": "test_note",
                    "failure_value": "commercial",
                    "reason": "a note about the whole file",
                    "raw_record": None,
                }
            ],
            columns=REJECT_COLUMNS,
        )
        for number, batch in enumerate(payer_policy.read(p, ctx)):
            yield dataclasses.replace(batch, advisories=note if number == 0 else None)

    source = dataclasses.replace(SOURCE, read=read)
    record = load_file(
        source,
        fixture(DATASET, "valid_minimal.csv"),
        settings,
        "run-n",
        payers=payer_directory(settings.payer_alias_file),
    )
    assert (record.status, record.rows_read, record.rows_loaded, record.advisories) == ("loaded", 2, 2, 1)
    parts = sorted((settings.lake_dir / store.ADVISORY).glob("*/*.parquet"))
    found = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    assert found[
        ["source_record", "column_name", "check_name", "failure_value", "reason", "source_file"]
    ].values.tolist() == [
        ["file name", "plan_type", "test_note", "commercial", "a note about the whole file", "valid_minimal.csv"]
    ]


# --- links under raw/ (issue 12.6) --------------------------------------------------------------------
def test_a_link_under_raw_is_rejected_in_the_load_log_never_read_through(settings: Settings, tmp_path: Path) -> None:
    from flows.ingest import ingest

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(fixture(DATASET, "valid_minimal.csv"), outside / "else.csv")
    folder = settings.source_dir("payer_policy")
    folder.mkdir(parents=True)
    (folder / "outside_link.csv").symlink_to(outside / "else.csv")
    (folder / "broken_link.csv").symlink_to("landed-earlier/gone.csv")  # a relative link whose file went away
    (folder / "linked_folder").symlink_to(outside, target_is_directory=True)
    shutil.copy(fixture(DATASET, "valid_minimal.csv"), folder / "policies.csv")

    records = {r.source_file: r for r in ingest("payer_policies", None, settings)}
    assert records["policies.csv"].status == "loaded"
    links = ["broken_link.csv", "linked_folder", "outside_link.csv"]
    assert sorted(set(records) - {"policies.csv"}) == links
    for name in links:
        record = records[name]
        assert record.status == "rejected" and record.rows_loaded == 0
        assert record.error.startswith(f"raw/payer_policy/{name} is a symbolic link to ")  # names the file, why
        assert Path(record.source_path) == folder / name  # where it is in raw/, not where it leads
    assert "(outside raw/)" in records["outside_link.csv"].error
    assert "does not exist (a broken link)" in records["broken_link.csv"].error
    log = load_log.read(settings.lake_dir)
    assert sorted(log.loc[log["status"] == "rejected", "source_file"]) == links
    assert not any(str(outside) in path for path in log["source_path"])


@pytest.mark.parametrize("sliced", [False, True])
def test_per_row_text_columns_are_written_plain_and_read_back_the_same(tmp_path: Path, sliced: bool) -> None:
    """`store.PLAIN_COLUMNS` (a row's locator, its NPI list) are written without a dictionary or statistics,
    the other columns as before; every value reads back as written, whole or in slices."""
    import pyarrow as pa_arrow

    schema = pa_arrow.schema(
        [("code", pa_arrow.string()), ("npis", pa_arrow.list_(pa_arrow.string())), ("source_record", pa_arrow.string())]
    )
    whole = pa_arrow.table(
        {
            "code": ["0440T"] * 5,
            "npis": [["1234567893"], None, [], ["1234567893", "0"], ["1992999999"]],
            "source_record": [f"$.in_network[{i}]" for i in range(4)] + [None],
        },
        schema=schema,
    )
    part = tmp_path / "part.parquet"
    if sliced:
        store.write_tables_atomic(schema, (whole.slice(i, 2) for i in range(0, 5, 2)), part)
    else:
        store.write_table_atomic(whole, part)
    assert pq.read_table(part).equals(whole)
    group = pq.ParquetFile(part).metadata.row_group(0)
    chunks = {group.column(i).path_in_schema.split(".")[0]: group.column(i) for i in range(group.num_columns)}
    assert chunks["code"].has_dictionary_page and chunks["code"].is_stats_set
    for name in ("npis", "source_record"):
        assert not chunks[name].has_dictionary_page and not chunks[name].is_stats_set, name


@pytest.mark.parametrize("threaded", [False, True])
def test_a_part_written_in_slices_holds_the_rows_of_one_write_and_leaves_nothing_on_error(
    tmp_path: Path, threaded: bool
) -> None:
    """`LoadWriter.write_slices` (TiC rows are written a slice at a time): the part reads back as the whole
    table written at once; a slice that fails midway leaves no part and no temporary file behind."""
    import pyarrow as pa_arrow

    schema = pa_arrow.schema([("code", pa_arrow.string()), ("n", pa_arrow.int64())])
    whole = pa_arrow.table({"code": [f"c{i}" for i in range(7)], "n": list(range(7))}, schema=schema)
    writer = store.LoadWriter(tmp_path / "lake", "load-1", threaded=threaded)
    writer.write_slices("ds", schema, (whole.slice(i, 3) for i in range(0, 7, 3)))
    writer.flush()  # written by the writer thread
    (part,) = (tmp_path / "lake" / ".staging" / "load-1" / "ds").iterdir()
    assert pq.read_table(part).equals(whole) and pq.ParquetFile(part).num_row_groups == 3

    def broken():  # type: ignore[no-untyped-def]
        yield whole.slice(0, 3)
        raise RuntimeError("a slice failed")

    with pytest.raises(RuntimeError):
        writer.write_slices("other", schema, broken())
    writer.flush()  # the cut-short part was not a failure of the writer thread
    assert list((tmp_path / "lake" / ".staging" / "load-1" / "other").iterdir()) == []


@pytest.mark.parametrize("threaded", [False, True])
def test_plain_columns_are_written_without_a_dictionary_by_the_slice_writer_threaded_or_not(
    tmp_path: Path, threaded: bool
) -> None:
    """`write_slices` (the TiC loader's parts) writes store.PLAIN_COLUMNS (source_record: a different value in
    every row) plainly, the others with a dictionary as before; the values read back are the same."""
    import pyarrow as pa_arrow

    schema = pa_arrow.schema([("source_record", pa_arrow.string()), ("code", pa_arrow.string())])
    whole = pa_arrow.table({"source_record": [f"$[{i}]" for i in range(9)], "code": ["0440T"] * 9}, schema=schema)
    writer = store.LoadWriter(tmp_path / "lake", "load-1", threaded=threaded)
    writer.write_slices("ds", schema, (whole.slice(i, 4) for i in range(0, 9, 4)))
    writer.flush()
    (part,) = (tmp_path / "lake" / ".staging" / "load-1" / "ds").iterdir()
    assert pq.read_table(part).equals(whole)
    meta = pq.ParquetFile(part).metadata
    for group in range(meta.num_row_groups):
        record, code = (meta.row_group(group).column(c) for c in range(2))
        assert not record.has_dictionary_page and "RLE_DICTIONARY" not in record.encodings
        assert code.has_dictionary_page


def test_read_table_reads_a_local_file_as_the_dataset_reader_does_without_importing_it(tmp_path: Path) -> None:
    """`store.read_table(path, schema)` gives what `pq.read_table(path, schema=...)` gives (the schema's order and
    types, a column the file lacks as nulls, one it has beyond the schema left out), without importing
    pyarrow.dataset, which maps Arrow's dataset libraries into every command reading the load log."""
    import subprocess
    import sys

    import pyarrow as pa_arrow

    path = tmp_path / "part.parquet"
    pq.write_table(
        pa_arrow.table({"b": pa_arrow.array([1, None], pa_arrow.int32()), "a": ["x", "y"], "z": [1, 2]}), path
    )
    schema = pa_arrow.schema(
        [("a", pa_arrow.string()), ("b", pa_arrow.int64()), ("c", pa_arrow.list_(pa_arrow.string()))]
    )
    got = store.read_table(path, schema=schema)
    assert got.equals(pq.read_table(path, schema=schema)) and got.schema == schema
    assert store.read_table(path).equals(pq.read_table(path))
    script = (
        "import sys; from pathlib import Path; import pyarrow as pa; from flows.steps import store; "
        f"store.read_table(Path({str(path)!r}), schema=pa.schema([('a', pa.string())])); "
        "print('pyarrow.dataset' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_failure_of_the_parquet_writer_thread_is_raised_in_the_loader_and_discard_leaves_nothing(
    tmp_path: Path,
) -> None:
    """A slice the writer thread cannot write (here: not of the part's schema) raises, in the loader, the
    error the write raised, at its next write or at `flush`; later parts are not written; `discard` stops the
    thread and removes everything staged."""
    import pyarrow as pa_arrow

    schema = pa_arrow.schema([("code", pa_arrow.string())])
    wrong = pa_arrow.table({"code": pa_arrow.array([1, 2], pa_arrow.int64())})
    writer = store.LoadWriter(tmp_path / "lake", "load-1", threaded=True)
    writer.write_slices("ds", schema, iter([wrong]))
    with pytest.raises(ValueError, match="schema does not match"):
        writer.flush()
    with pytest.raises(ValueError, match="schema does not match"):  # and at every write after it
        writer.write_slices("ds", schema, iter([pa_arrow.table({"code": ["a"]})]))
    staged = tmp_path / "lake" / ".staging" / "load-1"
    assert not [p for p in staged.rglob("*") if p.is_file()]
    writer.discard()
    assert not staged.exists()


def test_a_load_whose_parquet_writer_thread_fails_is_failed_with_the_write_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails in the writer thread fails the load as a write in the loader did: status failed,
    the error named, nothing staged left, nothing in the lake."""

    def full_disk(schema, tables, dest):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_tables_atomic", full_disk)
    settings = dataclasses.replace(settings, load_writer_thread=True)
    path = fixture("tic__in_network_rate", "valid_minimal.json")
    payers = payer_directory(settings.payer_alias_file)
    record = load_file(
        catalog.get("tic"),
        path,
        settings,
        "20260101T000000Z-test01",
        payers=payers,
        codes=frozenset({"0440T", "0441T", "0442T"}),
    )
    assert record.status == "failed" and "No space left on device" in (record.error or ""), record.error
    assert record.rows_loaded == 0
    assert not list(settings.lake_dir.glob("**/*.parquet")) or not list(
        settings.lake_dir.glob("tic__in_network_rate/**/*.parquet")
    )
    assert not (settings.lake_dir / ".staging").exists() or not any((settings.lake_dir / ".staging").iterdir())
