"""SYNTHETIC "Medicare Physician & Other Practitioners – by Geography and Service" files.

Writes files in exactly CMS's layout (the 15 columns, National rows with a blank geography code,
quoted descriptions holding commas, counts with thousands separators as a spreadsheet export
writes them) filled with made-up numbers. Nothing here is CMS data: no number may be read as a
fact about Medicare utilization. Used for the bundled sample files in
raw/cms_partb_geo_service/ and for the benchmark's large input.

    .venv/bin/python benchmarks/synthetic_partb.py raw/cms_partb_geo_service   # the bundled files
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from flows.fetch.cms_partb import COLUMNS

HEADER = list(COLUMNS)  # CMS's 15 columns, as fetch writes them (flows/fetch/cms_partb.py)

STATES = [
    ("01", "Alabama"),
    ("02", "Alaska"),
    ("04", "Arizona"),
    ("05", "Arkansas"),
    ("06", "California"),
    ("08", "Colorado"),
    ("09", "Connecticut"),
    ("10", "Delaware"),
    ("11", "District of Columbia"),
    ("12", "Florida"),
    ("13", "Georgia"),
    ("15", "Hawaii"),
    ("16", "Idaho"),
    ("17", "Illinois"),
    ("18", "Indiana"),
    ("19", "Iowa"),
    ("20", "Kansas"),
    ("21", "Kentucky"),
    ("22", "Louisiana"),
    ("23", "Maine"),
    ("24", "Maryland"),
    ("25", "Massachusetts"),
    ("26", "Michigan"),
    ("27", "Minnesota"),
    ("28", "Mississippi"),
    ("29", "Missouri"),
    ("30", "Montana"),
    ("31", "Nebraska"),
    ("32", "Nevada"),
    ("33", "New Hampshire"),
    ("34", "New Jersey"),
    ("35", "New Mexico"),
    ("36", "New York"),
    ("37", "North Carolina"),
    ("38", "North Dakota"),
    ("39", "Ohio"),
    ("40", "Oklahoma"),
    ("41", "Oregon"),
    ("42", "Pennsylvania"),
    ("44", "Rhode Island"),
    ("45", "South Carolina"),
    ("46", "South Dakota"),
    ("47", "Tennessee"),
    ("48", "Texas"),
    ("49", "Utah"),
    ("50", "Vermont"),
    ("51", "Virginia"),
    ("53", "Washington"),
    ("54", "West Virginia"),
    ("55", "Wisconsin"),
    ("56", "Wyoming"),
    ("72", "Puerto Rico"),
]

# Our own plain-language labels (raw/reference/billing_codes.csv), never AMA descriptors.
LABELS = {
    "0440T": "Percutaneous cryoablation, upper extremity distal/peripheral nerve, imaging guidance included",
    "0441T": "Percutaneous cryoablation, lower extremity distal/peripheral nerve, imaging guidance included",
    "0442T": "Percutaneous cryoablation, nerve plexus or other truncal nerve, imaging guidance included",
    "64640": "Destruction by neurolytic agent, other peripheral nerve or branch",
    "64624": "Destruction by neurolytic agent, genicular nerve branches, imaging guidance included",
    "64450": "Injection of anesthetic or steroid, other peripheral nerve or branch (nerve block)",
    "99213": "Office visit, established patient (synthetic label)",
    "20610": "Joint injection, major joint (synthetic label)",
    "J1100": "Injection, dexamethasone sodium phosphate, 1 mg (synthetic label)",
}

# Per code: (national office services, national facility services, share of states published, drug?)
# and, for the rare Category III codes, the only cells published per year (everything else: < 11).
VOLUME = {
    "64450": (900_000, 350_000, 1.0, "N"),
    "64640": (60_000, 25_000, 0.7, "N"),
    "64624": (30_000, 12_000, 0.55, "N"),
    "99213": (40_000_000, 2_000_000, 1.0, "N"),
    "20610": (5_000_000, 400_000, 1.0, "N"),
    "J1100": (8_000_000, 900_000, 1.0, "Y"),
}
RARE = {  # data year -> [(code, level, state FIPS or None, place of service, beneficiaries, services)]
    2021: [("0441T", "National", None, "O", 12, 19)],
    2022: [
        ("0440T", "National", None, "O", 13, 21),
        ("0441T", "National", None, "O", 24, 40),
        ("0441T", "National", None, "F", 11, 14),
    ],
    2023: [
        ("0440T", "National", None, "O", 17, 29),
        ("0440T", "State", "48", "O", 11, 16),
        ("0441T", "National", None, "O", 31, 55),
        ("0441T", "National", None, "F", 15, 20),
    ],
}


def _count(value: float, separators: bool) -> str:
    number = int(round(value))
    return f"{number:,}" if separators else str(number)


def _money(value: float) -> str:
    return f"{value:.2f}"


def _row(
    level: str,
    fips: str | None,
    name: str,
    code: str,
    drug: str,
    pos: str,
    benes: int,
    services: float,
    rng: random.Random,
    separators: bool,
) -> list[str]:
    days = max(benes, min(services, benes * rng.uniform(1.0, 1.6)))
    providers = max(1, int(benes / rng.uniform(2.5, 9.0)))
    base = 40.0 + (sum(map(ord, code)) * 37) % 380  # a made-up, stable level per code
    allowed = base * rng.uniform(0.93, 1.07) * (0.55 if pos == "F" else 1.0)
    return [
        level,
        fips or "",
        name,
        code,
        LABELS.get(code, f"Synthetic service {code}, example only"),
        drug,
        pos,
        _count(providers, separators),
        _count(benes, separators),
        _count(services, separators),
        _count(days, separators),
        _money(allowed * rng.uniform(2.2, 4.5)),
        _money(allowed),
        _money(allowed * 0.79),
        _money(allowed * rng.uniform(0.93, 1.07)),
    ]


def bundled_rows(year: int, seed: int = 2026) -> list[list[str]]:
    """The rows of one small bundled file: the codes of interest plus a few others (filtered out on load)."""
    rng = random.Random(seed + year)
    growth = 1.0 + 0.06 * (year - 2021)
    rows: list[list[str]] = []
    for code, (office, facility, share, drug) in VOLUME.items():
        for pos, national in (("F", facility), ("O", office)):
            services = national * growth
            benes = services / rng.uniform(1.6, 2.4)
            rows.append(_row("National", None, "National", code, drug, pos, int(benes), services, rng, separators=True))
            published = (
                [s for s in STATES if rng.random() < share] if code in ("64450", "64640", "64624") else STATES[:3]
            )
            for fips, name in published:
                weight = rng.uniform(0.004, 0.05)
                state_services = max(25.0, services * weight)
                state_benes = max(11, int(state_services / rng.uniform(1.5, 2.5)))
                rows.append(
                    _row("State", fips, name, code, drug, pos, state_benes, state_services, rng, separators=True)
                )
    names = dict(STATES)
    for code, level, fips, pos, benes, services in RARE.get(year, []):
        name = "National" if fips is None else names[fips]
        rows.append(_row(level, fips, name, code, "N", pos, benes, services, rng, separators=False))
    rows.sort(key=lambda r: (r[0] != "National", r[2], r[3], r[6]))
    return rows


def write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def bench_rows(total: int, codes_of_interest: list[str], seed: int = 7):  # type: ignore[no-untyped-def]
    """`total` rows shaped like a full national file, each code once per geography and place of service.

    Codes are made-up 5-digit numbers; the codes of interest appear once each, spread through
    the file, so about 1 row in 500 is kept (a real file keeps a few hundred of ~270,000).
    """
    rng = random.Random(seed)
    geos = [("National", None, "National")] + [("State", f, n) for f, n in STATES]
    spacing = max(1, total // (len(geos) * 2) // (len(codes_of_interest) + 1))
    planted = {spacing * (i + 1): code for i, code in enumerate(codes_of_interest)}
    produced = 0
    index = 0
    while produced < total:
        index += 1
        code = planted.get(index, f"{10000 + index:05d}")
        for level, fips, name in geos:
            for pos in ("F", "O"):
                if produced >= total:
                    return
                benes = rng.randint(11, 50_000)
                services = benes * rng.uniform(1.0, 3.0)
                yield _row(level, fips, name, code, "N", pos, benes, services, rng, separators=rng.random() < 0.3)
                produced += 1


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("raw/cms_partb_geo_service")
    for year, release in ((2021, 23), (2022, 24), (2023, 25)):
        write(target / f"synthetic_MUP_PHY_R{release}_P05_V10_D{year % 100}_Geo.csv", bundled_rows(year))


if __name__ == "__main__":
    main()
