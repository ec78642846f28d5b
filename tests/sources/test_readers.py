"""Shared streaming CSV reader: the row filter large files are read through."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.sources.base import FileRejected
from flows.sources.readers import ReadStats, RowFilter, read_csv_chunks

CODES = {"0440T", "64640"}
KEEP = RowFilter("hcpcs_cd", lambda value: value.strip().upper() in CODES)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, chunk_rows: int = 2, **kwargs: object) -> pd.DataFrame:
    chunks = list(read_csv_chunks(path, required=["hcpcs_cd"], chunk_rows=chunk_rows, **kwargs))  # type: ignore[arg-type]
    return pd.concat([c.frame for c in chunks], ignore_index=True) if chunks else pd.DataFrame()


def test_filter_keeps_matching_rows_with_their_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path, 'HCPCS_Cd,desc\n99213,"visit,\nestablished"\n0440t,cryo\n20610,inj\n64640,"destroy, nerve"\n')
    stats = ReadStats()
    frame = read(path, row_filter=KEEP, stats=stats)
    assert frame["hcpcs_cd"].tolist() == ["0440t", "64640"]
    assert frame["source_record"].tolist() == ["line 4", "line 6"]  # line 2's quoted newline is counted
    assert (stats.data_rows, stats.skipped_rows) == (4, 2)


def test_a_file_whose_rows_are_all_filtered_yields_nothing_but_is_not_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "HCPCS_Cd,desc\n99213,visit\n")
    stats = ReadStats()
    assert read(path, row_filter=KEEP, stats=stats).empty
    assert (stats.data_rows, stats.skipped_rows) == (1, 1)


def test_a_row_too_short_to_judge_is_kept_for_the_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "desc,HCPCS_Cd\nshort row\nfull,64640\n")
    frame = read(path, row_filter=KEEP)
    assert frame["desc"].tolist() == ["short row", "full"]
    assert pd.isna(frame.loc[0, "hcpcs_cd"])


def test_filter_column_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "code,desc\n0440T,x\n")
    with pytest.raises(FileRejected, match="missing required column 'hcpcs_cd'"):
        read_csv_chunks(path, required=[], chunk_rows=10, row_filter=KEEP).__next__()


def test_without_a_filter_every_row_is_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "HCPCS_Cd\n1\n2\n3\n")
    stats = ReadStats()
    assert len(read(path, stats=stats)) == 3
    assert (stats.data_rows, stats.skipped_rows) == (3, 0)
