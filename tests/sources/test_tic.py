"""TiC extraction: the fast path agrees with the exact path everywhere, real values, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from flows.engines import tic_scan, tic_stream
from flows.engines.tic_scan import Anomaly, extract, fast_extract, reference_extract
from flows.settings import Settings
from flows.sources import tic
from flows.sources.base import FileRejected, ReadContext
from tests.conftest import BUNDLED_RAW, FIXTURES
from tests.tic_shapes import MB, OTHER, PREFIX, TARGET

DATASET = "tic__in_network_rate"
FIX = FIXTURES / DATASET
CODES = frozenset({"0440T", "0441T", "0442T", "64640", "64624", "64450"})
EXAMPLE_CODES = CODES | {"27447", "99214", "97110", "0200", "81.54", "0000", "1111", "2222", "0440"}
RAW_TIC = BUNDLED_RAW / "tic"


def same(fast: tic_scan.Extract, exact: tic_scan.Extract) -> None:
    assert fast.kind == exact.kind
    assert fast.header == exact.header
    assert [item for _, item in fast.items] == [item for _, item in exact.items]
    assert fast.provider_refs == exact.provider_refs
    assert [e for _, e in fast.toc] == [e for _, e in exact.toc]


def all_inputs() -> list[Path]:
    files = sorted(p for p in FIX.rglob("*.json*") if "truncated" not in p.name and "html" not in p.name)
    return files + sorted(RAW_TIC.glob("*.json.gz"))


@pytest.mark.parametrize("path", all_inputs(), ids=lambda p: p.name)
def test_fast_path_agrees_with_the_exact_path(path: Path) -> None:
    exact = reference_extract(path, EXAMPLE_CODES)
    try:
        fast = fast_extract(path, EXAMPLE_CODES)
    except Anomaly:
        assert path.name in {"mixed_first_keys.json"}, f"unexpected fallback on {path.name}"
        fast = extract(path, EXAMPLE_CODES)
        assert fast.path_used == "ijson_fallback" and fast.fallback_reason
    same(fast, exact)


def test_fast_path_finds_what_the_cms_examples_hold() -> None:
    found = {}
    for path in sorted((FIX / "cms_examples").rglob("in-network-rates-*.json")):
        result = fast_extract(path, EXAMPLE_CODES)
        found[f"{path.parent.parent.name}/{path.name}"] = [item["billing_code"] for _, item in result.items]
    assert found["v2.2.0/in-network-rates-all-negotiated-types-sample.json"] == ["99214", "97110", "0200", "27447"]
    assert found["v1.6.2/in-network-rates-bundle-single-plan-sample.json"] == ["81.54"]


def read_rows(path: Path, settings: Settings, codes: frozenset[str] = CODES) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for batch in tic.read(path, ReadContext(settings=settings, codes_of_interest=codes)):
        rows.setdefault(batch.dataset, []).extend(batch.rows().to_dict(orient="records"))
    return rows


def test_uhc_ny_rates_for_0440t(settings: Settings) -> None:
    """UnitedHealthcare Insurance Company of New York, file dated 2022-09-01 (verified in the file)."""
    rows = read_rows(RAW_TIC / "uhc-ny_TEST_FILE_excerpt.json.gz", settings)[DATASET]
    cryo = [r for r in rows if r["billing_code"] == "0440T"]
    assert sorted(r["negotiated_rate_usd"] for r in cryo) == [
        Decimal("596.75"),
        Decimal("702.83"),
        Decimal("702.83"),
        Decimal("702.83"),
    ]
    assert {r["billing_class"] for r in cryo} == {"professional"}
    assert {tuple(r["service_codes"]) for r in cryo} == {("11",)}
    assert {r["negotiated_percentage"] for r in cryo} == {None}
    first = next(r for r in cryo if r["negotiated_rate_usd"] == Decimal("596.75"))
    assert first["npis"] == ["1730666900", "1114284668", "1104985373"] and first["tin_value"] == "113026610"
    assert first["provider_group_status"] == "resolved" and first["expiration_date"] == "9999-12-31"
    assert first["source_record"].endswith(
        ".negotiated_rates[0].negotiated_prices[0].provider_references[0].provider_groups[0]"
    )
    assert {r["billing_code"] for r in rows} == {"0440T", "0441T", "0442T", "64640", "64624", "64450"}


def test_healthscope_percentage_is_never_dollars(settings: Settings) -> None:
    rows = read_rows(RAW_TIC / "healthscope_examplefile2_excerpt.json.gz", settings)[DATASET]
    cryo = [r for r in rows if r["billing_code"] == "0440T"]
    assert cryo and {r["negotiated_type"] for r in cryo} == {"percentage"}
    assert {r["negotiated_percentage"] for r in cryo} == {Decimal("65.0")}
    assert {r["negotiated_rate_usd"] for r in cryo} == {None}
    assert "01" in cryo[0]["service_codes"]  # written as the number 1 in the file


def test_carefirst_has_no_cryoablation_rates_but_says_so(settings: Settings) -> None:
    rows = read_rows(RAW_TIC / "carefirst_examplefile_excerpt.json.gz", settings)
    assert not [r for r in rows.get(DATASET, []) if r["billing_code"] in ("0440T", "0441T", "0442T")]
    (summary,) = rows["tic__file"]
    assert summary["reporting_entity_name"] == "CareFirst BlueCross BlueShield"
    assert set(summary["target_codes_found"]) == {"64450", "64624", "64640"}
    statuses = {r["provider_group_status"] for r in rows[DATASET]}
    assert statuses == {"remote_unresolved"}  # v1 remote references; no local copies bundled
    assert all(r["npis"] is None and r["provider_reference_location"].startswith("https://") for r in rows[DATASET])


def test_remote_reference_is_read_from_a_local_copy(settings: Settings) -> None:
    rows = read_rows(FIX / "remote_references.json", settings)[DATASET]
    by_group = {r["provider_group_id"]: r for r in rows}
    assert by_group["3"]["provider_group_status"] == "remote_resolved"
    assert by_group["3"]["npis"] == ["1111111111", "2222222222"]
    assert by_group["4"]["provider_group_status"] == "remote_unresolved" and by_group["4"]["npis"] is None


@pytest.mark.parametrize(
    ("local_copy", "changes", "message"),
    [
        (
            b'{"provider_groups": [{"npi": [1111111111], "x": ' + b"[" * 8_000 + b"]" * 8_000 + b"}]}",
            {},
            r"group_3.json \(byte offset 1,045\): JSON nested too deeply \(more than 1,000 levels",
        ),
        (
            b'{"provider_groups": [{"npi": [1111111111], "x": "' + b"a" * (3 << 20) + b'"}]}',
            {"max_item_bytes": 1 << 20},
            r"group_3.json \(byte offset [\d,]+\): one JSON value from about uncompressed byte [\d,]+ is larger than 1 MiB",
        ),
    ],
    ids=["deep", "huge_value"],
)
def test_a_hostile_local_copy_of_a_remote_reference_is_refused(
    settings: Settings, tmp_path: Path, local_copy: bytes, changes: dict, message: str
) -> None:
    """The local copy is held to the file's limits (ijson's path strings made 8,000 levels cost ~280 MB)."""
    (tmp_path / "remote_references.json").write_bytes((FIX / "remote_references.json").read_bytes())
    (tmp_path / "group_3.json").write_bytes(local_copy)
    with pytest.raises(FileRejected, match=message):
        read_rows(tmp_path / "remote_references.json", settings.replace(**changes))


def test_reference_problems_keep_the_rate_with_null_providers(settings: Settings) -> None:
    unknown = read_rows(FIX / "unknown_provider_reference.json", settings)[DATASET]
    assert {(r["negotiated_rate_usd"], r["provider_group_status"]) for r in unknown} == {
        (Decimal("596.75"), "unknown_reference"),
        (Decimal("702.83"), "resolved"),
    }
    duplicate = read_rows(FIX / "duplicate_provider_group_id.json", settings)[DATASET]
    by_id = {r["provider_group_id"]: r for r in duplicate}  # the file defines id 0 twice and no id 1
    assert by_id["0"]["provider_group_status"] == "duplicate_reference_id" and by_id["0"]["npis"] is None
    assert by_id["1"]["provider_group_status"] == "unknown_reference"


def test_float_npis_and_ids(settings: Settings) -> None:
    (row,) = read_rows(FIX / "float_npis_and_ids.json", settings)[DATASET]
    assert row["provider_group_id"] == "690.64462" and row["npis"] == ["1730666900", "1114284668"]


def test_allowed_amounts_rows(settings: Settings) -> None:
    rows = read_rows(FIX / "allowed_amounts_target.json", settings)["tic__allowed_amount"]
    assert [(r["allowed_amount_usd"], r["billed_charge_usd"], r["npi_count"]) for r in rows] == [
        (Decimal("812.40"), Decimal("1500.00"), 1),
        (Decimal("812.40"), Decimal("1700.00"), 2),
    ]
    assert rows[0]["billing_code_modifiers"] == ["RT"] and rows[0]["service_codes"] == ["22"]


def test_table_of_contents_rows(settings: Settings) -> None:
    rows = read_rows(FIX / "cms_examples" / "v1.6.2" / "table-of-contents" / "table-of-contents-sample.json", settings)[
        "tic__toc_file"
    ]
    assert len(rows) == 2 * 3 + 1 * 2  # 2 plans x (2 in-network + 1 allowed) + 1 plan x 2 files
    assert {r["file_type"] for r in rows} == {"in_network", "allowed_amount"}
    assert rows[0]["file_location"] == "https://www.some_site.com/files/in-network-file-123456.json"


def test_billing_code_0440_is_not_0440t(settings: Settings) -> None:
    rows = read_rows(FIX / "billing_code_0440.json", settings)[DATASET]
    assert {r["billing_code"] for r in rows} == {"0440T"}  # no prefix matching
    with_bad_code = read_rows(FIX / "billing_code_0440.json", settings, CODES | {"0440"})[DATASET]
    assert {r["billing_code"] for r in with_bad_code} == {"0440", "0440T"}  # the schema then quarantines '0440'


@pytest.mark.parametrize(
    ("name", "message"),
    [
        # valid_minimal.json gzipped and cut after 352 of its 529 compressed bytes: 627 bytes decode
        (
            "truncated.json.gz",
            r"truncated.json.gz \(the data ends at compressed byte offset 352 of 352, after 627 "
            r"uncompressed bytes; the scan was reading the value that starts at uncompressed byte 189\): "
            r"the gzip stream is truncated: it ends before the gzip end-of-stream marker",
        ),
        ("truncated.json", r"truncated.json \(the stream ends at uncompressed byte 1,435\): invalid or truncated JSON"),
        ("html_error_page.json.gz", r"an HTML page, not JSON"),
        ("html_error_page_not_gzipped.json.gz", r"an HTML page, not JSON"),
    ],
)
def test_broken_files_are_rejected_saying_where(settings: Settings, name: str, message: str) -> None:
    with pytest.raises(FileRejected, match=message):
        read_rows(FIX / name, settings)


def write_gz(path: Path, *parts: bytes | tuple[bytes, int]) -> Path:
    """A .gz of `parts`; (block, n) repeats a block n times without building it in memory."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for part in parts:
            block, times = part if isinstance(part, tuple) else (part, 1)
            for _ in range(times):
                out.write(packer.compress(block))
        out.write(packer.flush())
    return path


def in_subprocess(path: Path, limits: str = "Limits()", timeout: float = 60) -> dict:
    """Extract `path` in a fresh process: outcome, seconds and peak RSS (VmHWM: ru_maxrss would be pytest's)."""
    script = textwrap.dedent(f"""
        import json, re, time
        from pathlib import Path
        from flows.sources.base import FileRejected
        from flows.engines.tic_scan import extract
        from flows.engines.tic_stream import Limits
        started = time.perf_counter()
        try:
            ex = extract(Path({str(path)!r}), frozenset(["0440T"]), limits={limits})
            out = {{"items": [i["billing_code"] for _, i in ex.items]}}
        except FileRejected as exc:
            out = {{"rejected": str(exc)}}
        out["seconds"] = time.perf_counter() - started
        out["rss_mb"] = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(done.stdout)


def test_a_gzip_bomb_is_refused_as_soon_as_it_passes_the_ratio(tmp_path: Path) -> None:
    """The issue's bomb at 1/15 scale: 200 MB of spaces after a valid prefix, 0.2 MB compressed. The ratio
    is judged against the compressed bytes read so far, so it trips just past the 64 MiB floor."""
    bomb = write_gz(tmp_path / "bomb.json.gz", PREFIX, TARGET, b",", (b" " * MB, 200), OTHER, b"]}")
    out = in_subprocess(bomb)
    assert re.search(
        r"bomb.json.gz \(compressed byte offset [\d,]+ of [\d,]+, uncompressed byte offset [\d,]+\): "
        r"decompressed to [\d,]+x the compressed bytes read so far .*limit 500x\); refused as a possible "
        r"decompression bomb; expected .*PAYERBENCH_TIC_MAX_EXPANSION",
        out["rejected"],
    ), out
    reached = int(re.search(r"uncompressed byte offset ([\d,]+)", out["rejected"]).group(1).replace(",", ""))
    assert 64 * MB < reached <= 72 * MB  # refused one chunk past the floor, not at the end of the file
    assert out["seconds"] < 5 and out["rss_mb"] < 150, out


def test_blank_space_is_let_go_as_it_streams(tmp_path: Path) -> None:
    """Runs of blank space at the top level, before the first item and between items (60 MB each) are skipped
    at memory speed in a bounded window: the file loads (ratio rule off so the blanks are really read)."""
    path = write_gz(
        tmp_path / "blank_runs.json.gz",
        b'{"reporting_entity_name": "x",',
        (b" " * MB, 60),
        b'"in_network": [',
        (b"\n" * MB, 60),
        OTHER,
        b",",
        (b"\t" * MB, 60),
        TARGET,
        b"]}",
    )
    out = in_subprocess(path, "Limits(max_expansion=1e9)")
    assert out.get("items") == ["0440T"], out
    assert out["seconds"] < 10 and out["rss_mb"] < 120, out  # was ~100 s and the whole run in memory


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            (b'{"reporting_entity_name": "x",', (b" " * MB, 3), b'"in_network": []}'),
            r"more than 2 MiB of blank space .* in a row from uncompressed byte 30; refused as a possible decompression "
            r"bomb; expected .*PAYERBENCH_MAX_ITEM_BYTES",
        ),
        (
            (b'{"reporting_entity_name": "', (b"a" * MB, 3), b'", "in_network": []}'),
            r"one JSON value .* from uncompressed byte 26 is larger than 2 MiB; refused rather than held in memory; "
            r"expected .*PAYERBENCH_MAX_ITEM_BYTES",
        ),
        (
            (PREFIX, TARGET[:-3], b', "x": "', (b"a" * MB, 3), b'"}]}'),
            r"the in_network item for a code of interest at uncompressed byte 66 is larger than 2 MiB; refused rather "
            r"than held in memory; expected .*PAYERBENCH_MAX_ITEM_BYTES",
        ),
        (
            (PREFIX, TARGET[:-3], b",", (b" " * MB, 3), b"}]}"),
            r"(more than 2 MiB of blank space|the in_network item for a code of interest at uncompressed byte 66 is larger)",
        ),
        (
            (b'{"reporting_entity_name": "x", "extra": ', b"[" * 100_000, b"]" * 100_000, b', "in_network": []}'),
            r"uncompressed byte offset 40\): JSON nested too deeply \(more than 1,000 levels",
        ),
    ],
    ids=["blank_run", "huge_header_string", "huge_target_item", "blank_inside_target", "deep_nesting"],
)
def test_values_past_the_item_limit_are_refused(settings: Settings, tmp_path: Path, parts: tuple, message: str) -> None:
    path = write_gz(tmp_path / "hostile.json.gz", *parts)
    small = settings.replace(max_item_bytes=2 * MB, tic_max_expansion=1e9)
    with pytest.raises(FileRejected, match=message):
        read_rows(path, small)


def test_the_exact_path_is_bounded_too(tmp_path: Path) -> None:
    """The ijson fallback refuses deep nesting (its prefixes cost depth squared) and values past the item limit."""
    deep = write_gz(
        tmp_path / "deep.json.gz", b'{"in_network": [', OTHER[:-1], b', "x": ', b"[" * 50_000, b"]" * 50_000, b"}]}"
    )
    with pytest.raises(FileRejected, match=r"deep.json.gz \(uncompressed byte offset [\d,]+\): JSON nested too deeply"):
        reference_extract(deep, CODES)
    big = write_gz(tmp_path / "big.json.gz", PREFIX, OTHER[:-1], b', "x": "', (b"a" * MB, 40), b'"}]}')
    with pytest.raises(FileRejected, match=r"one JSON value from about uncompressed byte [\d,]+ is larger than 16 MiB"):
        reference_extract(big, CODES, tic_stream.Limits(max_item_bytes=16 * MB, max_expansion=1e9))


def test_a_file_past_the_uncompressed_limit_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = write_gz(tmp_path / "long.json.gz", PREFIX, b",".join([OTHER] * 4000), b"]}")
    with pytest.raises(
        FileRejected,
        match=r"long.json.gz \(compressed byte offset [\d,]+ of [\d,]+, uncompressed byte "
        r"offset [\d,]+\): decompresses to more than 256 KiB .*PAYERBENCH_MAX_UNCOMPRESSED_BYTES",
    ):
        read_rows(path, settings.replace(max_uncompressed_bytes=256 * 1024))
    assert list(read_rows(path, settings)) == ["tic__file"]  # within the default limits it loads (no target item)


def test_a_single_line_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    """No newline anywhere and one 60 MB item: memory stays bounded (measured in a fresh process)."""
    path = tmp_path / "one_line.json"
    big_rate = (
        b'{"provider_references":[0],"negotiated_prices":[{"negotiated_type":"negotiated","negotiated_rate":1.5,'
        b'"expiration_date":"9999-12-31","billing_class":"institutional"}]}'
    )
    with path.open("wb") as handle:
        handle.write(b'{"reporting_entity_name":"Aetna Life Insurance Company","version":"1.0.0","in_network":[')
        handle.write(
            b'{"negotiation_arrangement":"ffs","name":"big","billing_code_type":"CPT","billing_code_type_version":"1",'
            b'"billing_code":"99213","description":"x","negotiated_rates":['
        )
        handle.write(b",".join([big_rate] * 400_000))
        handle.write(
            b']},{"negotiation_arrangement":"ffs","name":"t","billing_code_type":"CPT","billing_code_type_version":"1",'
            b'"billing_code":"0440T","description":"x","negotiated_rates":[' + big_rate + b"]}]}"
        )
    assert b"\n" not in path.read_bytes()
    script = textwrap.dedent(f"""
        import json, re
        from pathlib import Path
        from flows.engines.tic_scan import fast_extract
        ex = fast_extract(Path({str(path)!r}), frozenset(["0440T"]))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking (pytest) process
        peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
        print(json.dumps({{"items": [i["billing_code"] for _, i in ex.items], "rss_mb": peak}}))
    """)
    out = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert out["items"] == ["0440T"]
    assert out["rss_mb"] < 200, out  # the 60 MB non-target item is never held whole


def test_detect_by_content(tmp_path: Path) -> None:
    assert tic.detect(RAW_TIC / "uhc-ny_TEST_FILE_excerpt.json.gz")
    assert tic.detect(FIX / "cms_examples" / "v2.2.0" / "table-of-contents" / "table-of-contents-sample.json")
    renamed = tmp_path / "download.bin"
    renamed.write_bytes((RAW_TIC / "uhc-ny_TEST_FILE_excerpt.json.gz").read_bytes())
    assert tic.detect(renamed)
    assert not tic.detect(FIX / "html_error_page.json.gz")
    assert not tic.detect(BUNDLED_RAW / "reference" / "payer_aliases.csv")


def test_full_real_files_fast_equals_exact(real_samples: Path) -> None:
    for path in sorted((real_samples / "tic-payer-in-network-files").rglob("*.json.gz")):
        same(fast_extract(path, CODES), reference_extract(path, CODES))
