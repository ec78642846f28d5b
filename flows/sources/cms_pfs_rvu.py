"""CMS Physician Fee Schedule national relative value file: PPRRVU<YYYY>_<Mon>.csv and .txt.

Publisher: CMS, in the quarterly PFS relative value zip (RVU25A January ... RVU25D October;
https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files).
Cadence: quarterly, plus corrections. Format versions read here (both editions of CY 2025):
  - CSV: 9 preamble rows (title "2025 National Physician Fee Schedule Relative Value File
    October Release", AMA/ADA copyright, "RELEASED 09/11/2025"), then a 31-column header split
    over 5 records ("WORK" above "RVU", "NON-FAC" / "PE RVU"), then one row per code and modifier.
  - Fixed-width .txt: 7 "HDR" copyright lines, then 171-character records. CMS prints no
    release inside this edition, so its release comes from CMS's file name (PPRRVU2025_Oct.txt)
    or bundle folder (RVU25D/); a file named otherwise is rejected with how to rename it.
    The field positions were derived from CMS's 2025 records (right edges of each value) and
    are guarded: a record of another length rejects the file, a value that is not a number in
    its slot quarantines the row, and RVU totals must equal work + PE + MP in every row (they do
    in all 19,090 rows of CMS's October 2025 CSV), so a shifted layout cannot load silently.
Every row of the national file is loaded (about 19,000; 2.5 MB), not only the codes of interest:
adding a code to raw/reference/billing_codes.csv then needs no reload, and every row is validated.
Quirks handled: the split header; blank modifier = the global service; "NA" indicators (no PE RVU
for that setting); "+" in NOT USED FOR MEDICARE PAYMENT; ".10" style pre/intra/post-op shares.
Payment tracks: from CY 2026 each release (RVU26A ...) holds two national files, one per
conversion factor: PPRRVU2026_Jan_nonQPP (everyone who is not a qualifying APM participant:
Medicare's standard amounts) and PPRRVU2026_Jan_QPP (qualifying APM participants, a higher
conversion factor). Every row carries `payment_track` `non_qpp` or `qpp`, read from CMS's file name
(`_nonQPP`, `_non-QPP`, `_QPP`, any case) and from the CSV title rows or the .txt HDR lines when
they mention (non-)QPP; a name and a title that disagree reject the file naming both. A release
of one file (CY 2025 and earlier) is `single`; a CY 2026+ file whose track neither name nor title
tells is rejected saying how to name it, since its amounts may be the QPP ones. Both tracks of a
release load side by side (stg_pfs_rvu keeps the latest load per release and track, and medicare_rate
uses non_qpp when loaded, else single, else qpp); loading a QPP file adds an advisory saying so.
Not read: the .xlsx edition (rejected: load the CSV or TXT from the same zip).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.engines.readers import REJECT_COLUMNS, TEXT, detect_format, head_records, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import (
    Number,
    Release,
    agree,
    check_numbers,
    merge_rejects,
    month_year_in,
    release_from_name,
)
from schemas.cms_pfs_rvu import DATASET
from schemas.fields import blank_to_null

HEADER_ROWS = 5
PREAMBLE_LIMIT = 40
NAME_PATTERN = r"pprrvu[_-]?(?P<year>\d{4}|\d{2})(?:[_-]?(?P<month>[a-z]{3,9}))?"
HOW_TO_NAME = "CMS's file name, e.g. PPRRVU2025_Oct.txt, or the file kept in its RVU25D folder"
# A payment track anywhere in a file name or title row: QPP or "qualifying APM participant(s)", with
# "non" before it (nonQPP, non-QPP, Non_QPP, non-qualifying) for the other conversion factor. Read apart
# from NAME_PATTERN (unchanged): in PPRRVU2026_QPP.txt its month group meets "QPP", no month word, so
# the month comes from the RVU26A folder as before.
TRACK_WORD = re.compile(r"(?i)(?<![a-z])(?P<non>non[\s_-]?)?(?:qpp|qualifying\s+apm\s+participants?)(?![a-z])")
TRACK_LABEL = {"qpp": "QPP (qualifying APM participants)", "non_qpp": "non-QPP"}
FIRST_TWO_TRACK_YEAR = 2026  # CY 2026: the first year with two conversion factors (QPP and non-QPP)

# CSV header (the five header records joined per column, normalized) -> dataset column
CSV_COLUMNS = {
    "hcpcs": "billing_code",
    "mod": "modifier",
    "description": "description",
    "status_code": "status_code",
    "not_used_for_medicare_payment": "not_used_for_medicare_payment",
    "work_rvu": "work_rvu",
    "non_fac_pe_rvu": "nonfacility_pe_rvu",
    "non_fac_na_indicator": "nonfacility_na_indicator",
    "facility_pe_rvu": "facility_pe_rvu",
    "facility_na_indicator": "facility_na_indicator",
    "mp_rvu": "mp_rvu",
    "non_facility_total": "nonfacility_total_rvu",
    "facility_total": "facility_total_rvu",
    "pctc_ind": "pctc_indicator",
    "glob_days": "global_days",
    "pre_op": "preop_share",
    "intra_op": "intraop_share",
    "post_op": "postop_share",
    "mult_proc": "mult_proc_indicator",
    "bilat_surg": "bilat_surg_indicator",
    "asst_surg": "asst_surg_indicator",
    "co_surg": "co_surg_indicator",
    "team_surg": "team_surg_indicator",
    "endo_base": "endo_base_code",
    "conv_factor": "conversion_factor_usd",
    "physician_supervision_of_diagnostic_procedures": "physician_supervision_code",
    "calculation_flag": "calculation_flag",
    "diagnostic_imaging_family_indicator": "diagnostic_imaging_family",
    "non_facility_pe_used_for_opps_payment_amount": "opps_nonfacility_pe_rvu",
    "facility_pe_used_for_opps_payment_amount": "opps_facility_pe_rvu",
    "mp_used_for_opps_payment_amount": "opps_mp_rvu",
}

# Fixed-width record: dataset column -> (start, end), 0-based, end exclusive; 171 characters.
RECORD_LENGTH = 171
FIXED_WIDTH = {
    "billing_code": (0, 5),
    "modifier": (5, 7),
    "description": (7, 57),
    "status_code": (57, 58),
    "not_used_for_medicare_payment": (58, 59),
    "work_rvu": (59, 65),
    "nonfacility_pe_rvu": (65, 72),
    "nonfacility_na_indicator": (72, 74),
    "facility_pe_rvu": (74, 81),
    "facility_na_indicator": (81, 83),
    "mp_rvu": (83, 89),
    "nonfacility_total_rvu": (89, 96),
    "facility_total_rvu": (96, 102),
    "pctc_indicator": (102, 103),
    "global_days": (103, 106),
    "preop_share": (106, 109),
    "intraop_share": (109, 112),
    "postop_share": (112, 115),
    "mult_proc_indicator": (115, 116),
    "bilat_surg_indicator": (116, 117),
    "asst_surg_indicator": (117, 118),
    "co_surg_indicator": (118, 119),
    "team_surg_indicator": (119, 120),
    "endo_base_code": (120, 125),
    "conversion_factor_usd": (125, 140),
    "physician_supervision_code": (140, 143),
    "calculation_flag": (143, 144),
    "diagnostic_imaging_family": (144, 147),
    "opps_nonfacility_pe_rvu": (147, 157),
    "opps_facility_pe_rvu": (157, 164),
    "opps_mp_rvu": (164, 171),
}
RECORD_START = re.compile(r"^(?:\d{4}[0-9A-Z]|[A-Z]\d{4})")

RVU_COLUMNS = [
    "work_rvu",
    "nonfacility_pe_rvu",
    "facility_pe_rvu",
    "mp_rvu",
    "nonfacility_total_rvu",
    "facility_total_rvu",
    "opps_nonfacility_pe_rvu",
    "opps_facility_pe_rvu",
    "opps_mp_rvu",
]
NUMBERS = {name: Number(places=2) for name in RVU_COLUMNS + ["preop_share", "intraop_share", "postop_share"]}
NUMBERS["conversion_factor_usd"] = Number(places=4)


def detect(path: Path) -> bool:
    """True for a PPRRVU CSV (its split header) or fixed-width file (HDR lines, then records)."""
    try:
        head = sniff(path)
        if head.startswith(b"HDR "):
            lines = head.decode("cp1252", errors="replace").splitlines()
            data = [line for line in lines[:20] if not line.startswith("HDR")]
            return bool(data) and bool(RECORD_START.match(data[0])) and len(data[0]) >= RECORD_LENGTH - 1
        if detect_format(path, head) != "csv":
            return False
        return _csv_layout(path) is not None
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse a PPRRVU file (CSV or fixed-width) into `cms__pfs_rvu` batches."""
    head = sniff(path)
    if head.startswith(b"HDR "):
        release = agree(path, None, release_from_name(path, NAME_PATTERN), HOW_TO_NAME)
        if release.month is None:
            raise FileRejected(
                path, f"the name gives the year ({release.year}) but not which quarterly release", HOW_TO_NAME
            )
        track = _payment_track(path, _title_track(_hdr_lines(path), "HDR lines"), _name_track(path), release)
        yield from _announce(_read_fixed_width(path, release, track.track, ctx.settings.chunk_rows), release, track)
        return
    fmt = detect_format(path, head)
    if fmt != "csv":
        raise FileRejected(
            path,
            f"{fmt} content is not read for the PFS relative value file",
            "the .csv or .txt edition from the same CMS zip",
        )
    layout = _csv_layout(path)
    if layout is None:
        raise FileRejected(
            path,
            f"no header row starting with 'HCPCS' in the first {PREAMBLE_LIMIT} records",
            "CMS's PPRRVU CSV: title rows, then a header split over 5 rows ending in 'HCPCS,MOD,...'",
        )
    skip_lines, content, title_track = layout
    release = agree(path, content, release_from_name(path, NAME_PATTERN), HOW_TO_NAME)
    track = _payment_track(path, title_track, _name_track(path), release)
    chunks = read_csv_chunks(
        path,
        required=list(CSV_COLUMNS),
        chunk_rows=ctx.settings.chunk_rows,
        skip_lines=skip_lines,
        header_rows=HEADER_ROWS,
    )
    batches = (
        _batch(
            chunk.frame.rename(columns=CSV_COLUMNS)[[*CSV_COLUMNS.values(), RECORD_COLUMN]],
            chunk.rejects,
            release,
            track.track,
            "csv",
        )
        for chunk in chunks
    )
    yield from _announce(batches, release, track)


def _csv_layout(path: Path) -> tuple[int, Release | None, TrackSeen | None] | None:
    """(lines above the 5 header records, release and payment track from the title rows) or None when
    no header is found."""
    records = head_records(path, limit=PREAMBLE_LIMIT)
    for index, (_, fields) in enumerate(records):
        if fields and fields[0].strip().upper() == "HCPCS":
            if index < HEADER_ROWS - 1:
                return None
            preamble = [
                (line, " ".join(c.strip() for c in f if c.strip())) for line, f in records[: index - HEADER_ROWS + 1]
            ]
            return (
                records[index - HEADER_ROWS + 1][0] - 1,
                _title_release([text for _, text in preamble]),
                _title_track(preamble, "title rows"),
            )
    return None


def _title_release(preamble: list[str]) -> Release | None:
    """Release from the title row ('2025 National Physician Fee Schedule Relative Value File October
    Release') and the publication date from 'RELEASED 09/11/2025'."""
    title = next((t for t in preamble if "relative value file" in t.lower()), None)
    found = month_year_in(title) if title else None
    if found is None:
        return None
    published = None
    for text in preamble:
        stamp = re.search(r"(?i)released\s+(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if stamp:
            published = pd.Timestamp(int(stamp.group(3)), int(stamp.group(1)), int(stamp.group(2))).date()
    return Release(found[0], found[1], published, basis="title row")


# --- payment track (QPP / non-QPP, CY 2026 on) -----------------------------------------------------
@dataclass(frozen=True)
class TrackSeen:
    """A payment track and where the file says it."""

    track: str  # PAYMENT_TRACKS
    where: str = ""  # for messages: "name 'PPRRVU2026_Jan_QPP.csv'", "title rows (line 1)"
    record: str | None = None  # source_record of the advisory a QPP file gets: "file name", "line 1"


def _track_in(text: str) -> str | None:
    """'qpp' or 'non_qpp' when the text names exactly one of them, else None."""
    found = {"non_qpp" if m.group("non") else "qpp" for m in TRACK_WORD.finditer(text)}
    return found.pop() if len(found) == 1 else None


def _name_track(path: Path) -> TrackSeen | None:
    track = _track_in(path.name)
    return TrackSeen(track, f"name {path.name!r}", "file name") if track else None


def _title_track(lines: list[tuple[int, str]], kind: str) -> TrackSeen | None:
    """The track the preamble names ('... Relative Value File ... non-QPP'); None when it names none
    or both."""
    found = [(line, track) for line, text in lines if (track := _track_in(text))]
    if not found or len({track for _, track in found}) > 1:
        return None
    return TrackSeen(found[0][1], f"{kind} (line {found[0][0]})", f"line {found[0][0]}")


def _hdr_lines(path: Path) -> list[tuple[int, str]]:
    """The fixed-width edition's HDR lines at the top, with their line numbers."""
    lines = []
    with path.open("r", encoding="cp1252", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.startswith("HDR") or number > PREAMBLE_LIMIT:
                break
            lines.append((number, line.rstrip("\r\n")))
    return lines


def _payment_track(path: Path, title: TrackSeen | None, name: TrackSeen | None, release: Release) -> TrackSeen:
    """The file's track from its title and its name; a conflict, or a CY 2026+ file telling none, rejects it."""
    example = f"PPRRVU{release.year}_{calendar.month_abbr[release.month or 1]}"
    if title is not None and name is not None and title.track != name.track:
        raise FileRejected(
            path,
            f"its {title.where} say the {TRACK_LABEL[title.track]} file but its {name.where} "
            f"says {TRACK_LABEL[name.track]}",
            f"a file whose name matches its title (rename it {example}_QPP or {example}_nonQPP)",
        )
    if title is not None:
        return title
    if name is not None:
        return name
    if release.year >= FIRST_TWO_TRACK_YEAR:
        raise FileRejected(
            path,
            f"from CY {FIRST_TWO_TRACK_YEAR} CMS publishes two files per release (QPP and "
            f"non-QPP conversion factors) and neither this file's name nor its title says which this is",
            f"CMS's file name: {example}_nonQPP for the non-QPP file (Medicare's standard amounts) or "
            f"{example}_QPP for qualifying APM participants",
        )
    return TrackSeen("single")


def _announce(batches: Iterator[Batch], release: Release, track: TrackSeen) -> Iterator[Batch]:
    """The batches; a QPP file's first one carries one advisory saying which amounts medicare_rate uses."""
    for number, batch in enumerate(batches):
        if number == 0 and track.track == "qpp":
            example = f"PPRRVU{release.year}_{calendar.month_abbr[release.month or 1]}_nonQPP"
            batch.advisories = pd.DataFrame(
                [
                    {
                        "source_record": track.record,
                        "column": "payment_track",
                        "check": "qpp_track_file",
                        "failure_value": "qpp",
                        "reason": f"the QPP file of release {release.label} (the conversion factor for qualifying APM "
                        f"participants): medicare_rate uses the non-QPP file of {release.label} when it is loaded, "
                        f"and these amounts (payment_track 'qpp') only while it is not; load {example} from the "
                        "same CMS zip for Medicare's standard amounts",
                        "raw_record": None,
                    }
                ],
                columns=REJECT_COLUMNS,
            )
        yield batch


def _read_fixed_width(path: Path, release: Release, track: str, chunk_rows: int) -> Iterator[Batch]:
    rows: list[list[str]] = []
    records: list[str] = []
    data_lines = 0
    # Single-byte decoding keeps character positions equal to CMS's byte positions.
    with path.open("r", encoding="cp1252", errors="strict", newline="") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                body = line.rstrip("\r\n")
                if body.startswith("HDR") or not body.strip():
                    continue
                if "\x00" in body:
                    raise FileRejected(
                        path, "binary content (NUL byte), not a text file", "CMS's fixed-width text", f"line {number}"
                    )
                if len(body) != RECORD_LENGTH:
                    raise FileRejected(
                        path,
                        f"record is {len(body)} characters long, not {RECORD_LENGTH}",
                        f"every record {RECORD_LENGTH} characters, CMS's CY 2025 PPRRVU fixed-width layout "
                        "(a truncated or edited file, or another layout year: load the CSV edition instead)",
                        f"line {number}",
                    )
                rows.append([body[start:end] for start, end in FIXED_WIDTH.values()])
                records.append(f"line {number}")
                data_lines += 1
                if len(rows) >= chunk_rows:
                    yield _fixed_width_batch(rows, records, release, track)
                    rows, records = [], []
        except UnicodeDecodeError as exc:
            raise FileRejected(
                path, f"byte 0x{exc.object[exc.start : exc.start + 1].hex()} is not text", "CMS's fixed-width text"
            ) from None
    if data_lines == 0:
        raise FileRejected(path, "no records below the HDR lines", "PPRRVU fixed-width records")
    if rows:
        yield _fixed_width_batch(rows, records, release, track)


def _fixed_width_batch(rows: list[list[str]], records: list[str], release: Release, track: str) -> Batch:
    raw = pd.DataFrame(rows, columns=list(FIXED_WIDTH), dtype=TEXT)
    raw[RECORD_COLUMN] = pd.Series(records, dtype=TEXT)
    return _batch(raw, None, release, track, "fixed_width")


def _batch(raw: pd.DataFrame, rejects: pd.DataFrame | None, release: Release, track: str, layout: str) -> Batch:
    frame = blank_to_null(raw)
    frame["billing_code"] = frame["billing_code"].str.upper()
    frame["status_code"] = frame["status_code"].str.upper()
    frame["not_used_for_medicare_payment"] = _flag(frame["not_used_for_medicare_payment"], "+")
    for name in ("nonfacility_na_indicator", "facility_na_indicator"):
        frame[name] = _flag(frame[name], "NA")
    frame, raw, bad_numbers = check_numbers(frame, raw, NUMBERS)
    for name, value in release.columns().items():
        frame[name] = value
    frame["published_date"] = release.published.isoformat() if release.published else None
    frame["payment_track"] = track
    frame["source_layout"] = layout
    return Batch(DATASET, frame, merge_rejects(rejects, bad_numbers), raw=raw)


def _flag(values: pd.Series, marker: str) -> pd.Series:
    """'NA' / '+' -> 'true', blank -> 'false', anything else kept (and refused by the schema)."""
    text = values.astype(TEXT).str.strip()
    return text.mask(text == marker, "true").mask(text.isna(), "false")
