"""What the CMS adapters share: release periods, CMS's number formats, preamble and note rows.

CMS publishes the Medicare payment files quarterly (January, April, July, October releases) or
yearly (GPCIs, localities). Every loaded row carries its release as columns (`release_year`,
`release_quarter`, `effective_date`), read from the file's own text (titles, header prefixes
such as "January 2026 Payment Rate", a sheet name) or, where CMS writes it nowhere inside, from
the name CMS gives the file or its bundle folder (`PPRRVU2025_Oct.txt`, `RVU25D/OPPSCAP_Oct.csv`).
When neither says, the file is rejected with what to rename: a release is never guessed. When
content and name disagree, the file is rejected too (a mislabelled file is not trusted).

Numbers are checked here, before the schema, because CMS writes them in several ways
("$1,475.61 ", "64.49%", ".10", "0.00") and because a permissive decimal parser would accept
"NaN", "1e3" or silently round "1.234": a value not in the expected format sends its row to
quarantine (check `number_format`) with the value as written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.engines.readers import REJECT_COLUMNS, TEXT
from flows.sources.base import RECORD_COLUMN, FileRejected

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
MONTH_WORD = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
RELEASE_LETTER_MONTH = {"A": 1, "B": 4, "C": 7, "D": 10}
"""PFS bundle letters: RVU25A is the January 2025 release, B April, C July, D October."""


@dataclass(frozen=True)
class Release:
    """The CMS release a file belongs to: a quarter (from its month) or a whole year."""

    year: int
    month: int | None = None  # None: an annual file (GPCIs, localities)
    published: dt.date | None = None
    basis: str = ""  # where it was read: "title", "file name", ...

    @property
    def quarter(self) -> int | None:
        return None if self.month is None else (self.month - 1) // 3 + 1

    @property
    def effective_date(self) -> str:
        """ISO date the release takes effect: the first day of its month (January for a year)."""
        return dt.date(self.year, self.month or 1, 1).isoformat()

    @property
    def label(self) -> str:
        return str(self.year) if self.quarter is None else f"{self.year}-Q{self.quarter}"

    def same_period(self, other: Release) -> bool:
        return self.year == other.year and (self.month is None or other.month is None or self.quarter == other.quarter)

    def columns(self) -> dict[str, object]:
        """The release columns every row of the file carries."""
        out: dict[str, object] = {"release_year": self.year}
        if self.month is not None:
            out["release_quarter"] = self.quarter
        out["effective_date"] = self.effective_date
        return out


def month_number(word: str) -> int | None:
    """'October' / 'oct' / 'OCT' -> 10."""
    return MONTHS.get(word.strip().lower())


def month_year_in(text: str) -> tuple[int, int] | None:
    """(year, month) from text such as 'January 2026', '2025 ... October Release', '2023_January_Web'."""
    text = text.replace("_", " ")  # file names separate words with underscores
    found = re.search(rf"(?i)\b({MONTH_WORD})\b[\s,_-]*((?:19|20)\d\d)\b", text)
    if found:
        return int(found.group(2)), MONTHS[found.group(1).lower()]
    found = re.search(rf"(?i)\b((?:19|20)\d\d)\b.*?\b({MONTH_WORD})\b", text)
    if found:
        return int(found.group(1)), MONTHS[found.group(2).lower()]
    return None


def _year(text: str) -> int:
    return int(text) + (2000 if len(text) == 2 else 0)


def release_from_name(path: Path, pattern: str) -> Release | None:
    """A release from the file's name (regex with groups `year` and optional `month`), completed
    by its CMS bundle folder: `RVU25D` (PFS: year 2025, D = October) or `20260101` (ASC quarter).

    A name and a folder that disagree reject the file.
    """
    year = month = None
    basis = []
    found = re.search(pattern, path.name, flags=re.IGNORECASE)
    if found:
        groups = found.groupdict()
        year = _year(groups["year"]) if groups.get("year") else None
        month = month_number(groups["month"]) if groups.get("month") else None
        basis.append(f"file name {path.name!r}")
    folder_year = folder_month = None
    bundle = re.search(r"(?i)^rvu(\d{2})([a-d])", path.parent.name)
    dated = re.fullmatch(r"((?:19|20)\d\d)(\d\d)01", path.parent.name)
    if bundle:
        folder_year, folder_month = _year(bundle.group(1)), RELEASE_LETTER_MONTH[bundle.group(2).upper()]
    elif dated and 1 <= int(dated.group(2)) <= 12:
        folder_year, folder_month = int(dated.group(1)), int(dated.group(2))
    if folder_year is not None:
        if (year is not None and year != folder_year) or (month is not None and month != folder_month):
            raise FileRejected(
                path,
                f"the file name says {year}{'' if month is None else f'-{month:02d}'} but its "
                f"folder {path.parent.name!r} says {folder_year}-{folder_month:02d}",
                "a file kept in the CMS release folder it came from, or renamed to match",
            )
        year, month = folder_year, folder_month
        basis.append(f"folder {path.parent.name!r}")
    if year is None:
        return None
    return Release(year, month, basis=" and ".join(basis))


def agree(path: Path, content: Release | None, name: Release | None, how_to_name: str) -> Release:
    """The release from the file's content, else from its name; rejects a conflict or neither."""
    if content is not None and name is not None and not content.same_period(name):
        raise FileRejected(
            path,
            f"the file says release {content.label} ({content.basis}) but its name says {name.label} ({name.basis})",
            "a file whose name matches its content (rename it)",
        )
    if content is not None:
        return (
            content
            if content.month is not None or name is None
            else Release(content.year, name.month, content.published, f"{content.basis} + {name.basis}")
        )
    if name is not None:
        return name
    raise FileRejected(path, "cannot tell which CMS release this file is (its content does not say)", how_to_name)


# --- numbers --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    """How CMS writes one numeric column: 'decimal' (0.00, .10), 'money' ($1,475.61) or 'percent' (64.49%)."""

    kind: str = "decimal"
    places: int = 2  # at most this many decimals (more would be silently rounded by the schema type)
    signed: bool = True  # a minus sign is read (the schema decides whether negatives are allowed)

    def pattern(self) -> re.Pattern[str]:
        sign = "-?" if self.signed else ""
        digits = r"(?:\d{1,3}(?:,\d{3})+|\d+)" if self.kind == "money" else r"\d+"
        frac = rf"(?:\.\d{{1,{self.places}}})?" if self.places else ""
        body = rf"(?:{digits}{frac}|\.\d{{1,{self.places}}})" if self.places else digits
        if self.kind == "money":
            return re.compile(rf"^{sign}\$?{body}$|^\$?{sign}{body}$")
        if self.kind == "percent":
            return re.compile(rf"^{sign}{body}%$")
        return re.compile(rf"^{sign}{body}$")

    def describe(self) -> str:
        example = {"money": "$1,475.61", "percent": "64.49%"}.get(self.kind, "12.34")
        return f"a number like {example} with at most {self.places} decimals"


def check_numbers(
    frame: pd.DataFrame, raw: pd.DataFrame, formats: dict[str, Number]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Plain decimal text for each numeric column ('$1,475.61 ' -> '1475.61', '64.49%' -> '64.49').

    Returns (frame, raw, rejects): rows holding a value not in its column's format leave both
    frames and come back as rejects (check `number_format`, the value as written, the raw row).
    """
    out = frame.copy()
    bad = pd.Series(False, index=frame.index)
    problems: dict[object, tuple[str, object, str]] = {}
    for name, fmt in formats.items():
        if name not in out:
            continue
        text = out[name].astype(TEXT).str.replace("\xa0", " ").str.strip()
        text = text.where(text != "")
        compact = text.str.replace(" ", "", regex=False)
        ok = compact.isna() | compact.str.match(fmt.pattern()).fillna(False).astype(bool)
        for row in compact.index[~ok & ~bad]:
            problems[row] = (
                name,
                raw.loc[row, name] if name in raw else text.loc[row],
                f"{name}: {text.loc[row]!r} is not {fmt.describe()}",
            )
        bad |= ~ok
        plain = compact.str.replace(r"[$,%]", "", regex=True)
        bare = plain.str.startswith(".").fillna(False).astype(bool)  # ".10" -> "0.10"
        if bare.any():
            plain = plain.mask(bare, "0" + plain)
        negative_bare = plain.str.startswith("-.").fillna(False).astype(bool)
        if negative_bare.any():
            plain = plain.mask(negative_bare, "-0" + plain.str.slice(1))
        out[name] = plain.where(ok)
    if not bad.any():
        return out, raw, None
    rows = list(frame.index[bad])
    rejects = pd.DataFrame(
        [
            {
                "source_record": frame.loc[row, RECORD_COLUMN],
                "column": problems[row][0],
                "check": "number_format",
                "failure_value": None if pd.isna(problems[row][1]) else str(problems[row][1]),
                "reason": problems[row][2],
                "raw_record": raw_record(raw.loc[row]),
            }
            for row in rows
        ],
        columns=REJECT_COLUMNS,
    )
    return out.drop(index=rows), raw.drop(index=rows), rejects


def raw_record(row: pd.Series) -> str:
    """A row as written, as the JSON object the quarantine table shows."""
    return json.dumps(
        {str(k): (None if pd.isna(v) else str(v)) for k, v in row.items() if k != RECORD_COLUMN}, ensure_ascii=False
    )


def merge_rejects(*parts: pd.DataFrame | None) -> pd.DataFrame | None:
    found = [p for p in parts if p is not None and len(p)]
    return pd.concat(found, ignore_index=True) if found else None


# --- rows that are not records ---------------------------------------------------------------------
def is_note_row(cells: Iterable[object]) -> bool:
    """A footnote or trailer CMS writes below the data: only the first cell filled, and it is prose.

    ("NOTE 1: Payment indicators ...", "*Work GPCI reflects a 1.5 floor ...", "MAC Assignments as of
    November 22, 2023"). A row with a bare code and nothing else is not a note: it is validated.
    """
    values = ["" if c is None or (isinstance(c, float) and pd.isna(c)) else str(c).strip() for c in cells]
    if not values or not values[0] or any(values[1:]):
        return False
    first = values[0]
    return " " in first and bool(re.search(r"[A-Za-z]{3}", first))


def drop_note_rows(frame: pd.DataFrame, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames without CMS's trailing notes (they are documentation, not records)."""
    cells = raw.drop(columns=[RECORD_COLUMN], errors="ignore")
    notes = [i for i, row in zip(cells.index, cells.itertuples(index=False, name=None)) if is_note_row(row)]
    return frame.drop(index=notes), raw.drop(index=notes)
