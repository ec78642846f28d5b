"""Streaming readers shared by adapters: delimited text, XLSX and JSON arrays.

Each yields chunks of bounded size with a locator per row, and turns every file-level defect
(empty, binary, undecodable, truncated, wrong shape) into a `FileRejected` naming the file, the
place and what was expected. Adapters map the columns to their dataset.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.engines import json_guard
from flows.engines.tic_stream import Limits, size_text
from flows.sources.base import RECORD_COLUMN, FileRejected

SNIFF_BYTES = 64 * 1024
REJECT_COLUMNS = ["source_record", "column", "check", "failure_value", "reason", "raw_record"]
TEXT = "str"  # pandas' Arrow-backed string dtype: vectorised string ops, NaN for missing
GOOD_RECORDS = "records as an export writes them (flat objects, a few levels deep at most)"
FIELD_LIMIT = json_guard.MAX_STRING_BYTES  # 16 MiB: csv's default 128 KB is too small for hospital notes fields

csv.field_size_limit(FIELD_LIMIT)


@dataclass
class Chunk:
    """Rows of one file section, column-named, with their locators and any malformed rows."""

    frame: pd.DataFrame
    rejects: pd.DataFrame | None = None


@dataclass(frozen=True)
class RowFilter:
    """Keep only the rows whose value in `column` passes `keep` (e.g. a code of interest).

    Large public files (CMS utilization, hospital price files) hold a few rows of interest among
    hundreds of thousands; testing one field before a row is aligned and collected keeps the
    reader fast and its memory bounded by the rows kept, not the rows in the file.
    """

    column: str
    keep: Callable[[str], bool]


@dataclass
class ReadStats:
    """Counts a reader fills in while it streams: data rows seen, and rows a RowFilter skipped."""

    data_rows: int = 0
    skipped_rows: int = 0


def sniff(path: Path) -> bytes:
    """The first bytes of a file (for format detection); rejects missing and empty files."""
    if not path.exists():
        raise FileRejected(path, "file not found", "an existing file path")
    if path.is_dir():
        raise FileRejected(path, "is a folder, not a file", "a file path")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FileRejected(path, "file is empty (0 bytes)", "a file with a header row and data rows")
    return head


def detect_format(path: Path, head: bytes) -> str:
    """'xlsx', 'gzip', 'json' or 'csv', from the file's content (never its name)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def normalize_header(name: object) -> str:
    """'Policy ID ' -> 'policy_id'; 'code | 1' -> 'code|1'. Header matching is case-insensitive."""
    text = "" if name is None else str(name)
    text = text.replace("\ufeff", "").replace("\xa0", " ").strip().lower()
    text = re.sub(r"\s*\|\s*", "|", text)
    return re.sub(r"[\s\-]+", "_", text)


def _binary_error(path: Path, line: int, offset: int | None = None) -> FileRejected:
    where = f"byte offset {offset}" if offset is not None else f"line {line}"
    return FileRejected(
        path,
        f"binary content (NUL byte at {where}), not a text file",
        "a UTF-8 text CSV; if this is a spreadsheet, save it as .xlsx or CSV UTF-8",
        f"line {line}" if offset is not None else "",
    )


def _check_binary(path: Path, head: bytes) -> None:
    nul = head.find(b"\x00")
    if nul >= 0:
        raise _binary_error(path, head[:nul].count(b"\n") + 1, nul)


def _encoding_error(path: Path, encoding: str = "utf-8") -> FileRejected:
    """Locate the first byte the file's encoding cannot decode (line and byte offset), line by line.

    Text readers decode whole buffers, so the error they raise cannot say where; a UTF-8 (or
    single-byte) character never spans a newline, so decoding each line on its own locates it.
    """
    utf8 = codecs.lookup(encoding).name == "utf-8"
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            body = line[3:] if number == 1 and line.startswith(codecs.BOM_UTF8) else line
            skipped = len(line) - len(body)
            try:
                body.decode("utf-8" if utf8 else encoding)
            except UnicodeDecodeError as exc:
                if utf8:
                    expected = (
                        "UTF-8 text (in Excel: Save As > 'CSV UTF-8'); re-encode a cp1252 file with "
                        "`iconv -f cp1252 -t utf-8 in.csv > out.csv`"
                    )
                else:
                    expected = f"{encoding} text, as the publisher writes this file (or UTF-8 with a byte-order mark)"
                return FileRejected(
                    path,
                    f"not valid {'UTF-8' if utf8 else encoding} (byte 0x{body[exc.start : exc.start + 1].hex()} "
                    f"at byte offset {offset + skipped + exc.start})",
                    expected,
                    f"line {number}",
                )
            offset += len(line)
    return FileRejected(path, f"cannot be decoded as {encoding}", f"{encoding} text")


def _text_encoding(path: Path, head: bytes, encoding: str) -> str:
    """The codec to open a text file with: UTF-8 (BOM skipped) by default; a file that starts
    with a UTF-8 byte-order mark is UTF-8 whatever the adapter declared (the mark says so)."""
    if codecs.lookup(encoding).name == "utf-8" or head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return encoding


def _check_columns(path: Path, header: list[str], required: Iterable[str], where: str) -> None:
    required = list(required)
    missing = [name for name in required if name not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(d in header[0] for d in ";\t|"):
            hint = " (the header is one column: is the file delimited by ';' or tabs instead of commas?)"
        raise FileRejected(
            path,
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}{hint}",
            f"a header with {', '.join(required)}",
            where,
        )
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise FileRejected(path, f"column {name!r} appears twice in the header", "unique column names", where)
        seen.add(name)


def _frame(header: list[str], rows: list[list[object]], records: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=header, dtype=TEXT) if rows else pd.DataFrame(columns=header, dtype=TEXT)
    frame[RECORD_COLUMN] = pd.Series(records, dtype=TEXT, index=frame.index)
    return frame


def _rejects(items: list[dict[str, object]]) -> pd.DataFrame | None:
    return pd.DataFrame(items, columns=REJECT_COLUMNS) if items else None


def _field_count_reject(where: str, cells: list[object], width: int) -> dict[str, object]:
    return {
        "source_record": where,
        "column": None,
        "check": "field_count",
        "failure_value": f"{len(cells)} fields",
        "reason": f"row has {len(cells)} fields but the header has {width}",
        "raw_record": json.dumps([None if c is None else str(c) for c in cells], ensure_ascii=False),
    }


def _text_lines(path: Path, handle: Iterable[str]) -> Iterator[str]:
    """Lines of a text file, refusing NUL bytes anywhere (Python's csv module would accept them)."""
    for number, line in enumerate(handle, start=1):
        if "\x00" in line:
            raise _binary_error(path, number)
        yield line


def read_csv_chunks(
    path: Path,
    *,
    required: Iterable[str],
    chunk_rows: int,
    skip_lines: int = 0,
    row_filter: RowFilter | None = None,
    stats: ReadStats | None = None,
    header_rows: int = 1,
    encoding: str = "utf-8",
) -> Iterator[Chunk]:
    """Stream a delimited text file as chunks of text columns named by its (normalized) header.

    Row locators are the physical line a record starts on, so a quoted field spanning lines
    still points at the right place. A row with more non-blank fields than the header is returned
    as a reject (it cannot be aligned); a row with fewer is padded with nulls for the schema.
    `skip_lines` skips a preamble above the header (CMS files carry title rows). `header_rows`
    reads a header split over several records (CMS's PPRRVU writes "WORK" above "RVU"): each
    column's name is its non-blank cells joined with spaces, top to bottom. `encoding` is the
    publisher's declared encoding (strict: an undecodable byte rejects the file, naming it);
    UTF-8 by default, and a UTF-8 byte-order mark always means UTF-8. `row_filter` drops rows
    whose filter column fails its test before they are aligned (a row too short to have that
    column is kept, so the schema can judge it); `stats` receives the counts.
    """
    head = sniff(path)
    _check_binary(path, head)
    required = list(required)
    if row_filter is not None and row_filter.column not in required:
        required.append(row_filter.column)
    stats = stats if stats is not None else ReadStats()
    filter_at = -1
    codec = _text_encoding(path, head, encoding)
    with path.open("r", encoding=codec, errors="strict", newline="") as handle:
        header: list[str] | None = None
        header_parts: list[list[str]] = []
        header_line = 0
        rows: list[list[object]] = []
        records: list[str] = []
        rejects: list[dict[str, object]] = []
        data_rows = 0
        for start_line, fields in _csv_records(path, handle, codec, encoding):
            if start_line <= skip_lines:
                continue
            if header is None and header_parts:  # continuation rows of a split header, blank or not
                header_parts.append(fields)
            elif not fields or all(not f.strip() for f in fields):
                continue  # blank line
            elif header is None:
                header_parts.append(fields)
                header_line = start_line
            if header is None and header_parts:
                if len(header_parts) < header_rows:
                    continue
                header = [normalize_header(name) for name in _join_header(header_parts)]
                lines = f"line {header_line}" if header_rows == 1 else f"lines {header_line}-{start_line}"
                _check_columns(path, header, required, f"header on {lines}")
                if row_filter is not None:
                    filter_at = header.index(row_filter.column)
                continue
            data_rows += 1
            stats.data_rows = data_rows
            if filter_at >= 0 and len(fields) > filter_at and not row_filter.keep(fields[filter_at]):  # type: ignore[union-attr]
                stats.skipped_rows += 1
                continue
            if len(fields) > len(header):
                if any(f.strip() for f in fields[len(header) :]):
                    rejects.append(_field_count_reject(f"line {start_line}", fields, len(header)))  # type: ignore[arg-type]
                    continue
                fields = fields[: len(header)]
            elif len(fields) < len(header):
                fields = fields + [None] * (len(header) - len(fields))  # type: ignore[list-item]
            rows.append(fields)  # type: ignore[arg-type]
            records.append(f"line {start_line}")
            if len(rows) + len(rejects) >= chunk_rows:
                chunk = Chunk(_frame(header, rows, records), _rejects(rejects))
                rows, records, rejects = [], [], []  # free the row lists before the chunk is processed
                yield chunk
        if header is None:
            raise FileRejected(path, "no header row (file holds only blank lines)", "a header row and data rows")
        if data_rows == 0:
            raise FileRejected(
                path,
                "header only, no data rows",
                "at least one data row below the header",
                f"header on line {header_line}",
            )
        if rows or rejects:
            yield Chunk(_frame(header, rows, records), _rejects(rejects))


def _join_header(parts: list[list[str]]) -> list[str]:
    """Column names of a header split over several records: non-blank cells joined top to bottom."""
    width = max(len(p) for p in parts)
    return [" ".join(p[i].strip() for p in parts if i < len(p) and p[i].strip()) for i in range(width)]


def head_records(path: Path, *, limit: int, encoding: str = "utf-8") -> list[tuple[int, list[str]]]:
    """The first `limit` records of a delimited text file with the physical line each starts on.

    For adapters that must read a preamble (a release title, where the header starts) before
    streaming the body with `read_csv_chunks`. Same binary and encoding checks as the reader.
    """
    head = sniff(path)
    _check_binary(path, head)
    found: list[tuple[int, list[str]]] = []
    codec = _text_encoding(path, head, encoding)
    with path.open("r", encoding=codec, errors="strict", newline="") as handle:
        for record in _csv_records(path, handle, codec, encoding):
            found.append(record)
            if len(found) >= limit:
                break
    return found


def _csv_records(path: Path, handle: Iterable[str], codec: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line the record starts on, its fields) for each CSV record of an open text file.

    Decoding and quoting errors become `FileRejected` naming the file and the line.
    """
    reader = csv.reader(_text_lines(path, handle), strict=True)
    while True:
        start_line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _encoding_error(path, "utf-8" if codec == "utf-8-sig" else encoding) from None
        except csv.Error as exc:
            raise _csv_error(path, exc, start_line) from None
        yield start_line, fields


def _csv_error(path: Path, exc: csv.Error, line: int) -> FileRejected:
    text = str(exc)
    if "field larger than field limit" in text:
        return FileRejected(
            path,
            f"a field is longer than {FIELD_LIMIT:,} characters",
            "fields of sane length (an unclosed quote often swallows the rest of the file)",
            f"record starting on line {line}",
        )
    if "unexpected end of data" in text or "EOF" in text:
        return FileRejected(
            path,
            "the file ends inside a quoted field: truncated, or a quote is never closed",
            "every quoted field closed before the end of the file",
            f"record starting on line {line}",
        )
    return FileRejected(
        path,
        f"malformed CSV ({text})",
        'RFC 4180 quoting (a quote inside a field is doubled: "")',
        f"record starting on line {line}",
    )


def _cell_text(value: object) -> object:
    """Spreadsheet cell -> text as a CSV of the same sheet would hold it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return _excel_decimal(value)
    return str(value)


def _excel_decimal(value: float) -> str:
    """A float cell as Excel shows it: 15 significant digits, Excel's precision, in plain notation.

    A cell computed by a formula holds binary noise (CMS's Addendum B: 20 % of 355.25 is stored
    as 71.05000000000001); Excel displays and exports 71.05, and so does this.
    """
    if not math.isfinite(value):
        return str(value)
    text = format(decimal.Decimal(f"{value:.15g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def read_xlsx_chunks(
    path: Path,
    *,
    required: Iterable[str],
    chunk_rows: int,
    sheet: str | None = None,
    header_row: int | None = None,
    limits: Limits | None = None,
) -> Iterator[Chunk]:
    """Stream one worksheet (openpyxl read-only mode) as chunks of text columns.

    The header is `header_row` (1-based) when given, else the first non-empty row. `sheet` picks
    a worksheet by name (default: the first). Cells right of the header are a `field_count` reject.
    A workbook is a zip: one whose members unpack to more than `limits.max_uncompressed_bytes`
    is refused before anything is unpacked (zipfile stops each member at its declared size).
    """
    import openpyxl  # imported lazily: only XLSX inputs need it
    from openpyxl.utils.exceptions import InvalidFileException

    sniff(path)
    _check_unpacked_size(path, limits or Limits())
    required = list(required)
    raw = path.open("rb")  # a file object: openpyxl judges a path by its extension, not its content
    try:
        book = openpyxl.load_workbook(raw, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raw.close()
        raise FileRejected(
            path, f"not a readable XLSX workbook ({exc})", "an .xlsx file saved by Excel or LibreOffice"
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise FileRejected(
                path, f"no worksheet named {sheet!r} (sheets: {', '.join(book.sheetnames)})", f"a sheet {sheet!r}"
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        header: list[str] | None = None
        rows: list[list[object]] = []
        records: list[str] = []
        rejects: list[dict[str, object]] = []
        data_rows = 0
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                if header_row is not None and number < header_row:
                    continue
                if not any(c not in (None, "") for c in cells):
                    continue
                header = [normalize_header(c) for c in cells]
                while header and header[-1] == "":
                    header.pop()
                _check_columns(path, header, required, f"sheet {ws.title!r} row {number}")
                continue
            if not any(c not in (None, "") for c in cells):
                continue
            data_rows += 1
            where = f"sheet {ws.title!r} row {number}"
            if any(c not in (None, "") for c in cells[len(header) :]):
                rejects.append(_field_count_reject(where, cells, len(header)))
                continue
            rows.append((cells + [None] * len(header))[: len(header)])
            records.append(where)
            if len(rows) + len(rejects) >= chunk_rows:
                chunk = Chunk(_frame(header, rows, records), _rejects(rejects))
                rows, records, rejects = [], [], []
                yield chunk
        if header is None:
            raise FileRejected(path, f"sheet {ws.title!r} is empty", "a header row and data rows")
        if data_rows == 0:
            raise FileRejected(path, "header only, no data rows", "at least one data row", f"sheet {ws.title!r}")
        if rows or rejects:
            yield Chunk(_frame(header, rows, records), _rejects(rejects))
    finally:
        book.close()
        raw.close()


def _check_unpacked_size(path: Path, limits: Limits) -> None:
    """Refuse a zip (an XLSX workbook) whose members declare more than the uncompressed-bytes limit."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl says what is wrong with it
    if declared > limits.max_uncompressed_bytes:
        raise FileRejected(
            path,
            f"unpacks to {declared:,} bytes (as its zip directory declares), more than "
            f"{size_text(limits.max_uncompressed_bytes)}; refused before unpacking",
            "a smaller workbook, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES if this one is genuine",
        )


def _json_scalar(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def read_json_records(
    path: Path,
    *,
    required: Iterable[str],
    chunk_rows: int,
    array_key: str,
    expected: str,
    limits: Limits | None = None,
) -> Iterator[Chunk]:
    """Stream the objects of a top-level JSON array, or of `{array_key: [...]}`, as chunks.

    Uses ijson (yajl2_c when available) so a file never has to fit in memory. Keys are matched
    like CSV headers; a key a record omits is null for that record; a required key that no
    record in the whole file carries rejects the file (checked at the end, so the verdict does
    not depend on chunk size). Nested values are kept as JSON text for the schema to judge.
    Deep nesting, a record past `limits.max_item_bytes` and a file past
    `limits.max_uncompressed_bytes` reject the file before they cost memory (json_guard).
    """
    import ijson

    head = sniff(path)
    required = list(required)
    first = head.lstrip(codecs.BOM_UTF8).lstrip()[:1]
    if first == b"[":
        prefix, label = "item", "$"
    elif first == b"{":
        prefix, label = f"{array_key}.item", f"$.{array_key}"
    else:
        raise FileRejected(path, "not JSON (does not start with '[' or '{')", expected)
    rows: list[dict[str, object]] = []
    records: list[str] = []
    keys_seen: set[str] = set()
    count = 0
    handle = path.open("rb")
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    handle.seek(bom)
    with json_guard.GuardedJson(handle, path, limits or Limits(), GOOD_RECORDS, offset=bom) as raw:
        try:
            for index, item in enumerate(json_guard.items(raw, prefix)):
                if not isinstance(item, dict):
                    raise FileRejected(
                        path, f"element is a {type(item).__name__}, not an object", expected, f"{label}[{index}]"
                    )
                row = {normalize_header(k): _json_scalar(v) for k, v in item.items()}
                keys_seen.update(row)
                rows.append(row)
                records.append(f"{label}[{index}]")
                count += 1
                if len(rows) >= chunk_rows:
                    chunk = _json_chunk(rows, records, required)
                    rows, records = [], []
                    yield chunk
        except ijson.JSONError as exc:
            raise FileRejected(
                path,
                f"invalid or truncated JSON ({str(exc).strip().splitlines()[0]})",
                "a complete JSON document",
                f"after {label}[{count - 1}]" if count else "",
            ) from None
    if count == 0:
        raise FileRejected(path, f"no records found at {label}", expected)
    missing = [name for name in required if name not in keys_seen]
    if missing:
        raise FileRejected(
            path,
            f"no record carries the required field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
            f"records with {', '.join(required)}",
            label,
        )
    if rows:
        yield _json_chunk(rows, records, required)


def _json_chunk(rows: list[dict[str, object]], records: list[str], required: list[str]) -> Chunk:
    frame = pd.DataFrame.from_records(rows)
    for name in required:  # a key absent from every record of this chunk is null here
        if name not in frame.columns:
            frame[name] = None
    frame = frame.astype(TEXT)
    frame[RECORD_COLUMN] = pd.Series(records, dtype=TEXT, index=frame.index)
    return Chunk(frame)


def peek_header(path: Path, *, skip_lines: int = 0, encoding: str = "utf-8") -> list[str]:
    """The normalized header of a delimited text file (first non-blank line after `skip_lines`)."""
    head = sniff(path)
    _check_binary(path, head)
    codec = _text_encoding(path, head, encoding)
    try:
        text = head.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the sniff boundary
            raise _encoding_error(path, "utf-8" if codec == "utf-8-sig" else encoding) from None
        text = head[: exc.start].decode(codec)
    lines = text.splitlines()[skip_lines:]
    for fields in csv.reader(lines):
        if fields and any(f.strip() for f in fields):
            return [normalize_header(f) for f in fields]
    return []
