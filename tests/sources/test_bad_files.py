"""Bad files, one kind per row: each is rejected in one clear line naming the file and what to do, and
nothing from it is loaded (load log says rejected, no Parquet part committed, 0 rows).

Hostile inputs (bombs, huge values, deep nesting) are generated here at small scale against small
limits set through Settings, so the suite runs in seconds and no large file is ever committed.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from flows import catalog
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.steps import load_log, store
from flows.steps.load import load_file
from tests.conftest import FIXTURES
from tests.tic_shapes import MB, PREFIX, TARGET

CODES = frozenset({"0440T", "0441T", "0442T"})
TIC = FIXTURES / "tic__in_network_rate"
VALID_TIC = (TIC / "valid_minimal.json").read_bytes()


HOSPITAL_JSON = (FIXTURES / "hospital__standard_charge" / "valid_v3.json").read_bytes()
POLICY_JSON = (FIXTURES / "payer__policy" / "valid_array.json").read_bytes()
FIRST_ITEM = b'"description": "Office visit (unrelated item)"'
DEEP = b"[" * 8_000 + b"]" * 8_000  # ijson's path strings made this cost ~280 MB (64,000 levels: gigabytes)


def hospital_with(after: bytes, extra: bytes) -> bytes:
    """The valid v3 hospital JSON with `extra` inserted after `after` (a hostile value in a real file)."""
    assert HOSPITAL_JSON.count(after) == 1
    return HOSPITAL_JSON.replace(after, after + extra)


def policy_with(extra: bytes) -> bytes:
    """The valid policy array with `extra` added to its first record."""
    return POLICY_JSON.replace(b'"payer_name": "Aetna",', b'"payer_name": "Aetna", ' + extra, 1)


def policy_xlsx() -> bytes:
    """A valid one-row policy workbook (its XML parts unpack to ~7 KB)."""
    import json

    import openpyxl

    record = json.loads(POLICY_JSON)[0]
    book = openpyxl.Workbook()
    book.active.append(list(record))
    book.active.append([v if v is not None else "" for v in record.values()])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def gz(*parts: bytes | tuple[bytes, int]) -> bytes:
    """Gzip of `parts`; (block, n) repeats a block n times without building it in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = []
    for part in parts:
        block, times = part if isinstance(part, tuple) else (part, 1)
        out.extend(packer.compress(block) for _ in range(times))
    out.append(packer.flush())
    return b"".join(out)


def flip(data: bytes, at: int) -> bytes:
    """`data` with one bit of the byte at `at` flipped (a damaged download)."""
    damaged = bytearray(data)
    damaged[at] ^= 1
    return bytes(damaged)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fixture(dataset: str, name: str) -> Callable[[], bytes]:
    return lambda: (FIXTURES / dataset / name).read_bytes()


# (id, source, file name, content, settings changes, what the one line must say)
CASES: list[tuple[str, str, str, Callable[[], bytes], dict, str]] = [
    (
        "truncated_gz",
        "tic",
        "truncated.json.gz",
        fixture("tic__in_network_rate", "truncated.json.gz"),
        {},
        r"\(the data ends at compressed byte offset 352 of 352, after 627 uncompressed bytes; .*\): the gzip stream is "
        r"truncated.*; expected a complete file \(re-download it\)",
    ),
    (
        "gzip_bad_checksum",
        "tic",
        "bad_crc.json.gz",
        lambda: flip(gz(VALID_TIC), -8),
        {},
        r"the gzip stream is corrupt \(.*checksum.*\) in the compressed bytes up to offset [\d,]+; expected a complete file",
    ),
    (
        "gzip_trailing_garbage",
        "tic",
        "trailing.json.gz",
        lambda: gz(VALID_TIC) + b"<html>",
        {},
        r"the data ends at compressed byte offset [\d,]+ of [\d,]+, after 1,662 uncompressed bytes.*: the gzip stream is "
        r"followed by data that is not gzip",
    ),
    (
        "not_gzip_named_gz",
        "tic",
        "in_network.json.gz",
        lambda: b"Access denied: token expired\n",
        {},
        r"not a JSON object \(starts with b'Access denied",
    ),
    (
        "html_named_gz",
        "tic",
        "html_error_page.json.gz",
        fixture("tic__in_network_rate", "html_error_page.json.gz"),
        {},
        r"an HTML page, not JSON \(a failed download saved as a data file\?\)",
    ),
    (
        "empty",
        "tic",
        "empty.json.gz",
        lambda: b"",
        {},
        r"file is empty \(0 bytes\); expected a Transparency-in-Coverage",
    ),
    (
        "zip_without_json",
        "tic",
        "rates.zip",
        lambda: zipped({"readme.txt": b"hi", "rates.csv": b"a,b\n"}),
        {},
        r"zip holds no \.json file \(readme\.txt, rates\.csv\); expected exactly one JSON file per zip",
    ),
    (
        "zip_path_traversal",
        "tic",
        "traversal.zip",
        lambda: zipped({"../../etc/in_network.json": VALID_TIC}),
        {},
        r"zip member name '\.\./\.\./etc/in_network\.json' points outside the archive \(path traversal\)",
    ),
    (
        "invalid_utf8",
        "tic",
        "latin1.json",
        lambda: VALID_TIC.replace(b"UnitedHealthcare Insurance Company", b"Caf\xe9 Insurance Company"),
        {},
        r"invalid UTF-8",
    ),
    (
        "json_not_an_object",
        "tic",
        "array.json",
        lambda: b"[" + TARGET + b"]",
        {},
        r"not a JSON object \(starts with b'\[\{",
    ),
    (
        "wrong_top_level_keys",
        "tic",
        "wrong_keys.json",
        lambda: b'{"reporting_entity_name": "x", "rates": [' + TARGET + b"]}",
        {},
        r"a JSON object without in_network, out_of_network, reporting_structure or provider_groups",
    ),
    (
        "truncated_json",
        "tic",
        "truncated.json",
        fixture("tic__in_network_rate", "truncated.json"),
        {},
        r"\(the stream ends at uncompressed byte 1,435\): invalid or truncated JSON",
    ),
    (
        "gzip_bomb",
        "tic",
        "bomb.json.gz",
        lambda: gz(PREFIX, TARGET, b",", (b" " * MB, 80), TARGET, b"]}"),
        {},
        r"\(compressed byte offset [\d,]+ of [\d,]+, uncompressed byte offset [\d,]+\): decompressed to [\d,]+x the "
        r"compressed bytes read so far .* refused as a possible decompression bomb; expected .*PAYERBENCH_TIC_MAX_EXPANSION",
    ),
    (
        "past_uncompressed_limit",
        "tic",
        "long.json.gz",
        lambda: gz(PREFIX, TARGET, (b"," + TARGET, 3000), b"]}"),
        {"max_uncompressed_bytes": 256 * 1024},
        r"decompresses to more than 256 KiB .*; expected a smaller file, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES",
    ),
    (
        "huge_string",
        "tic",
        "huge_string.json.gz",
        lambda: gz(PREFIX, TARGET[:-3], b', "x": "', (b"a" * MB, 3), b'"}]}'),
        {"max_item_bytes": MB, "tic_max_expansion": 1e9},
        r"the in_network item for a code of interest at uncompressed byte 66 is larger than 1 MiB; refused rather than "
        r"held in memory; expected .*PAYERBENCH_MAX_ITEM_BYTES",
    ),
    (
        "blank_space_run",
        "tic",
        "blank.json.gz",
        lambda: gz(PREFIX, (b"\n" * MB, 3), TARGET, b"]}"),
        {"max_item_bytes": MB, "tic_max_expansion": 1e9},
        r"more than 1 MiB of blank space .* refused as a possible decompression bomb; expected .*PAYERBENCH_MAX_ITEM_BYTES",
    ),
    (
        "deep_nesting",
        "tic",
        "deep.json.gz",
        lambda: gz(b'{"reporting_entity_name": "x", "plan": ', b"[" * 200_000, b"]" * 200_000, b', "in_network": []}'),
        {},
        r"JSON nested too deeply \(more than 1,000 levels of \[ or \{\)",
    ),
    (
        "hospital_gzip",
        "hospital_mrf",
        "standardcharges.csv.gz",
        lambda: gz(b"hospital_name,last_updated_on\n"),
        {},
        r"gzip-compressed; expected an uncompressed CSV or JSON file \(gunzip it first\)",
    ),
    (
        "hospital_truncated_json",
        "hospital_mrf",
        "truncated.json",
        fixture("hospital__standard_charge", "truncated.json"),
        {},
        r"invalid or truncated JSON",
    ),
    (
        "hospital_json_deep_item",
        "hospital_mrf",
        "deep_item.json",
        lambda: hospital_with(FIRST_ITEM, b', "x": ' + DEEP),
        {},
        r"deep_item.json \(byte offset 1,745\): JSON nested too deeply \(more than 1,000 levels of \[ or \{\); refused as "
        r"malformed or hostile; expected a hospital price-transparency JSON file",
    ),
    (
        "hospital_json_deep_metadata",
        "hospital_mrf",
        "deep_meta.json",
        lambda: hospital_with(b'"version": "3.0.0",', b' "extra": ' + DEEP + b","),
        {},
        r"\(byte offset 1,106\): JSON nested too deeply \(more than 1,000 levels",
    ),
    (
        "hospital_json_huge_value",
        "hospital_mrf",
        "huge_value.json",
        lambda: hospital_with(FIRST_ITEM, b', "x": "' + b"a" * (3 * MB) + b'"'),
        {"max_item_bytes": MB},
        r"one JSON value from about byte [\d,]+ is larger than 1 MiB; refused rather than held in memory; expected a "
        r"hospital price-transparency JSON file .*, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
    ),
    (
        "hospital_json_blank_run",
        "hospital_mrf",
        "blank_run.json",
        lambda: hospital_with(FIRST_ITEM + b",", b" " * (3 * MB)),
        {"max_item_bytes": MB},
        r"one JSON value from about byte [\d,]+ is larger than 1 MiB; .*PAYERBENCH_MAX_ITEM_BYTES",
    ),
    (
        "hospital_json_past_size_limit",
        "hospital_mrf",
        "big.json",
        lambda: HOSPITAL_JSON,
        {"max_uncompressed_bytes": 2048},
        r"big.json \(byte offset 4,068\): holds more than 2 KiB \(4,068 bytes read so far\); refused before reading on; "
        r"expected a smaller file, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES",
    ),
    (
        "policy_json_deep",
        "payer_policy",
        "deep_policy.json",
        lambda: policy_with(b'"x": ' + DEEP + b","),
        {},
        r"deep_policy.json \(byte offset 1,033\): JSON nested too deeply \(more than 1,000 levels",
    ),
    (
        "policy_json_huge_record",
        "payer_policy",
        "huge_policy.json",
        lambda: policy_with(b'"x": "' + b"a" * (3 * MB) + b'",'),
        {"max_item_bytes": MB},
        r"one JSON value from about byte [\d,]+ is larger than 1 MiB; .*PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
    ),
    (
        "policy_xlsx_past_size_limit",
        "payer_policy",
        "policies.xlsx",
        policy_xlsx,
        {"max_uncompressed_bytes": 4096},
        r"policies.xlsx: unpacks to [\d,]+ bytes \(as its zip directory declares\), more than 4 KiB; refused before "
        r"unpacking; expected a smaller workbook, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES",
    ),
    (
        "csv_bom_wrong_header",
        "payer_policy",
        "bom_wrong_header.csv",
        lambda: b"\xef\xbb\xbfpayer,plan,code,status\nAetna,PPO,0440T,covered\n",
        {},
        r"missing required column",
    ),
    (
        "csv_binary_garbage",
        "payer_policy",
        "garbage.csv",
        lambda: b"payer_name,plan_type\n" + bytes(range(256)) * 4,
        {},
        r"binary content \(NUL byte at byte offset \d+\)",
    ),
]


def parts(settings: Settings) -> list[Path]:
    """Committed Parquet parts of any dataset (the load log is the loader's own record)."""
    return sorted(p for p in settings.lake_dir.rglob("*.parquet") if store.LOAD_LOG not in p.parts)


@pytest.mark.parametrize(
    ("source", "name", "content", "changes", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_a_bad_file_is_rejected_in_one_line_and_loads_nothing(
    settings: Settings,
    tmp_path: Path,
    source: str,
    name: str,
    content: Callable[[], bytes],
    changes: dict,
    message: str,
) -> None:
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(content())
    limited = settings.replace(**changes)
    payers = payer_directory(settings.payer_alias_file)
    record = load_file(catalog.get(source), path, limited, "20260101T000000Z-badfil", payers=payers, codes=CODES)

    assert record.status == "rejected", record.error
    error = record.error or ""
    assert "\n" not in error and error.startswith(name), error  # one line, naming the file first
    assert "; expected " in error, error  # ... and what a good file (or a setting) would be
    assert __import__("re").search(message, error), error
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (0, 0, 0)
    assert parts(limited) == []  # nothing partial committed, not even quarantine
    log = load_log.read(limited.lake_dir)
    assert list(log["status"]) == ["rejected"] and list(log["source_file"]) == [name]
    assert not list(tmp_path.glob("**/tic-provider-refs-*"))  # no spill file left behind


def test_the_suite_covers_thirteen_kinds_at_least() -> None:
    assert len({case[0] for case in CASES}) >= 13
