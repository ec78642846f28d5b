"""flows/catalog.py: every source declared once; the README tables and the ingest hooks derive from it."""

from __future__ import annotations

import pytest

from flows import catalog
from flows.errors import ConfigurationError
from flows.settings import PROJECT_DIR

README = PROJECT_DIR / "README.md"


@pytest.mark.parametrize("name", list(catalog.readme_tables()))
def test_the_readme_table_is_the_catalogs(name: str) -> None:
    """Regenerate with `python -m flows.catalog --readme` when this fails."""
    table = catalog.readme_tables()[name]
    lines = README.read_text(encoding="utf-8").splitlines()
    header = table.splitlines()[0]
    assert header in lines, f"README has no table headed {header!r}"
    start = lines.index(header)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    assert "\n".join(lines[start:end]) == table


def test_a_readme_row_that_disagrees_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    edited = dataclasses.replace(catalog.SOURCES["cms_opps_cap"], grain="one row per something else")
    monkeypatch.setattr(catalog, "ENTRIES", tuple(edited if s.name == "cms_opps_cap" else s for s in catalog.ENTRIES))
    assert catalog.sources_table() not in README.read_text(encoding="utf-8")


def test_every_dataset_has_one_schema_named_after_it_and_a_label() -> None:
    datasets = [d for s in catalog.ENTRIES for d in s.datasets]
    assert len(datasets) == len(set(datasets)) == len(catalog.SCHEMAS)
    for source in catalog.ENTRIES:
        for dataset, model in source.schemas.items():
            assert model.Config.name == dataset
            assert source.label(dataset) != dataset, (source.name, dataset)


def test_groups_are_derived_from_the_entries() -> None:
    assert list(catalog.GROUPS) == [
        "reference_tables",
        "payer_policies",
        "medicare_rates",
        "medicare_coverage",
        "partb_utilization",
        "tic",
        "hospital_mrf",
    ]
    assert catalog.members("medicare_rates")[0] == "reference"  # loaded first: the grid needs the codes
    assert catalog.members("payer_policies") == ("payer_policy",)
    assert catalog.load_order()[0] == "reference"


def test_resolve_a_group_a_source_or_neither() -> None:
    assert catalog.resolve("medicare_coverage") == ("ingest_medicare_coverage", [catalog.SOURCES["cms_mcd"]])
    assert catalog.resolve("cms_mcd") == ("ingest_source", [catalog.SOURCES["cms_mcd"]])
    assert catalog.resolve("tic")[0] == "ingest_tic"  # a group named like its one source
    with pytest.raises(ConfigurationError, match="unknown source or group 'nope'; groups: reference_tables"):
        catalog.resolve("nope")


def test_hook_flags_are_accepted_only_where_the_entry_declares_the_hook() -> None:
    assert catalog.with_hook("expand") == catalog.with_hook("runner") == ["tic"]
    assert catalog.with_hook("fetch") == [  # every CMS source and the policy pages; payers' and hospitals': issue 15
        "payer_policy", "payer_policy_snapshot",
        "cms_pfs_rvu", "cms_pfs_gpci", "cms_pfs_locality", "cms_opps_cap", "cms_opps_addendum_b", "cms_asc_addenda",
        "cms_mcd", "cms_partb_geo_service", "tic", "hospital_mrf",
    ]  # fmt: skip
    steps = {s.fetch.key for s in catalog.ENTRIES if s.fetch is not None}
    assert steps == {"cms_pfs_rvu_zip", "cms_opps_addendum_b_zip", "cms_asc_addenda_zip", "cms_mcd_exports",
                     "cms_partb_geo_service_api", "tic_indexes", "hospital_cms_hpt", "payer_policy_pages"}  # fmt: skip
    gated = {s.name for s in catalog.ENTRIES if s.fetch is not None and s.fetch.licence == "cms_ama"}
    assert gated == {"cms_pfs_rvu", "cms_pfs_gpci", "cms_pfs_locality", "cms_opps_cap", "cms_opps_addendum_b",
                     "cms_asc_addenda"}  # fmt: skip
    assert catalog.refused_flags(catalog.get("tic"), ["--toc", "--download", "--dask-address"]) is None
    refusal = catalog.refused_flags(catalog.get("payer_policy"), ["--toc", "--dask-address"])
    assert refusal == (
        "--toc applies only to sources that expand a table of contents into files (tic), not payer_policy; "
        "--dask-address applies only to sources that run files in parallel on Dask (tic), not payer_policy"
    )


def test_readme_command_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    catalog.main(["--readme"])
    assert capsys.readouterr().out.strip() == "\n\n".join(catalog.readme_tables().values())
