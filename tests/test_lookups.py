"""The lookups every ingest resolves against, read and validated from raw/reference/."""

from __future__ import annotations

from flows.lookups import codes_of_interest, payer_directory, read_reference
from flows.settings import Settings


def test_codes_of_interest_come_from_the_reference_file(settings: Settings) -> None:
    codes = codes_of_interest(settings)
    assert {"0440T", "0441T", "0442T", "64640", "64624", "64450"} <= codes
    settings.billing_code_file.write_text(
        settings.billing_code_file.read_text(encoding="utf-8")
        + "J1234,HCPCS,hcpcs_level_ii,comparator,test,test code,\n",
        encoding="utf-8",
    )
    assert "J1234" in codes_of_interest(settings)  # configuration, not code


def test_geography_reference_lists_each_state_dc_and_territories(settings: Settings) -> None:
    geos = read_reference(settings.reference_dir / "us_geographies.csv", "ref__geography")
    assert len(geos) == 56 and geos["geo_fips"].is_unique
    assert (geos["geo_type"] == "state").sum() == 50
    assert geos.set_index("state_abbrev").loc["PR", "geo_fips"] == "72"


def test_the_payer_directory_is_read_from_the_alias_file_and_names_it(settings: Settings) -> None:
    payers = payer_directory(settings.payer_alias_file)
    assert payers.source_file == settings.payer_alias_file.name
    assert payers.lookup("Anthem Blue Cross") is not None and payers.lookup("Not A Payer Inc") is None


def test_a_reference_table_is_read_once_per_process_until_its_file_changes(settings: Settings, monkeypatch) -> None:
    from flows import lookups

    reads: list[str] = []
    real = lookups.reference.read_file
    monkeypatch.setattr(lookups.reference, "read_file", lambda path, rows: reads.append(path.name) or real(path, rows))
    path = settings.billing_code_file
    first = read_reference(path, "ref__billing_code")
    first.loc[0, "label"] = "changed by a caller"  # a copy: the next caller never sees it
    second = read_reference(path, "ref__billing_code")
    assert reads == [path.name] and second.loc[0, "label"] != "changed by a caller"
    path.write_text(path.read_text(encoding="utf-8") + "J1234,HCPCS,hcpcs_level_ii,comparator,test,test code,\n")
    assert "J1234" in set(read_reference(path, "ref__billing_code")["billing_code"])
    assert reads == [path.name, path.name]  # edited: read again
