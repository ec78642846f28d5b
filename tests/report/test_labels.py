"""The report's words: made from the enumerations schemas/fields.py declares, never a second copy of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.report import labels
from schemas import fields


def test_words_default_to_the_value_and_refuse_wording_for_a_value_not_in_the_enumeration() -> None:
    assert labels.words(("case_by_case", "covered"), covered="yes") == {
        "case_by_case": "case by case",
        "covered": "yes",
    }
    with pytest.raises(ValueError, match="humana"):
        labels.words(fields.PAYER_GROUPS, humana="Humana")


def test_payer_groups_are_the_schemas_in_their_order_with_the_reports_medicare_wording() -> None:
    assert tuple(labels.GROUPS) == fields.ALL_PAYER_GROUPS
    assert {g: w for g, w in labels.GROUPS.items() if g != "medicare"} == {
        g: w for g, w in fields.PAYER_GROUP_NAMES.items() if g != "medicare"
    }
    assert labels.GROUPS["medicare"] == "Medicare"


def test_every_coverage_status_confidence_and_plan_type_has_words() -> None:
    assert set(fields.COVERAGE_STATUSES) | {"mixed"} == set(labels.STANCES)
    assert labels.STANCES["experimental_investigational"] == "experimental / investigational"
    assert tuple(labels.CONFIDENCE) == fields.SOURCE_CONFIDENCE
    assert labels.CONFIDENCE["verified_third_party"] == "verified (third party)"
    # strongest first, ranked as the warehouse's enum_source_confidence.strength_rank (1 = strongest)
    assert sorted(labels.CONFIDENCE_ORDER, key=labels.CONFIDENCE_ORDER.get) == list(fields.SOURCE_CONFIDENCE)
    assert labels.CONFIDENCE_ORDER["verified"] == 1
    assert set(labels.PLAN_TYPES) == set(fields.PLAN_TYPES) | {"not_stated"}
    assert set(labels.LINES) == set(fields.PLAN_TYPES) and labels.LINES["commercial"] == "commercial plans"
    assert set(labels.COMMERCIAL_PLAN_TYPES) <= set(labels.PLAN_TYPES)


def test_every_availability_value_the_schemas_declare_has_a_reason_in_words() -> None:
    declared = set(fields.MCD_AVAILABILITY) | set(fields.UTILIZATION_AVAILABILITY) | set(fields.TREND_AVAILABILITY)
    assert declared <= set(labels.REASONS), declared - set(labels.REASONS)


def test_a_source_is_described_by_its_declaration_or_named_as_it_is() -> None:
    from flows import catalog

    name, source = next(iter(catalog.SOURCES.items()))
    assert labels.source_description(name) == source.description != name
    assert labels.source_description("no_such_source") == "no_such_source"


def test_the_catalogs_text_gives_every_source_its_declared_description() -> None:
    """What `source_description` reads without importing the catalog is what the catalog declares."""
    from flows import catalog

    declared = labels.declared_descriptions(Path(catalog.__file__))
    assert declared == {name: source.description for name, source in catalog.SOURCES.items()}


def test_a_catalog_whose_descriptions_are_not_written_out_is_not_guessed(tmp_path: Path) -> None:
    written = tmp_path / "written.py"
    written.write_text('S = [Source("a", "A " "publisher", read), Source(name="b", description="B", read=r)]\n')
    assert labels.declared_descriptions(written) == {"a": "A publisher", "b": "B"}
    computed = tmp_path / "computed.py"
    computed.write_text('S = [Source("a", "A", read), Source("b", WORDS["b"], read)]\n')
    assert labels.declared_descriptions(computed) is None  # then the catalog itself is asked
    broken = tmp_path / "broken.py"
    broken.write_text("S = [Source(\n")
    assert labels.declared_descriptions(broken) is None
