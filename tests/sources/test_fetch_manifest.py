"""The fetch manifest as a source: what fetch appends loads as typed rows; a bad row is quarantined."""

from __future__ import annotations

import pandas as pd

from flows.fetch import manifest
from flows.fetch.manifest import ManifestRow
from flows.settings import Settings
from flows.sources import fetch_manifest
from tests.cms_loading import findings, load, rows

ZIP = "https://www.cms.gov/files/zip/rvu26a.zip"


def test_appended_rows_load_with_their_types(settings: Settings) -> None:
    manifest.append(settings.raw_dir, [
        ManifestRow("f1", "cms_pfs_rvu", "cms_pfs_rvu_zip:RVU26A", "RVU26A", ZIP, "downloaded", final_url=ZIP,
                    http_status=200, etag='"e1"', content_length=12, bytes_received=12, sha256="b" * 64,
                    landed_path="cms_pfs_rvu/fetched/RVU26A/PPRRVU2026_Jan_nonQPP.csv", license_acknowledged=True),
        ManifestRow("f2", "cms_pfs_rvu", "cms_pfs_rvu_zip:RVU26A", "RVU26A", ZIP, "not_modified", http_status=304,
                    license_acknowledged=True, message="304 Not Modified"),
    ])  # fmt: skip
    path = manifest.manifest_path(settings.raw_dir)
    assert fetch_manifest.detect(path)
    record = load(settings, "fetch_manifest", path)
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (2, 2, 0)
    loaded = rows(settings, "fetch__manifest")
    assert loaded["outcome"].tolist() == ["downloaded", "not_modified"]
    assert loaded["http_status"].tolist() == [200, 304]
    assert loaded["license_acknowledged"].tolist() == [True, True]
    assert str(loaded["fetched_at"].dtype).startswith("datetime64") and str(loaded["fetched_at"].dt.tz) == "UTC"
    assert pd.isna(loaded["sha256"].iloc[1]) and pd.isna(loaded["landed_path"].iloc[1])


def test_a_row_with_an_unknown_outcome_is_quarantined_not_dropped(settings: Settings) -> None:
    manifest.append(settings.raw_dir, [ManifestRow("f1", "cms_mcd", "cms_mcd:current_lcd.zip", None, ZIP, "perhaps")])
    record = load(settings, "fetch_manifest", manifest.manifest_path(settings.raw_dir))
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (1, 0, 1)
    assert findings(settings) == [("line 2", "outcome", "isin", "perhaps")]


def test_other_csvs_are_not_taken_for_the_manifest(settings: Settings) -> None:
    assert not fetch_manifest.detect(settings.reference_dir / "billing_codes.csv")
