"""Cut the bundled CMS excerpts in raw/ from the full public files (reproducible provenance).

Run: .venv/bin/python tools/cut_cms_excerpts.py [REAL_SAMPLES_DIR]
(default: ../shared/real-samples, or $PAYERBENCH_REAL_SAMPLES). For each CMS file it keeps the
preamble and header exactly as CMS wrote them (same bytes, same line endings, same encoding)
and the data rows of the listed codes, in file order; the small GPCI and locality files are
copied whole. CPT descriptors are AMA copyright, so only these few rows are kept.
The codes are: the codes of interest (raw/reference/billing_codes.csv) and a handful of
neighbours chosen to show a quirk (listed below with the reason).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "raw"

NEIGHBOURS = {
    "0439T": "Category III neighbour, status C",
    "0443T": "Category III neighbour, status C",
    "64449": "nerve block with a non-facility NA indicator",
    "64454": "genicular nerve block (pairs with 64624)",
    "64625": "radiofrequency ablation, sacroiliac joint nerves",
    "64633": "facet joint nerve destruction",
    "64635": "facet joint nerve destruction",
    "93990": "imaging service whose PFS payment CMS caps at the OPPS amount (OPPSCAP)",
}


def codes_of_interest() -> list[str]:
    with (RAW / "reference" / "billing_codes.csv").open(encoding="utf-8", newline="") as handle:
        return [row["billing_code"] for row in csv.DictReader(handle)]


def records(data: bytes) -> list[bytes]:
    """Physical CSV records with their line endings (a quoted field may hold a bare LF)."""
    out, start, quoted = [], 0, False
    for i, byte in enumerate(data):
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x0A and not quoted:
            out.append(data[start : i + 1])
            start = i + 1
    if start < len(data):
        out.append(data[start:])
    return out


def first_cell(record: bytes) -> str:
    return next(csv.reader(io.StringIO(record.decode("cp1252"))), [""])[0].strip()


def cut_csv(
    source: Path,
    dest: Path,
    header_records: int,
    keep: set[str],
    *,
    keep_notes: bool = False,
    modifier_blank_only: bool = False,
) -> int:
    """Copy the first `header_records` records, then the rows whose first cell is a kept code."""
    lines = records(source.read_bytes())
    body = []
    for record in lines[header_records:]:
        cell = first_cell(record)
        if cell in keep:
            fields = next(csv.reader(io.StringIO(record.decode("cp1252"))))
            if modifier_blank_only and fields[1].strip():
                continue
            body.append(record)
        elif keep_notes and cell.upper().startswith("NOTE"):
            body.append(record)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"".join(lines[:header_records] + body))
    return len(body)


def cut_xlsx(source: Path, dest: Path, header_row: int, keep: set[str]) -> int:
    """The same sheet, its first `header_row` rows and the kept codes' rows, with the cells' values
    and types as CMS stored them (numbers stay numbers, '.' stays text)."""
    import openpyxl

    book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    title = sheet.title
    chosen = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        code = str(values[0]).strip() if values and values[0] is not None else ""
        if number <= header_row or code in keep:
            chosen.append(list(values))
    book.close()
    if dest.exists() and _sheet_rows(dest) == (title, chosen):
        return len(chosen) - header_row  # same cells: keep the file (a re-save would change its bytes, and its sha256)
    out = openpyxl.Workbook()
    target = out.active
    target.title = title
    for values in chosen:
        target.append(values)
    dest.parent.mkdir(parents=True, exist_ok=True)
    out.save(dest)
    return len(chosen) - header_row


def _sheet_rows(path: Path) -> tuple[str, list[list[object]]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        return sheet.title, [list(v) for v in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def main() -> None:
    default = Path(os.environ.get("PAYERBENCH_REAL_SAMPLES", ROOT.parent / "shared" / "real-samples"))
    real = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    keep = set(codes_of_interest()) | set(NEIGHBOURS)
    rvu = real / "cms-pfs-rvu" / "RVU25D"
    done = {
        "cms_pfs_rvu/PPRRVU2025_Oct_excerpt.csv": cut_csv(
            rvu / "PPRRVU2025_Oct.csv", RAW / "cms_pfs_rvu" / "PPRRVU2025_Oct_excerpt.csv", 10, keep
        ),
        "cms_opps_cap/RVU25D/OPPSCAP_Oct_excerpt.csv": cut_csv(
            rvu / "OPPSCAP_Oct.csv",
            RAW / "cms_opps_cap" / "RVU25D" / "OPPSCAP_Oct_excerpt.csv",
            1,
            keep,
            modifier_blank_only=True,
        ),
        "cms_opps_addendum_b/2023_January_Web_Addendum_B.12212022_excerpt.xlsx": cut_xlsx(
            real / "cms-opps-addendum-b" / "2023_January_Web_Addendum_B.12212022.xlsx",
            RAW / "cms_opps_addendum_b" / "2023_January_Web_Addendum_B.12212022_excerpt.xlsx",
            4,
            keep,
        ),
    }
    for folder, period in (("2025/20251001", "October_2025"), ("2026/20260101", "January_2026")):
        for letter in ("AA", "FF"):
            name = f"cms_asc_addenda/{folder.split('/')[1]}/{letter}_{period}_excerpt.csv"
            done[name] = cut_csv(
                real / "cms-asc-addenda" / folder / f"{letter}.csv", RAW / name, 4, keep, keep_notes=True
            )
    for source, name in (
        (rvu / "GPCI2025.csv", "cms_pfs_gpci/GPCI2025.csv"),
        (rvu / "25LOCCO.csv", "cms_pfs_locality/25LOCCO.csv"),
    ):
        (RAW / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, RAW / name)
        done[name] = -1
    for name, rows in done.items():
        print(f"raw/{name}: {'whole file' if rows < 0 else f'{rows} rows kept'}")


if __name__ == "__main__":
    main()
