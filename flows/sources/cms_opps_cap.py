"""CMS PFS OPPS payment cap file: OPPSCAP_<Mon>.csv, in the quarterly PFS relative value zip.

Publisher: CMS (RVU25A-D zips). Cadence: quarterly. Format (CY 2025): CSV with a one-row header
"HCPCS,MOD,PROCSTAT,CARRIER,LOCALITY,FACILITY PRICE,NON-FACILTY PRICE" (CMS's typo "FACILTY"
is read, and so is the correct spelling), one row per code, modifier and locality where the
OPPS cap applies, and a last row of commas. Release: CMS writes neither year nor quarter inside
the file and only the month in its name, so the year comes from the bundle folder it ships in
(RVU25D/OPPSCAP_Oct.csv) or a name that carries it (OPPSCAP2025_Oct.csv); otherwise the file
is rejected saying so. Quirks handled: MAC and locality numbers kept as text with their zeros;
blank modifier = the global service; prices as plain decimals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows.engines.readers import detect_format, peek_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import Number, agree, check_numbers, merge_rejects, release_from_name
from schemas.cms_opps_cap import DATASET
from schemas.fields import blank_to_null

NAME_PATTERN = r"oppscap[_-]?(?P<year>\d{4})?[_-]?(?P<month>[a-z]{3,9})?"
HOW_TO_NAME = (
    "the file kept in its CMS bundle folder (RVU25D/OPPSCAP_Oct.csv) or named with its year and "
    "month (OPPSCAP2025_Oct.csv)"
)
HEADERS = {
    "hcpcs": "billing_code",
    "mod": "modifier",
    "procstat": "status_code",
    "carrier": "mac",
    "locality": "locality_number",
    "facility_price": "facility_price_usd",
    "non_facilty_price": "nonfacility_price_usd",  # CMS's spelling
    "non_facility_price": "nonfacility_price_usd",
}
COLUMNS = [
    "billing_code",
    "modifier",
    "status_code",
    "mac",
    "locality_number",
    "facility_price_usd",
    "nonfacility_price_usd",
]
NUMBERS = {
    "facility_price_usd": Number(kind="money", places=2),
    "nonfacility_price_usd": Number(kind="money", places=2),
}


def detect(path: Path) -> bool:
    """True when the header is CMS's OPPS cap header (PROCSTAT, CARRIER, LOCALITY, prices)."""
    try:
        if detect_format(path, sniff(path)) != "csv":
            return False
        return {"procstat", "carrier", "locality", "facility_price"} <= set(peek_header(path))
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse an OPPS cap file into `cms__opps_cap` batches."""
    release = agree(path, None, release_from_name(path, NAME_PATTERN), HOW_TO_NAME)
    if release.month is None:
        raise FileRejected(
            path, f"only the year ({release.year}) of this OPPS cap file is known, not its quarter", HOW_TO_NAME
        )
    header = peek_header(path)
    rename = {h: HEADERS[h] for h in header if h in HEADERS}
    missing = [c for c in COLUMNS if c not in rename.values()]
    if missing:
        raise FileRejected(
            path,
            f"no column for {', '.join(missing)} in the header",
            "HCPCS, MOD, PROCSTAT, CARRIER, LOCALITY, FACILITY PRICE, NON-FACILTY PRICE",
            "line 1",
        )
    for chunk in read_csv_chunks(path, required=list(rename), chunk_rows=ctx.settings.chunk_rows):
        raw = chunk.frame.rename(columns=rename)[[*COLUMNS, RECORD_COLUMN]]
        frame = blank_to_null(raw)
        frame["billing_code"] = frame["billing_code"].str.upper()
        frame["mac"] = frame["mac"].str.zfill(5)
        frame["locality_number"] = frame["locality_number"].str.zfill(2)
        frame, raw, bad = check_numbers(frame, raw, NUMBERS)
        for name, value in release.columns().items():
            frame[name] = value
        yield Batch(DATASET, frame, merge_rejects(chunk.rejects, bad), raw=raw)
