"""The CMS payment sources in the catalog: every bundled file is recognised by exactly its own source."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import catalog
from flows.ingest import discover
from flows.settings import Settings

CMS_SOURCES = [name for name in catalog.members("medicare_rates") if not catalog.get(name).is_reference]


def test_the_medicare_rates_group_holds_cms_payment_sources() -> None:
    assert len(CMS_SOURCES) >= 6 and all(name.startswith("cms_") for name in CMS_SOURCES)


@pytest.mark.parametrize("source", CMS_SOURCES)
def test_each_bundled_file_is_detected_by_its_source_only(source: str) -> None:
    files = discover(Settings(), catalog.get(source))
    assert files, f"raw/{source} holds no file"
    for path in files:
        assert catalog.detect_source(path) == [source], path


def test_every_cms_dataset_has_a_schema_named_after_it() -> None:
    for source in CMS_SOURCES:
        for dataset in catalog.get(source).datasets:
            assert catalog.SCHEMAS[dataset].Config.name == dataset and dataset.startswith("cms__")


def test_full_real_files_are_detected(real_samples: Path) -> None:
    expected = {
        "cms-pfs-rvu/RVU25D/PPRRVU2025_Oct.csv": "cms_pfs_rvu",
        "cms-pfs-rvu/fixed-width/PPRRVU2025_sample.txt": "cms_pfs_rvu",
        "cms-pfs-rvu/RVU25D/GPCI2025.csv": "cms_pfs_gpci",
        "cms-pfs-rvu/RVU25D/25LOCCO.csv": "cms_pfs_locality",
        "cms-pfs-rvu/RVU25D/OPPSCAP_Oct.csv": "cms_opps_cap",
        "cms-opps-addendum-b/2023_January_Web_Addendum_B.12212022.xlsx": "cms_opps_addendum_b",
        "cms-asc-addenda/2026/20260101/AA.csv": "cms_asc_addenda",
        "cms-asc-addenda/2025/20251001/FF.csv": "cms_asc_addenda",
    }
    for name, source in expected.items():
        assert catalog.detect_source(real_samples / name) == [source], name
    assert catalog.detect_source(real_samples / "cms-asc-addenda/2026/20260101/BB.csv") == []
