"""Hospital price-transparency machine-readable files (45 CFR 180.50), CMS template v2.x and v3.0.

Publisher: every US hospital, on its own website (found through the cms-hpt.txt file at the site
root); CMS publishes the templates, data dictionary and JSON schemas (CMSgov/hospital-price-transparency).
Formats (told by content, never by the file name):
  - CSV tall: line 1 hospital metadata headers (hospital_name, last_updated_on, version,
    location_name, hospital_address, license_number|<ST>, type_2_npi, the attestation text as a
    header, attester_name, general_contract_provisions), line 2 their values, line 3 the data
    header (description, code|1, code|1|type, ..., payer_name, plan_name, standard_charge|...),
    then one record per item x payer x plan;
  - CSV wide: the same first lines; payer and plan live in the column names
    (standard_charge|<payer>|<plan>|negotiated_dollar, median_amount|<payer>|<plan>, ...) and are
    unpivoted to the rows a tall file gives;
  - JSON: {hospital_name, ..., standard_charge_information: [{description, code_information[],
    drug_information, standard_charges: [{setting, gross_charge, discounted_cash, minimum, maximum,
    modifier_code[], payers_information: [...]}]}]}, streamed with ijson (yajl2_c).
Versions: v2.0-2.2 (hospital_location, affirmation, estimated_amount) and v3.0 (location_name,
type_2_npi, attestation with attester_name, median_amount / 10th_percentile / 90th_percentile /
count). The generation is told by the file's structure; the declared `version` is kept as written
and compared with it (advisory).
Cadence: hospitals update at least yearly (last_updated_on). A file landed in raw/hospital_mrf/ is
one snapshot; a newer snapshot of the same hospital replaces the older one in the staging view.

Only items carrying a code of interest (ctx.codes_of_interest) are kept; an empty set keeps every
CPT/HCPCS item (tests, exploring a file). A code counts when typed CPT or HCPCS, or typed with
something that is not a CMS code type (then the row is quarantined for its type); the same digits
typed RC, CDM, LOCAL, NDC, ... are another code system and are skipped. CSV files are
prefiltered at byte level (flows/engines/csv_prefilter.py) with a full csv parse as the fallback.

Quirks handled: a BOM; pipes written with spaces ("code | 1"); header typos in spacing or case
("hospital_ location"); dates as M/D/YYYY or "July 1 2024"; attestation written TRUE/true/yes;
blank lines (also between the metadata and the data header); short rows (padded); columns in any
order; columns the template does not define (ignored and listed in hospital__file.ignored_columns);
"$1,475.61" and "150%"; "N/A" in numeric cells; nine 9s (999999999) in charges (quarantined as a
placeholder) and in allowed-amount statistics (NULL with allowed_amounts_reason); the tall layout's
repetition of the item's gross/cash/min/max on every payer row (one payer_independent row per item).
Rejected (the whole file): no metadata rows, a blank hospital_name, a line 3 that is not the data
header, a missing required column, an unreadable payer-specific column name
("standard_charge|Aetna|PPO|negotiated_dollarr"), truncated or invalid JSON, NUL bytes, a quoted
field never closed. Left out: modifier-only rows and `modifier_information` (no code), zipped or
gzipped files (unpack first), XLSX. Cost: JSON metadata written after standard_charge_information
(rare; CMS's order puts it first) takes a second, slower pass over the file to read it.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from flows.engines import csv_prefilter, json_guard
from flows.engines.readers import REJECT_COLUMNS, TEXT, detect_format, sniff
from flows.engines.tic_stream import Limits
from flows.sources import hospital_hpt
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from schemas.fields import BILLING_CODE_RE, normalize_dates
from schemas.hospital_mrf import DATASET, FILE_DATASET, PLACEHOLDER_AMOUNT

log = logging.getLogger(__name__)

# Every column of hospital__standard_charge the adapter fills (payer_group is the loader's).
COLUMNS = [
    "billing_code",
    "billing_code_type",
    "other_codes",
    "description",
    "setting",
    "modifiers",
    "drug_unit_of_measurement",
    "drug_type_of_measurement",
    "charge_scope",
    "payer_name",
    "plan_name",
    "plan_type",
    "negotiated_dollar_usd",
    "negotiated_percent",
    "negotiated_algorithm",
    "negotiated_type",
    "negotiated_dollar_reason",
    "estimated_amount_usd",
    "median_amount_usd",
    "percentile_10th_usd",
    "percentile_90th_usd",
    "allowed_amount_count",
    "allowed_amounts_reason",
    "methodology",
    "gross_charge_usd",
    "discounted_cash_usd",
    "minimum_usd",
    "maximum_usd",
    "charges_missing",
    "additional_notes",
]
FILE_COLUMNS = [
    "hospital_name",
    "location_name",
    "hospital_address",
    "license_number",
    "license_state",
    "type_2_npi",
    "last_updated_on",
    "last_updated_on_as_written",
    "template_version",
    "template_generation",
    "file_layout",
    "attestation_confirmed",
    "attester_name",
    "general_contract_provisions",
    "ignored_columns",
]

# CMS code types (v2 and v3 JSON schemas). A code typed with anything else may be a mistyped CPT.
CMS_CODE_TYPES = frozenset(
    {
        "CPT",
        "HCPCS",
        "ICD",
        "DRG",
        "MS-DRG",
        "R-DRG",
        "S-DRG",
        "APS-DRG",
        "AP-DRG",
        "APR-DRG",
        "TRIS-DRG",
        "APC",
        "NDC",
        "HIPPS",
        "LOCAL",
        "EAPG",
        "CDT",
        "RC",
        "CDM",
        "CMG",
        "MS-LTC-DRG",
    }
)
OUR_CODE_TYPES = frozenset({"CPT", "HCPCS"})

# Data columns (normalised header text) -> the fields of an item or of a payer entry.
ITEM_COLUMNS = {
    "description": "description",
    "setting": "setting",
    "modifiers": "modifiers",
    "drug_unit_of_measurement": "drug_unit",
    "drug_type_of_measurement": "drug_type",
    "standard_charge|gross": "gross",
    "standard_charge|discounted_cash": "cash",
    "standard_charge|min": "minimum",
    "standard_charge|max": "maximum",
    "additional_generic_notes": "generic_notes",
}
TALL_PAYER_COLUMNS = {
    "payer_name": "payer_name",
    "plan_name": "plan_name",
    "standard_charge|negotiated_dollar": "dollar",
    "standard_charge|negotiated_percentage": "percent",
    "standard_charge|negotiated_algorithm": "algorithm",
    "estimated_amount": "estimated",
    "median_amount": "median",
    "10th_percentile": "p10",
    "90th_percentile": "p90",
    "count": "count",
    "standard_charge|methodology": "methodology",
    "additional_payer_notes": "notes",
}
WIDE_CHARGE_SUFFIX = {  # standard_charge|<payer>|<plan>|<suffix>
    "negotiated_dollar": "dollar",
    "negotiated_percentage": "percent",
    "negotiated_algorithm": "algorithm",
    "methodology": "methodology",
}
WIDE_PREFIX = {  # <prefix>|<payer>|<plan>
    "estimated_amount": "estimated",
    "median_amount": "median",
    "10th_percentile": "p10",
    "90th_percentile": "p90",
    "count": "count",
    "additional_payer_notes": "notes",
}
PAYER_FIELDS = (
    "payer_name",
    "plan_name",
    "dollar",
    "percent",
    "algorithm",
    "estimated",
    "median",
    "p10",
    "p90",
    "count",
    "methodology",
    "notes",
)
V3_PAYER_FIELDS = {"median", "p10", "p90", "count"}
REQUIRED = ["description", "setting", "code|1", "code|1|type"]
DATA_HEADER_KEYS = frozenset(
    {
        "description",
        "code|1",
        "code|1|type",
        "setting",
        "modifiers",
        "standard_charge|gross",
        "standard_charge|discounted_cash",
        "payer_name",
        "plan_name",
        "standard_charge|min",
        "standard_charge|max",
        "drug_unit_of_measurement",
    }
)
ATTESTATION_PREFIX = "to_the_best_of_its_knowledge"
EXPECTED_LAYOUT = (
    "the CMS template: hospital metadata headers on line 1 (hospital_name, last_updated_on, version, "
    "...), their values on line 2, the data header (description, code|1, code|1|type, setting, ...) "
    "on line 3"
)
EXPECTED_JSON = "the CMS hospital JSON template: an object with hospital_name, ..., standard_charge_information"
JSON_ARRAYS = ("standard_charge_information", "modifier_information")
GOOD_JSON = "a hospital price-transparency JSON file as the CMS template has it (values nest a few levels deep)"
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%B %d %Y", "%B %d, %Y", "%b %d %Y", "%b %d, %Y", "%Y-%m-%dT%H:%M:%S")
NOT_AVAILABLE = {"n/a", "na", "null", "none", "-", "--"}
TRUE_WORDS, FALSE_WORDS = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}
NINE_NINES = re.compile(r"\s*\$?\s*999,?999,?999(?:\.0*)?\s*")

# Line of business, when the payer or plan text says so (first match wins).
MEDICARE_ADVANTAGE = re.compile(
    r"medicare\s*advantage|medicare\s*adv\b|\bma[\s-]?pd\b|medicare\s*(?:hmo|ppo|pffs|replacement|complete)"
    r"|\b[dci]-?snp\b|special\s*needs\s*plan",
    re.IGNORECASE,
)
MEDICAID = re.compile(r"medicaid|medi-?cal\b|\bchip\b", re.IGNORECASE)
MEDICARE_FFS = re.compile(
    r"(?:traditional|original)\s*medicare|medicare\s*(?:part\s*[ab]\b|ffs\b|fee[\s-]*for[\s-]*service)", re.IGNORECASE
)
MEDIGAP = re.compile(r"supplement|medigap", re.IGNORECASE)
TRADITIONAL_PAYER = re.compile(
    r"\s*(?:medicare\b|cms\b|centers\s+for\s+medicare|original\s+medicare|traditional\s+medicare)", re.IGNORECASE
)
COMMERCIAL = re.compile(r"\bcommercial\b|\bexchange\b|\bmarketplace\b|\bemployer", re.IGNORECASE)


# --- detection ----------------------------------------------------------------------------------
def detect(path: Path) -> bool:
    """True when the file's content is a CMS hospital price-transparency file (CSV or JSON), or the cms-hpt.txt
    entries file the fetch step writes (flows/sources/hospital_hpt.py)."""
    if hospital_hpt.is_entries_file(path):
        return True
    try:
        head = sniff(path)
        fmt = detect_format(path, head)
    except FileRejected:
        return False
    text = head.decode("utf-8", "ignore")
    if fmt == "json":
        return '"standard_charge_information"' in text or ('"hospital_name"' in text and '"last_updated_on"' in text)
    if fmt == "csv":
        first_line = text.lstrip("\ufeff").split("\n", 1)[0]
        cells = next(csv.reader([first_line]), [])
        lowered = text.lower()
        return (
            bool(cells)
            and _key(cells[0]) == "hospital_name"
            and "last_updated_on" in lowered
            and "description" in lowered
        )
    return False


# --- entry point --------------------------------------------------------------------------------
def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse a hospital file into hospital__file (one row) and hospital__standard_charge batches (a cms-hpt.txt
    entries file into hospital__hpt_entry rows)."""
    if hospital_hpt.is_entries_file(path):
        yield from hospital_hpt.read_entries(path, ctx)
        return
    yield from read_file(path, ctx)


def read_file(path: Path, ctx: ReadContext, *, fast: bool | None = None) -> Iterator[Batch]:
    """`read` with the CSV strategy selectable: fast=True/False forces the byte prefilter on or off
    (tests compare both); None uses it whenever codes of interest are configured."""
    head = sniff(path)
    fmt = detect_format(path, head)
    if fmt == "json":
        yield from _read_json(path, ctx)
    elif fmt == "csv":
        yield from _read_csv(path, ctx, fast=fast)
    elif fmt == "gzip":
        raise FileRejected(path, "gzip-compressed", "an uncompressed CSV or JSON file (gunzip it first)")
    elif fmt == "xlsx":
        raise FileRejected(
            path,
            "a ZIP archive (a zipped file or an XLSX workbook)",
            "the CMS CSV (tall or wide) or JSON template, unzipped",
        )
    else:
        raise FileRejected(
            path,
            f"{fmt} content is not a hospital price-transparency file",
            "the CMS CSV (tall or wide) or JSON template",
        )


# --- small value helpers ------------------------------------------------------------------------
def _key(text: object) -> str:
    """Header text -> matching key: 'Code | 1 | Type' -> 'code|1|type', 'hospital_ location' -> 'hospital_location'."""
    parts = str(text or "").replace("\ufeff", "").replace("\xa0", " ").split("|")
    return "|".join(re.sub(r"[\s\-_]+", "_", p.strip().lower()).strip("_") for p in parts)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        items = [t for t in (_text(v) for v in value) if t]
        return "|".join(items) if items else None
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _number(value: object, percent: bool = False) -> str | None:
    text = _text(value)
    if text is None or text.lower() in NOT_AVAILABLE:
        return None
    text = text.replace("$", "").replace(",", "").replace(" ", "")
    if percent:
        text = text.rstrip("%")
    if text.startswith("(") and text.endswith(")"):  # accounting negative
        text = "-" + text[1:-1]
    return text or None


def _is_placeholder(text: str | None) -> bool:
    if text is None:
        return False
    try:
        return Decimal(text) == PLACEHOLDER_AMOUNT
    except InvalidOperation:
        return bool(NINE_NINES.fullmatch(text))


def _pipe_list(value: object) -> str | None:
    """'a | b |' or ['a', '', 'b'] -> 'a|b'."""
    if isinstance(value, (list, tuple)):
        return _text(value)
    text = _text(value)
    if text is None:
        return None
    items = [p.strip() for p in text.split("|") if p.strip()]
    return "|".join(items) or None


def _bool_text(value: object) -> str | None:
    text = (_text(value) or "").lower()
    return "true" if text in TRUE_WORDS else "false" if text in FALSE_WORDS else None


def printable(text: object) -> str | None:
    """Text safe for Parquet: bytes that were not UTF-8 (surrogate escapes) shown as \\xNN."""
    if text is None:
        return None
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_surrogates(values: Iterable[object]) -> bool:
    for value in values:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _code_type(text: str | None) -> str | None:
    """'cpt', 'CPT4', 'CPT®', 'HCPCS Level II' -> CPT / HCPCS; anything else upper-cased as written."""
    if text is None:
        return None
    letters = re.sub(r"[^A-Z]", "", text.upper())
    if letters == "CPT":
        return "CPT"
    if letters.startswith("HCPCS"):
        return "HCPCS"
    return text.strip().upper()


def _plan_type(payer: str | None, plan: str | None, payer_group: str | None) -> str | None:
    text = " ".join(t for t in (payer, plan) if t)
    if not text:
        return None
    if MEDICARE_ADVANTAGE.search(text):
        return "medicare_advantage"
    if MEDICAID.search(text):
        return "medicaid_managed"
    traditional = payer_group == "medicare" or bool(TRADITIONAL_PAYER.match(payer or ""))
    if MEDICARE_FFS.search(text) or traditional:  # the reference table's `medicare` group is traditional Medicare
        return "medicare_ffs"
    if "medicare" in text.lower() and not MEDIGAP.search(text):
        return "medicare_advantage"  # a private insurer's Medicare plan ("Aetna Medicare") is Medicare Advantage
    if COMMERCIAL.search(text):
        return "commercial"
    return None


# --- turning items and payer entries into rows --------------------------------------------------
@dataclass
class _Rows:
    """Rows of hospital__standard_charge being assembled, flushed as Batches of `chunk_rows`."""

    path: Path
    ctx: ReadContext
    wanted: frozenset[str]
    chunk_rows: int
    normalized: list[dict[str, object]] = field(default_factory=list)
    raw: list[dict[str, object]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    rejects: list[dict[str, object]] = field(default_factory=list)
    seen_items: set[int] = field(default_factory=set)
    _groups: dict[str, str | None] = field(default_factory=dict)

    def select_codes(self, codes: Iterable[tuple[object, object]]) -> list[tuple[str, str | None]]:
        """The (code, type as written) pairs of an item that are codes of interest."""
        chosen: list[tuple[str, str | None]] = []
        for code, code_type in codes:
            value = (_text(code) or "").upper()
            kind = _text(code_type)
            if not value or any(value == c for c, _ in chosen):
                continue
            if (kind or "").upper() not in OUR_CODE_TYPES and (kind or "").upper() in CMS_CODE_TYPES:
                continue  # another code system (RC, CDM, NDC, ...): same digits, different meaning
            if (value in self.wanted) if self.wanted else bool(BILLING_CODE_RE.match(value)):
                chosen.append((value, kind))
        return chosen

    def mentions_code(self, values: Iterable[object]) -> bool:
        """Whether a record we cannot read holds a code of interest (keep-all mode: a value shaped
        like a CPT/HCPCS code)."""
        if not self.wanted:
            return any(BILLING_CODE_RE.match(str(v).strip().upper()) for v in values if v is not None)
        text = " ".join(str(v) for v in values if v is not None).upper()
        return any(code in text for code in self.wanted)

    def reject(
        self, where: str, check: str, reason: str, record: object, column: str | None = None, value: object = None
    ) -> None:
        raw = record if isinstance(record, str) else json.dumps(record, default=str, ensure_ascii=False)
        self.rejects.append(
            {
                "source_record": where,
                "column": column,
                "check": check,
                "failure_value": printable(value),
                "reason": reason,
                "raw_record": printable(raw),
            }
        )

    def add_item(
        self,
        item: dict[str, object],
        codes: list[tuple[object, object]],
        payers: list[tuple[str, dict[str, object]]],
        where: str,
        item_notes: bool,
    ) -> None:
        """Rows for one item (description, codes, setting, ...) and its payer entries, per code of interest.

        `item_notes`: whether the item's generic notes belong to the payer_independent row (wide,
        JSON, a tall record without a payer) or to the payer row (a tall record with one).
        """
        chosen = self.select_codes(codes)
        if not chosen:
            return
        written = [(str(_text(c) or ""), _text(t)) for c, t in codes if _text(c)]
        for code, code_type in chosen:
            others = "|".join(f"{t or ''}:{c}" for c, t in written if c.upper() != code) or None
            base = {
                "billing_code": code,
                "billing_code_type": code_type,
                "other_codes": others,
                "description": _text(item.get("description")),
                "setting": _text(item.get("setting")),
                "modifiers": _pipe_list(item.get("modifiers")),
                "drug_unit_of_measurement": _text(item.get("drug_unit")),
                "drug_type_of_measurement": _text(item.get("drug_type")),
            }
            independent = dict(
                base,
                charge_scope="payer_independent",
                gross_charge_usd=item.get("gross"),
                discounted_cash_usd=item.get("cash"),
                minimum_usd=item.get("minimum"),
                maximum_usd=item.get("maximum"),
                additional_notes=item.get("generic_notes") if item_notes else None,
            )
            digest = hash(tuple(sorted((k, str(v)) for k, v in independent.items())))
            if digest not in self.seen_items:  # a tall file repeats the item's charges on every payer row
                self.seen_items.add(digest)
                self._add(independent, where)
            for payer_where, payer in payers:
                notes = payer.get("notes")
                if not item_notes and notes is None:
                    notes = item.get("generic_notes")
                self._add(
                    dict(
                        base,
                        charge_scope="payer_specific",
                        payer_name=payer.get("payer_name"),
                        plan_name=payer.get("plan_name"),
                        negotiated_dollar_usd=payer.get("dollar"),
                        negotiated_percent=payer.get("percent"),
                        negotiated_algorithm=payer.get("algorithm"),
                        estimated_amount_usd=payer.get("estimated"),
                        median_amount_usd=payer.get("median"),
                        percentile_10th_usd=payer.get("p10"),
                        percentile_90th_usd=payer.get("p90"),
                        allowed_amount_count=payer.get("count"),
                        methodology=payer.get("methodology"),
                        additional_notes=notes,
                    ),
                    payer_where,
                )

    def _add(self, raw: dict[str, object], where: str) -> None:
        raw = {name: _text(raw.get(name)) for name in COLUMNS}
        self.raw.append(raw)
        self.normalized.append(self._normalize(raw))
        self.records.append(where)

    def _group(self, payer: str | None) -> str | None:
        if payer is None or self.ctx.payers is None:
            return None
        if payer not in self._groups:
            self._groups[payer] = self.ctx.payers.lookup(payer)
        return self._groups[payer]

    def _normalize(self, raw: dict[str, str | None]) -> dict[str, object]:
        row: dict[str, object] = dict(raw)
        row["billing_code_type"] = _code_type(raw["billing_code_type"])
        row["setting"] = raw["setting"].lower() if raw["setting"] else None
        for name in ("gross_charge_usd", "discounted_cash_usd", "minimum_usd", "maximum_usd", "negotiated_dollar_usd"):
            row[name] = _number(raw[name])
        row["negotiated_percent"] = _number(raw["negotiated_percent"], percent=True)
        if raw["methodology"]:
            row["methodology"] = "_".join(raw["methodology"].lower().replace("-", " ").split())
        if row["charge_scope"] == "payer_independent":
            missing = [
                label
                for label, name in (
                    ("gross_charge", "gross_charge_usd"),
                    ("discounted_cash", "discounted_cash_usd"),
                    ("minimum", "minimum_usd"),
                    ("maximum", "maximum_usd"),
                )
                if row[name] is None
            ]
            row["charges_missing"] = ", ".join(missing) or None
            row["negotiated_dollar_reason"] = row["allowed_amounts_reason"] = "not_payer_specific"
            return row
        row["plan_type"] = _plan_type(raw["payer_name"], raw["plan_name"], self._group(raw["payer_name"]))
        if row["negotiated_dollar_usd"] is not None:
            row["negotiated_type"] = "dollar"
        elif row["negotiated_percent"] is not None:
            row["negotiated_type"], row["negotiated_dollar_reason"] = "percentage", "expressed_as_percentage"
        elif raw["negotiated_algorithm"] is not None:
            row["negotiated_type"], row["negotiated_dollar_reason"] = "algorithm", "expressed_as_algorithm"
        else:
            row["negotiated_dollar_reason"] = "not_published"
        placeholder = False
        for name in ("estimated_amount_usd", "median_amount_usd", "percentile_10th_usd", "percentile_90th_usd"):
            value = _number(raw[name])
            if _is_placeholder(value):  # CMS told hospitals to write nine 9s when there is no amount
                value, placeholder = None, True
            row[name] = value
        if _is_placeholder(raw["allowed_amount_count"]):
            row["allowed_amount_count"], placeholder = None, True
        stats = [
            row[n]
            for n in (
                "estimated_amount_usd",
                "median_amount_usd",
                "percentile_10th_usd",
                "percentile_90th_usd",
                "allowed_amount_count",
            )
        ]
        if placeholder:
            row["allowed_amounts_reason"] = "placeholder_999999999"
        elif row["allowed_amount_count"] == "0":
            row["allowed_amounts_reason"] = "no_claims"
        elif all(v is None for v in stats):
            row["allowed_amounts_reason"] = "not_published"
        return row

    def full(self) -> bool:
        return len(self.records) + len(self.rejects) >= self.chunk_rows

    def flush(self) -> Batch | None:
        if not self.records and not self.rejects:
            return None
        frame = (
            pd.DataFrame(self.normalized, columns=COLUMNS, dtype=TEXT)
            if self.records
            else pd.DataFrame(columns=COLUMNS, dtype=TEXT)
        )
        raw = (
            pd.DataFrame(self.raw, columns=COLUMNS, dtype=TEXT)
            if self.records
            else pd.DataFrame(columns=COLUMNS, dtype=TEXT)
        )
        frame[RECORD_COLUMN] = pd.Series(self.records, dtype=TEXT, index=frame.index)
        rejects = pd.DataFrame(self.rejects, columns=REJECT_COLUMNS) if self.rejects else None
        self.normalized, self.raw, self.records, self.rejects = [], [], [], []
        return Batch(DATASET, frame, rejects, raw=raw)


def _file_batch(path: Path, facts: dict[str, object]) -> Batch:
    """The hospital__file row (one per file)."""
    row = {name: printable(_text(facts.get(name))) for name in FILE_COLUMNS}
    row["last_updated_on_as_written"] = row["last_updated_on"]
    row["last_updated_on"] = normalize_dates(pd.Series([row["last_updated_on"]], dtype=TEXT), DATE_FORMATS).iloc[0]
    if pd.notna(row["last_updated_on"]) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(row["last_updated_on"])):
        row["last_updated_on"] = None  # unreadable: NULL here, as written beside it, flagged by an advisory
    row["attestation_confirmed"] = _bool_text(facts.get("attestation_confirmed"))
    if not row["hospital_name"]:
        raise FileRejected(
            path,
            "hospital_name is blank",
            "the hospital's name in the hospital_name field",
            str(facts.get("_where") or ""),
        )
    frame = pd.DataFrame([row], columns=FILE_COLUMNS, dtype=TEXT)
    frame[RECORD_COLUMN] = pd.Series([str(facts.get("_where") or "file")], dtype=TEXT)
    # A row about the file, not of it: not counted in rows read / loaded; a blocking failure rejects the file.
    return Batch(FILE_DATASET, frame, describes_file=True)


# --- CSV ----------------------------------------------------------------------------------------
@dataclass
class _CsvLayout:
    """Where each field of the template sits in a CSV file's data header."""

    kind: str  # csv_tall | csv_wide
    width: int
    item: dict[str, int]
    codes: list[tuple[int, int | None]]
    payer: dict[str, int]  # tall
    groups: list[tuple[str, str, dict[str, int]]]  # wide: (payer, plan, field -> column)
    ignored: list[str]

    @property
    def code_columns(self) -> list[int]:
        return [c for c, _ in self.codes]

    def payer_fields(self) -> set[str]:
        used = set(self.payer)
        for _, _, fields in self.groups:
            used |= set(fields)
        return used


def _read_csv(path: Path, ctx: ReadContext, fast: bool | None) -> Iterator[Batch]:
    records = csv_prefilter.iter_records(path)
    meta_header = _next_nonblank(records)
    if meta_header is None:
        raise FileRejected(path, "no rows (only blank lines)", EXPECTED_LAYOUT)
    meta_keys = [_key(f) for f in meta_header.fields]
    if len(DATA_HEADER_KEYS.intersection(meta_keys)) >= 2:
        raise FileRejected(
            path,
            f"line {meta_header.line} is the data header: the hospital metadata rows "
            "(hospital_name, last_updated_on, version, ...) are missing",
            EXPECTED_LAYOUT,
            f"line {meta_header.line}",
        )
    if "hospital_name" not in meta_keys:
        raise FileRejected(
            path,
            f"line {meta_header.line} is not the hospital metadata header (no hospital_name column)",
            EXPECTED_LAYOUT,
            f"line {meta_header.line}",
        )
    meta_values = next(records, None)
    if meta_values is None or not any(f.strip() for f in meta_values.fields):
        where = meta_header.line + 1 if meta_values is None else meta_values.line
        raise FileRejected(
            path,
            f"line {where} holds no hospital metadata values (hospital_name, last_updated_on, version, ...)",
            EXPECTED_LAYOUT,
            f"line {where}",
        )
    header = _next_nonblank(records)
    if header is None:
        raise FileRejected(path, "no data header and no data rows after the hospital metadata", EXPECTED_LAYOUT)
    keys = [_key(f) for f in header.fields]
    if len(DATA_HEADER_KEYS.intersection(keys)) < 2:
        preview = printable(", ".join(f.strip() for f in header.fields[:4]))
        raise FileRejected(
            path,
            f"line {header.line} is not the data header (it starts {preview!r})",
            EXPECTED_LAYOUT,
            f"line {header.line}",
        )
    records.close()  # the preamble is read; the body is read below, by offset
    layout = _csv_layout(path, header)
    facts = _csv_facts(meta_header, meta_values, layout)
    yield _file_batch(path, facts)

    first_rows = csv_prefilter.iter_records(path, header.end, header.next_line)
    if _next_nonblank(first_rows) is None:
        raise FileRejected(
            path,
            "header only, no data rows",
            "at least one data row below the data header",
            f"header on line {header.line}",
        )
    first_rows.close()
    rows = _Rows(path, ctx, frozenset(ctx.codes_of_interest), ctx.settings.chunk_rows)
    body: Iterator[csv_prefilter.Record] | None = None
    if rows.wanted and fast is not False:
        found = csv_prefilter.scan(path, header.end, header.next_line, rows.wanted)
        if found is not None:
            log.info("%s: byte prefilter found %d candidate records in %d blocks", path.name, len(found), found.blocks)
            body = csv_prefilter.read_at(path, found)
        else:
            log.info(
                "%s: byte prefilter declined the file (stray quote, NUL, bare CR or unclosed quote?): "
                "parsing every record",
                path.name,
            )
    if body is None:
        body = csv_prefilter.iter_records(path, header.end, header.next_line)
    for record in body:
        if any(f.strip() for f in record.fields):
            _csv_record(record, layout, rows)
        if rows.full():
            batch = rows.flush()
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _next_nonblank(records: Iterator[csv_prefilter.Record]) -> csv_prefilter.Record | None:
    for record in records:
        if any(f.strip() for f in record.fields):
            return record
    return None


def _csv_layout(path: Path, header: csv_prefilter.Record) -> _CsvLayout:
    where = f"data header on line {header.line}"
    item: dict[str, int] = {}
    payer: dict[str, int] = {}
    code_at: dict[int, int] = {}
    type_at: dict[int, int] = {}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    ignored: list[str] = []
    seen: dict[str, int] = {}
    for index, text in enumerate(header.fields):
        key = _key(text)
        if not key.replace("|", ""):
            ignored.append(f"(blank column {index + 1})")
            continue
        if key in seen:
            raise FileRejected(
                path,
                f"column {printable(text.strip())!r} appears twice (columns {seen[key] + 1} and {index + 1})",
                "unique column names",
                where,
            )
        seen[key] = index
        parts = [p.strip() for p in text.replace("\ufeff", "").split("|")]
        first, last = _key(parts[0]), _key(parts[-1])
        if key in ITEM_COLUMNS:
            item[ITEM_COLUMNS[key]] = index
        elif match := re.fullmatch(r"code\|(\d+)", key):
            code_at[int(match.group(1))] = index
        elif match := re.fullmatch(r"code\|(\d+)\|type", key):
            type_at[int(match.group(1))] = index
        elif key in TALL_PAYER_COLUMNS:
            payer[TALL_PAYER_COLUMNS[key]] = index
        elif first == "standard_charge" and len(parts) == 4 and last in WIDE_CHARGE_SUFFIX and parts[1] and parts[2]:
            groups.setdefault((parts[1], parts[2]), {})[WIDE_CHARGE_SUFFIX[last]] = index
        elif first in WIDE_PREFIX and len(parts) == 3 and parts[1] and parts[2]:
            groups.setdefault((parts[1], parts[2]), {})[WIDE_PREFIX[first]] = index
        elif first in ("standard_charge", *WIDE_PREFIX):
            raise FileRejected(
                path,
                f"column {index + 1} {printable(text.strip())!r} is a charge column this template "
                "does not define (a typo?)",
                "standard_charge|<payer>|<plan>|negotiated_dollar / negotiated_percentage / "
                "negotiated_algorithm / methodology, or <estimated_amount | median_amount | 10th_percentile "
                "| 90th_percentile | count | additional_payer_notes>|<payer>|<plan>",
                where,
            )
        else:
            ignored.append(printable(text.strip()) or "")
    if payer and groups:
        raise FileRejected(
            path,
            "the header mixes the tall layout (payer_name column) and the wide layout (payer and plan in column names)",
            "one layout per file",
            where,
        )
    missing = [name for name in REQUIRED if name not in seen]
    if payer and "plan_name" not in payer:
        missing.append("plan_name")
    if "plan_name" in payer and "payer_name" not in payer:
        missing.append("payer_name")
    if missing:
        found = ""
        if "description" in missing:
            near = [f for f in header.fields if _key(f).startswith("desc")]
            found = f" (found {near[0]!r})" if near else ""
        raise FileRejected(
            path,
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}{found}",
            f"a data header with {', '.join(REQUIRED)}",
            where,
        )
    codes = [(code_at[i], type_at.get(i)) for i in sorted(code_at)]
    kind = "csv_tall" if payer else "csv_wide"
    return _CsvLayout(
        kind, len(header.fields), item, codes, payer, [(p, q, f) for (p, q), f in groups.items()], ignored
    )


def _csv_facts(
    meta_header: csv_prefilter.Record, meta_values: csv_prefilter.Record, layout: _CsvLayout
) -> dict[str, object]:
    values = meta_values.fields + [""] * max(0, len(meta_header.fields) - len(meta_values.fields))
    facts: dict[str, object] = {"_where": f"line {meta_values.line}", "file_layout": layout.kind}
    keys = []
    for index, text in enumerate(meta_header.fields):
        key = _key(text)
        keys.append(key)
        value = values[index] if index < len(values) else ""
        parts = key.split("|")
        if key in ("hospital_name", "last_updated_on", "version", "attester_name", "general_contract_provisions"):
            facts["template_version" if key == "version" else key] = _text(value)
        elif key in ("location_name", "hospital_location"):
            facts["location_name"] = _pipe_list(value)
        elif key == "hospital_address":
            facts["hospital_address"] = _pipe_list(value)
        elif key == "type_2_npi":
            facts["type_2_npi"] = _pipe_list(value)
        elif parts[0] == "license_number":
            facts["license_number"] = _text(value)
            state = text.split("|", 1)[1].strip().upper() if "|" in text else ""
            facts["license_state"] = state if re.fullmatch(r"[A-Z]{2}", state) else None
        elif key.startswith(ATTESTATION_PREFIX):
            facts["attestation_confirmed"] = value
    used = layout.payer_fields()
    v3 = bool({"location_name", "type_2_npi", "attester_name"} & set(keys)) or bool(V3_PAYER_FIELDS & used)
    v2 = "hospital_location" in keys or "estimated" in used
    facts["template_generation"] = _generation(v3, v2, facts.get("template_version"))
    facts["ignored_columns"] = "; ".join(layout.ignored) or None
    return facts


def _generation(v3: bool, v2: bool, declared: object) -> str:
    if v3:
        return "v3"
    if v2:
        return "v2"
    return "v2" if str(declared or "").strip().lstrip("vV").startswith("2") else "v3"


def _csv_record(record: csv_prefilter.Record, layout: _CsvLayout, rows: _Rows) -> None:
    fields = record.fields
    where = f"line {record.line}"
    if len(fields) > layout.width and any(f.strip() for f in fields[layout.width :]):
        # Misaligned (an unquoted comma?): its code columns cannot be trusted, so judge it by content.
        if rows.mentions_code(fields):
            rows.reject(
                where,
                "field_count",
                f"row has {len(fields)} fields but the header has {layout.width} (an unquoted comma?)",
                fields,
                value=f"{len(fields)} fields",
            )
        return
    codes = [
        (fields[c] if c < len(fields) else None, fields[t] if t is not None and t < len(fields) else None)
        for c, t in layout.codes
    ]
    if not rows.select_codes(codes):
        if len(fields) > layout.width and rows.mentions_code(fields):
            # Extra fields that are blank are usually trailing commas, but a code of interest outside
            # the code columns says the row shifted (an unquoted comma before them).
            rows.reject(
                where,
                "field_count",
                f"row has {len(fields)} fields but the header has {layout.width}, "
                "and its code columns hold no code while the row names one (an unquoted comma?)",
                fields,
                value=f"{len(fields)} fields",
            )
        return
    if _has_surrogates(fields):
        bad = next(f for f in fields if _has_surrogates([f]))
        rows.reject(
            where,
            "utf8_encoding",
            "the row holds bytes that are not UTF-8; re-encode the file as UTF-8 (iconv -f cp1252 -t utf-8)",
            fields,
            value=bad,
        )
        return
    fields = fields + [""] * (layout.width - len(fields))

    def pick(mapping: dict[str, int]) -> dict[str, object]:
        return {name: fields[index] for name, index in mapping.items()}

    item = pick(layout.item)
    if layout.kind == "csv_tall":
        payer = pick(layout.payer)
        has_payer = any(_text(v) for v in payer.values())
        rows.add_item(item, codes, [(where, payer)] if has_payer else [], where, item_notes=not has_payer)
    else:
        payers = []
        for payer_name, plan_name, mapping in layout.groups:
            entry = pick(mapping)
            if any(_text(v) for v in entry.values()):
                payers.append(
                    (f"{where}, {payer_name} | {plan_name}", dict(entry, payer_name=payer_name, plan_name=plan_name))
                )
        rows.add_item(item, codes, payers, where, item_notes=True)


# --- JSON ---------------------------------------------------------------------------------------
def _read_json(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    import ijson

    limits = Limits.of(ctx.settings)
    meta, finished = _json_metadata(path, limits, stop_at_charges=True)
    rows = _Rows(path, ctx, frozenset(ctx.codes_of_interest), ctx.settings.chunk_rows)
    count = 0
    with _guarded_json(path, limits) as raw:
        try:
            for index, item in enumerate(json_guard.items(raw, "standard_charge_information.item")):
                count = index + 1
                _json_item(item, index, rows)
                if rows.full():
                    batch = rows.flush()
                    if batch is not None:
                        yield batch
        except ijson.JSONError as exc:
            where = f"after $.standard_charge_information[{count - 1}]" if count else "in $.standard_charge_information"
            raise _json_error(path, exc, where) from None
    identity = [
        ("hospital_name",),
        ("last_updated_on",),
        ("version",),
        ("location_name", "hospital_location"),
        ("attestation", "affirmation"),
    ]
    if not finished and not all(any(k in meta for k in group) for group in identity):
        meta.update({k: v for k, v in _json_metadata(path, limits, stop_at_charges=False)[0].items() if k not in meta})
    if not meta.get("_charges_seen") and count == 0:
        if "hospital_name" not in meta:
            raise FileRejected(path, "no hospital_name and no standard_charge_information", EXPECTED_JSON, "$")
        raise FileRejected(path, "no standard_charge_information array", EXPECTED_JSON, "$")
    yield _file_batch(path, _json_facts(meta))
    batch = rows.flush()
    if batch is not None:
        yield batch


def _guarded_json(path: Path, limits: Limits) -> json_guard.GuardedJson:
    """The file's bytes after any BOM, held to the depth, item and size limits (json_guard)."""
    handle = path.open("rb")
    bom = handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if not bom:
        handle.seek(0)
    return json_guard.GuardedJson(handle, path, limits, GOOD_JSON, offset=len(codecs.BOM_UTF8) if bom else 0)


def _json_metadata(path: Path, limits: Limits, stop_at_charges: bool) -> tuple[dict[str, object], bool]:
    """Top-level values other than the big arrays. Stops at standard_charge_information when asked
    (metadata usually comes first); returns (values, whether the whole document was read).
    Walks `basic_parse` events (no paths, so deep nesting costs nothing before it is refused)."""
    import ijson

    meta: dict[str, object] = {}
    key: str | None = None
    with _guarded_json(path, limits) as raw:
        events = ijson.basic_parse(raw, use_float=False, buf_size=json_guard.PARSE_BUFFER)
        try:
            first = next(events, None)
            if first is None or first[0] != "start_map":
                raise FileRejected(path, "the JSON is not an object", EXPECTED_JSON, "$")
            for event, value in events:
                if event == "end_map":
                    return meta, True
                key = value  # type: ignore[assignment]  # a map_key
                if key == "standard_charge_information":
                    meta["_charges_seen"] = True
                    if stop_at_charges:
                        return meta, False
                raw.value_started()
                event, value = next(events)
                if key in JSON_ARRAYS:
                    if event in ("start_map", "start_array"):
                        json_guard.skip_container(events, raw.item_done)  # each element bounded like an item
                else:
                    meta[key] = json_guard.build_value(events, event, value)  # type: ignore[index]
        except ijson.JSONError as exc:
            raise _json_error(path, exc, f"at $.{key}" if key else "$") from None
        except json_guard.NestedTooDeep:
            raise json_guard.too_deep(path, GOOD_JSON, f"in $.{key}" if key else "$") from None
    return meta, True


def _json_error(path: Path, exc: Exception, where: str) -> FileRejected:
    """Invalid or truncated JSON. For files small enough to re-read, the exact line and column."""
    problem = str(exc).strip().splitlines()[0]
    if path.stat().st_size <= 64 * 1024 * 1024:
        try:
            json.loads(path.read_bytes().decode("utf-8-sig"))
        except json.JSONDecodeError as precise:
            where = f"line {precise.lineno} column {precise.colno}"
            problem = precise.msg.lower()
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
    return FileRejected(path, f"invalid or truncated JSON ({problem})", "a complete JSON document", where)


def _json_facts(meta: dict[str, object]) -> dict[str, object]:
    license_info = meta.get("license_information") if isinstance(meta.get("license_information"), dict) else {}
    attest = meta.get("attestation") if isinstance(meta.get("attestation"), dict) else meta.get("affirmation")
    attest = attest if isinstance(attest, dict) else {}
    keys = set(meta)
    v3 = bool({"location_name", "type_2_npi", "attestation"} & keys)
    v2 = bool({"hospital_location", "affirmation"} & keys)
    state = (_text(license_info.get("state")) or "").upper()  # type: ignore[union-attr]
    return {
        "_where": "$",
        "hospital_name": meta.get("hospital_name"),
        "last_updated_on": meta.get("last_updated_on"),
        "template_version": meta.get("version"),
        "location_name": meta.get("location_name", meta.get("hospital_location")),
        "hospital_address": meta.get("hospital_address"),
        "license_number": license_info.get("license_number"),  # type: ignore[union-attr]
        "license_state": state if re.fullmatch(r"[A-Z]{2}", state) else None,
        "type_2_npi": meta.get("type_2_npi"),
        "attestation_confirmed": attest.get("confirm_attestation", attest.get("confirm_affirmation")),
        "attester_name": attest.get("attester_name"),
        "general_contract_provisions": meta.get("general_contract_provisions"),
        "template_generation": _generation(v3, v2, meta.get("version")),
        "file_layout": "json",
        "ignored_columns": None,
    }


def _leaves(value: object) -> Iterator[object]:
    """Every scalar inside a JSON value (to tell whether an unreadable item names a code)."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def _json_item(item: object, index: int, rows: _Rows) -> None:
    where = f"$.standard_charge_information[{index}]"
    codes_info = item.get("code_information") if isinstance(item, dict) else None
    if not isinstance(codes_info, list) or not all(isinstance(c, dict) for c in codes_info):
        if rows.mentions_code(v for v in _leaves(item) if isinstance(v, str)):  # codes are strings; amounts are not
            rows.reject(
                where,
                "item_structure",
                "item without a code_information list of {code, type} objects: its codes cannot be read",
                item,
            )
        return
    assert isinstance(item, dict)
    codes = [(c.get("code"), c.get("type")) for c in codes_info]
    if not rows.select_codes(codes):
        return
    charges = item.get("standard_charges")
    if not isinstance(charges, list) or not all(isinstance(c, dict) for c in charges):
        rows.reject(where, "item_structure", "item without a standard_charges list of objects", item)
        return
    drug = item.get("drug_information") if isinstance(item.get("drug_information"), dict) else {}
    for position, charge in enumerate(charges):
        charge_where = f"{where}.standard_charges[{position}]"
        fields = {
            "description": item.get("description"),
            "setting": charge.get("setting"),
            "modifiers": charge.get("modifier_code"),
            "drug_unit": drug.get("unit"),
            "drug_type": drug.get("type"),  # type: ignore[union-attr]
            "gross": charge.get("gross_charge"),
            "cash": charge.get("discounted_cash"),
            "minimum": charge.get("minimum"),
            "maximum": charge.get("maximum"),
            "generic_notes": charge.get("additional_generic_notes"),
        }
        payers = []
        entries = charge.get("payers_information") or []
        for number, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            payer_where = f"{charge_where}.payers_information[{number}]"
            if not isinstance(entry, dict):
                rows.reject(payer_where, "item_structure", "a payers_information entry that is not an object", entry)
                continue
            payers.append(
                (
                    payer_where,
                    {
                        "payer_name": entry.get("payer_name"),
                        "plan_name": entry.get("plan_name"),
                        "dollar": entry.get("standard_charge_dollar"),
                        "percent": entry.get("standard_charge_percentage"),
                        "algorithm": entry.get("standard_charge_algorithm"),
                        "estimated": entry.get("estimated_amount"),
                        "median": entry.get("median_amount"),
                        "p10": entry.get("10th_percentile"),
                        "p90": entry.get("90th_percentile"),
                        "count": entry.get("count"),
                        "methodology": entry.get("methodology"),
                        "notes": entry.get("additional_payer_notes"),
                    },
                )
            )
        rows.add_item(fields, codes, payers, charge_where, item_notes=True)
