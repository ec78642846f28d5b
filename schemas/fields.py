"""Field types and enumerations shared by every dataset schema.

Enumerations are documented here once; schemas and SQL refer to them by these names.
"""

from __future__ import annotations

import decimal
import re
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:  # pandas is imported by the functions that take frames: the enumerations here are read
    import pandas as pd  # by processes that never import it (the lean warehouse build, flows/steps/warehouse.py)

# --- billing codes ------------------------------------------------------------------------------
# CPT Category I (5 digits), Category II (4 digits + F), Category III (4 digits + T),
# PLA (4 digits + U), MAAA (4 digits + M), CPT vaccine administration (4 digits + A, e.g. 0001A,
# which CMS's OPPS Addendum B lists), and HCPCS Level II (a letter A-V + 4 digits).
BILLING_CODE_PATTERN = r"^(?:\d{4}[0-9AFTUM]|[A-V]\d{4})$"
BILLING_CODE_RE = re.compile(BILLING_CODE_PATTERN)

CODE_TYPES = ("CPT", "HCPCS")
"""`CPT` (AMA CPT, any category) or `HCPCS` (CMS HCPCS Level II)."""

# --- payers -------------------------------------------------------------------------------------
PAYER_GROUPS = ("aetna", "bcbs", "cigna", "unitedhealthcare", "medicare")
"""The five payer groups every coverage and rate view is organised by."""
PAYER_GROUP_NAMES = {
    "aetna": "Aetna",
    "bcbs": "Blue Cross Blue Shield plans",
    "cigna": "Cigna",
    "unitedhealthcare": "UnitedHealthcare",
    "medicare": "Medicare (CMS and its MACs)",
    "other": "Other payers",
}
OTHER_PAYER_GROUP = "other"
"""Payers outside the five groups (hospital files name many); kept for benchmarks, reported."""
ALL_PAYER_GROUPS = PAYER_GROUPS + (OTHER_PAYER_GROUP,)

PLAN_TYPES = ("commercial", "medicare_advantage", "medicare_ffs", "medicaid_managed")
"""Line of business a policy applies to. `medicare_ffs` is traditional Medicare (CMS and MACs)."""

# --- policies -----------------------------------------------------------------------------------
COVERAGE_STATUSES = (
    "covered",
    "covered_with_criteria",
    "not_covered",
    "experimental_investigational",
    "not_medically_necessary",
    "case_by_case",
    "no_policy_found",
)
"""A payer policy's stance on a code. `no_policy_found` records a search that found nothing."""

COVERAGE_POSITION = {
    "covered": "covered",
    "covered_with_criteria": "covered_with_criteria",
    "not_covered": "not_covered",
    "experimental_investigational": "not_covered",
    "not_medically_necessary": "not_covered",
    "case_by_case": "case_by_case",
}
"""Coarse position used for consensus: E/I and 'not medically necessary' both mean a denial."""

PRIOR_AUTHORIZATION = ("yes", "no", "unknown")

SOURCE_CONFIDENCE = ("verified", "verified_third_party", "inferred", "not_found")
"""How a fact was established, strongest first (see raw/payer_policy/README.md):
verified = stated in the source text read; verified_third_party = stated by a compiler of the
source (coding site, aggregator); inferred = follows from verified facts, not seen stated;
not_found = searched for and not established."""

# --- Medicare coverage database (local coverage articles and LCDs) ---------------------------------
LISTING_CLASSES = ("covered", "non_covered", "other")
"""What an article's or LCD's code group says about the codes it lists, read from the group's
paragraph: `covered` ("covered when ...", "reasonable and necessary"), `non_covered` ("non-covered",
"not reasonable and necessary", "investigational"), `other` (billing instructions, "reviewed case
by case", no paragraph). CMS's disclaimer "does not necessarily indicate coverage" is ignored."""

MCD_AVAILABILITY = ("listed", "no_lcd_or_article", "partially_loaded", "not_loaded", "not_applicable")
"""Why `coverage_matrix`'s MCD columns hold what they hold: `listed` (a current LCD or article of the
loaded MCD release lists the code); `no_lcd_or_article` (the article and the LCD code lists were
loaded with the code in scope and none lists it); `partially_loaded` (only the article or only the
LCD code lists were loaded, and they do not list it); `not_loaded` (no MCD code list was loaded
for the code); `not_applicable` (a commercial payer group: the MCD is Medicare's)."""

# --- Medicare Part B utilization ---------------------------------------------------------------------
GEO_LEVELS = ("national", "state")
"""`Rndrng_Prvdr_Geo_Lvl` of CMS's geography-and-service file (written National / State)."""

PLACES_OF_SERVICE = {"F": "facility", "O": "office"}
"""`Place_Of_Srvc`: F = facility (hospital, ASC: the facility fee schedule), O = office (non-facility)."""

UTILIZATION_AVAILABILITY = ("reported", "not_published_small_cell", "not_loaded")
"""Why a `medicare_utilization` cell holds what it holds: `reported` (CMS published the cell);
`not_published_small_cell` (the loaded file for that year has no row for it: CMS publishes no cell
with fewer than 11 beneficiaries, including none); `not_loaded` (no loaded file for that year was
scanned for the code, or the file's row for the cell failed validation: see `quarantine`)."""

TREND_AVAILABILITY = ("reported", "partial_small_cell", "not_published_small_cell", "not_loaded")
"""`medicare_utilization_trend` (national, one row per code and year): `reported` (facility and office
both published); `partial_small_cell` (one setting not published: combined figures are the other's);
`not_published_small_cell` (neither published); `not_loaded` (no file of that year scanned for the code)."""

MIN_PUBLISHED_BENEFICIARIES = 11
"""CMS suppresses geography-and-service cells with fewer beneficiaries than this."""

# --- typed columns ------------------------------------------------------------------------------
# Pandera's types, made when a schema first asks for them (`__getattr__`): importing pandera takes about 0.4 s,
# which what reads only the enumerations above (the report, the CLI) does not pay.
#   IsoDate    a calendar date. Adapters normalise source formats to ISO text; anything else is quarantined.
#   UsdAmount  US dollars, exact to 1/100 of a cent (hospital files quote cash prices such as 3068.7565).
MONEY_PRECISION, MONEY_SCALE = 18, 4


def decimal_type(precision: int, scale: int) -> type:
    """A fixed-point decimal column type; written to Parquet as decimal128(precision, scale)."""
    from pandera.engines import pandas_engine

    return Annotated[pandas_engine.Decimal, precision, scale, decimal.ROUND_HALF_EVEN]  # type: ignore[return-value]


def __getattr__(name: str) -> Any:
    """`IsoDate` and `UsdAmount` (importing pandera), kept once made."""
    if name == "IsoDate":
        from pandera.engines import pandas_engine

        made: Any = Annotated[pandas_engine.Date, {"format": "%Y-%m-%d"}]
    elif name == "UsdAmount":
        made = decimal_type(MONEY_PRECISION, MONEY_SCALE)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = made
    return made


# --- text normalisation helpers used by adapters -------------------------------------------------
def normalize_dates(values: pd.Series, formats: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y")) -> pd.Series:
    """Rewrite dates written in any of `formats` as ISO text; leave anything else untouched.

    Untouched text then fails the schema's date coercion and is quarantined with its raw value,
    which is the point: a date we cannot read for certain is never guessed.
    """
    import pandas

    text = values.astype("str").str.strip()
    out = text.copy()
    pending = text.notna() & (text != "")
    for fmt in formats:
        parsed = pandas.to_datetime(text.where(pending), format=fmt, errors="coerce")
        hit = pending & parsed.notna()
        out = out.mask(hit, parsed.dt.strftime("%Y-%m-%d"))
        pending &= ~hit
    return out.where(out != "")


def normalize_enum(values: pd.Series) -> pd.Series:
    """'Experimental / Investigational ' -> 'experimental_investigational' (mapped per distinct value)."""
    mapping = {v: "_".join(re.sub(r"[/\-]", " ", str(v).lower()).split()) for v in values.dropna().unique()}
    return values.map(mapping).astype("str")


def column_names(model: type) -> list[str]:
    """A schema model's column names in `to_schema().columns` order, read from its annotations (base
    classes first, a Field's `alias` honoured) without building the schema: adapters need them at import."""
    names: list[str] = []
    for klass in reversed(model.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if name.startswith("_") or name == "Config":
                continue
            column = getattr(model, name, name)  # a pandera Field reads as its column name (its alias, if any)
            column = column if isinstance(column, str) else name
            if column not in names:  # redeclared in a subclass: keeps its first place, as in pandera
                names.append(column)
    return names


def blank_to_null(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip surrounding whitespace and turn empty strings into nulls (text columns only)."""
    import pandas

    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or pandas.api.types.is_string_dtype(col.dtype):
            stripped = col.astype("str").str.strip()
            out[name] = stripped.where(stripped != "")
    return out
