"""The words the benchmark report uses for the values it shows (payer groups, stances, settings, reasons).

An enumeration `schemas/fields.py` already declares is not typed again here: its words are made from it by
`words` (the value with spaces for `_`, unless wording is given), so a value added there gets words here, and
wording for a value it does not have is an error at import. Only what no schema declares (the marts'
settings and reasons, the benchmark sources and Medicare file kinds) is listed here.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from pathlib import Path

from schemas import fields

NA = "data not available"


def words(enumeration: tuple[str, ...], **wording: str) -> dict[str, str]:
    """Words for each value of `enumeration`, in its order: `wording[value]` where given, else the value with spaces
    for its underscores (`case_by_case` -> "case by case"). ValueError for wording of a value it does not have."""
    stray = sorted(set(wording) - set(enumeration))
    if stray:
        raise ValueError(f"wording for {', '.join(stray)}, not values of {enumeration}")
    return {value: wording.get(value, value.replace("_", " ")) for value in enumeration}


REASONS = {
    "reported": "reported",
    "contractor_priced": "contractor-priced: no national amount (each Medicare contractor sets the payment)",
    "not_payable": "not payable by Medicare in this setting",
    "packaged": "packaged into another service: no separate Medicare payment",
    "not_in_release": "not listed in the loaded release",
    "unknown_indicator": "data not available: the file's status indicator is not one payerbench knows (see medicare_indicator)",
    "not_loaded": "data not available: no file of this source is loaded for the period",
    "no_rates_found": "data not available: the loaded files hold no rate for this code",
    "source_not_loaded": "data not available: no file of this source dated on or before the as-of date is loaded",
    "percentage_only": "only percentage-of-charges rates (no dollar amount)",
    "effective_date_not_stated": "data not available: the policy extract gives no effective date",
    "formula_only": "only rates given as a formula (no dollar amount or percentage; listed in section 6)",
    "not_applicable": "not applicable",
    "no_policy_found": "no policy found",
    "not_in_extract": "no row in the loaded policy extract",
    "no_lcd_or_article": "no LCD or coverage article lists the code",
    "not_published_small_cell": "not published by CMS (fewer than 11 beneficiaries)",
    "partial_small_cell": "partly published (one place of service suppressed by CMS)",
    "partially_loaded": "data not available: only part of the coverage database is loaded",
    "listed": "listed in a current LCD or coverage article",
    # synthetic demonstration files (flows/report/synthetic.py): never worded as CMS's or a payer's doing
    "synthetic_small_cell": "left out of the synthetic sample file (a demonstration of CMS's small-cell rule, not CMS data)",
    "synthetic_partial_small_cell": "partly left out of the synthetic sample file (one place of service; not CMS data)",
    "only_synthetic_loaded": "data not available: only a synthetic demonstration file of this source is loaded",
}
"""Why a value is what it is (the marts' `availability_reason` and its kin), in words. Every value of
`fields.MCD_AVAILABILITY`, `fields.UTILIZATION_AVAILABILITY` and `fields.TREND_AVAILABILITY` has its words here."""

STANCES = {
    **words(fields.COVERAGE_STATUSES, experimental_investigational="experimental / investigational"),
    "mixed": "mixed (policies disagree)",  # coverage_matrix's own value: the strongest policies disagree
}
CONFIDENCE = words(fields.SOURCE_CONFIDENCE, verified_third_party="verified (third party)")
CONFIDENCE_ORDER = {value: rank for rank, value in enumerate(fields.SOURCE_CONFIDENCE, start=1)}
"""Strongest evidence first (the same ranks as the warehouse's enum_source_confidence.strength_rank)."""
GROUPS = {group: fields.PAYER_GROUP_NAMES[group] for group in fields.ALL_PAYER_GROUPS} | {"medicare": "Medicare"}
"""Payer groups in the warehouse's order (enum_payer_group.sort_order); the report's Medicare rows say "Medicare"."""

_PLAN_WORDS = {
    "medicare_advantage": "Medicare Advantage",
    "medicaid_managed": "Medicaid managed care",
    "medicare_ffs": "traditional Medicare",
}
PLAN_TYPES = words(fields.PLAN_TYPES, **_PLAN_WORDS) | {"not_stated": "not stated in the file"}
"""A benchmark row's plan type; `not_stated`: a hospital file that does not say (benchmark_rate.sql)."""
LINES = words(fields.PLAN_TYPES, commercial="commercial plans", **_PLAN_WORDS)
"""The line of business a coverage_matrix row's stance is for."""
COMMERCIAL_PLAN_TYPES = ("commercial", "not_stated")
"""Plan types section 6 shows as commercial rates: stated commercial, and hospital rows whose file does not say (labelled)."""

SETTINGS = {
    "physician_nonfacility": "Physician, office (non-facility)",
    "physician_facility": "Physician, facility",
    "hopd_opps": "Hospital outpatient (OPPS)",
    "asc": "Ambulatory surgical center",
    "professional_office": "Professional, office",
    "professional_facility": "Professional, facility",
    "hospital_outpatient": "Hospital outpatient",
}
SOURCES = {
    "medicare_fee_schedule": "Medicare fee schedule",
    "payer_tic": "Payer TiC files",
    "hospital_mrf": "Hospital price files",
}
"""The benchmark's `source` column (reimbursement_benchmark, benchmark_rate)."""
FILE_KINDS = {
    "asc_addendum_aa": "CMS ASC Addendum AA",
    "opps_addendum_b": "CMS OPPS Addendum B",
    "pfs_rvu": "CMS PFS relative value file (PPRRVU)",
    "asc_addendum_ff": "CMS ASC Addendum FF",
}
"""The Medicare payment files that list a code (medicare_file_listings.sql's `rate_source`)."""


def source_description(source: str) -> str:
    """Who publishes a source, as the "Files loaded" table names it (the source's own name when it is not declared).

    The one place the report reads the source declarations: from the catalog when it is loaded (a pipeline run),
    else from flows/catalog.py's text (`declared_descriptions`), since importing the catalog imports every adapter
    and schema (about a second) for these few words."""
    if "flows.catalog" in sys.modules:
        descriptions = {name: s.description for name, s in sys.modules["flows.catalog"].SOURCES.items()}
    else:
        spec = importlib.util.find_spec("flows.catalog")
        descriptions = declared_descriptions(Path(spec.origin)) if spec and spec.origin else None
        if descriptions is None:  # an entry written in a way the text does not tell: ask the catalog itself
            from flows import catalog

            descriptions = {name: s.description for name, s in catalog.SOURCES.items()}
    return descriptions.get(source, source)


@functools.cache
def declared_descriptions(catalog_file: Path) -> dict[str, str] | None:
    """Each source's description as the catalog declares it, read from the file's syntax tree: every
    `Source("name", "description", ...)` (or `name=`, `description=`) with both written as string literals.
    None when any `Source(...)` call is written otherwise (a name or description computed): then only importing
    the catalog can tell."""
    try:
        tree = ast.parse(catalog_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Source"):
            continue
        given = dict(zip(("name", "description"), node.args))
        given |= {k.arg: k.value for k in node.keywords if k.arg in ("name", "description")}
        values = [given.get("name"), given.get("description")]
        if not all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in values):
            return None
        found[values[0].value] = values[1].value  # type: ignore[union-attr]
    return found
