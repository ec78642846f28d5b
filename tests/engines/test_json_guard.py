"""json_guard: items as ijson gives them, with nesting, item and size limits judged on the bytes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import ijson
import pytest

from flows.engines import json_guard
from flows.engines.json_guard import DepthScanner, GuardedJson
from flows.engines.tic_stream import Limits
from flows.sources.base import FileRejected
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
KB, MB = 1024, 1024 * 1024
# Brackets and quotes inside strings, escaped quotes, backslash runs before a closing quote, unicode escapes.
TRICKY = (
    b'{"a\\"[{": "]]]}}", "list": [{"s": "x\\\\", "t": "\\\\\\"[[[", "u": "\\u005b\\"]"}, [[1, 2.50]], '
    b'{"deep": [[{"k": ["\\\\\\\\"]}]]}, "caf\xc3\xa9 {", -0.0, 1e400, true, null], "b": {"c": [[]]}}'
)


def guarded(data: bytes, limits: Limits | None = None) -> GuardedJson:
    return GuardedJson(io.BytesIO(data), Path("t.json"), limits or Limits(), "a good file")


def reference_offset(data: bytes, max_depth: int) -> int | None:
    """Byte offset of the first bracket past `max_depth`, by walking the bytes one at a time (the oracle)."""
    depth, in_string, escaped = 0, False, False
    for i, byte in enumerate(data):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > max_depth:
                return i
        elif byte in b"]}":
            depth -= 1
    return None


@pytest.mark.parametrize(
    ("data", "prefix"),
    [
        ((FIXTURES / "hospital__standard_charge" / "valid_v3.json").read_bytes(), "standard_charge_information.item"),
        (
            (FIXTURES / "hospital__standard_charge" / "metadata_after_charges.json").read_bytes(),
            "standard_charge_information.item",
        ),
        ((FIXTURES / "payer__policy" / "valid_wrapped.json").read_bytes(), "policies.item"),
        (TRICKY, "list.item"),
        (b"[" + b",".join([b'{"n": 1.10, "s": "' + b"x" * 300 + b'"}'] * 2000) + b"]", "item"),  # many read chunks
    ],
)
def test_items_are_those_ijson_gives(data: bytes, prefix: str) -> None:
    ours = list(json_guard.items(guarded(data), prefix))
    assert ours == list(ijson.items(io.BytesIO(data), prefix, use_float=False))
    assert ours  # the documents do hold items at these prefixes


@pytest.mark.parametrize("max_depth", [1, 2, 3, 4, 5, 6, 7])
def test_the_depth_scan_agrees_with_a_byte_walk_wherever_the_chunks_split(max_depth: int) -> None:
    expected = reference_offset(TRICKY, max_depth)
    for cut in range(1, len(TRICKY)):
        for second in (cut + 1, cut + 3):  # three pieces: runs of backslashes split across reads
            scanner = DepthScanner(max_depth)
            found = None
            for piece in (TRICKY[:cut], TRICKY[cut:second], TRICKY[second:]):
                found = scanner.feed(piece)
                if found is not None:
                    break
            assert found == expected, (max_depth, cut, second)
    assert reference_offset(TRICKY, 7) is None and reference_offset(TRICKY, 6) is not None
    assert depth_of(json.loads(TRICKY)) == 7  # the oracle agrees with a real parser


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def nested(levels: int) -> bytes:
    """An object holding one array whose only item nests so that the document is `levels` deep."""
    return b'{"a": [' + b"[" * (levels - 2) + b"]" * (levels - 2) + b"]}"


def test_1000_levels_pass_and_1001_are_refused_where_the_1001st_begins() -> None:
    (item,) = json_guard.items(guarded(nested(1000)), "a.item")
    depth = 0
    while isinstance(item, list):
        item, depth = (item[0] if item else None), depth + 1
    assert depth == 998
    with pytest.raises(
        FileRejected,
        match=r"^t.json \(byte offset 1,005\): JSON nested too deeply \(more than 1,000 "
        r"levels of \[ or \{\); refused as malformed or hostile; expected a good file$",
    ):
        list(json_guard.items(guarded(nested(1001)), "a.item"))


def test_an_item_past_the_item_limit_is_refused_and_many_small_ones_are_not() -> None:
    limits = Limits(max_item_bytes=256 * KB)
    small = b'{"s": "' + b"x" * 1000 + b'"}'
    many = b'{"a": [' + b",".join([small] * 3000) + b"]}"  # 3 MB in all, every item far under the limit
    assert len(list(json_guard.items(guarded(many, limits), "a.item"))) == 3000
    big = b'{"a": [' + small + b', {"s": "' + b"y" * MB + b'"}, ' + small + b"]}"
    with pytest.raises(
        FileRejected,
        match=r"^t.json \(byte offset [\d,]+\): one JSON value from about byte [\d,]+ is "
        r"larger than 256 KiB; refused rather than held in memory; expected a good "
        r"file, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine$",
    ) as caught:
        list(json_guard.items(guarded(big, limits), "a.item"))
    start = int(caught.value.problem.split("about byte ")[1].split()[0].replace(",", ""))
    assert start <= big.index(b', {"s": "y') < start + 64 * KB + 1  # where the held value began, to within one read


def test_a_string_past_16_mib_is_refused_in_about_a_second_whatever_the_item_limit() -> None:
    """yajl re-reads a string that spans its buffers (256 MB: ~160 s), so strings stop at 16 MiB. Timed in CPU
    seconds of this process (the parse runs in it): a wall clock on a loaded 2-core machine measured 6.7 s."""
    data = b'{"a": [{"ok": "' + b"x" * (15 * MB) + b'"}, {"x": "' + b"a" * (17 * MB) + b'"}]}'
    started = time.process_time()
    with pytest.raises(
        FileRejected,
        match=r"^t.json \(byte offset [\d,]+\): a JSON string from byte 15,728,665 is "
        r"longer than 16 MiB; refused rather than held in memory; expected a good "
        r"file \(no text field that long\)$",
    ):
        list(json_guard.items(guarded(data), "a.item"))
    assert time.process_time() - started < 5


def test_a_file_past_the_size_limit_is_refused() -> None:
    data = nested(10)
    with pytest.raises(
        FileRejected,
        match=r"holds more than 20 bytes \(25 bytes read so far\); refused before reading "
        r"on; expected a smaller file, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES",
    ):
        list(json_guard.items(guarded(data, Limits(max_uncompressed_bytes=20)), "a.item"))


def test_the_event_walkers_refuse_deep_nesting() -> None:
    """A top-level value nesting 1,001 levels deep itself (the document: 1,002)."""
    events = ijson.basic_parse(io.BytesIO(nested(1002)))
    assert [key for key, _, _ in json_guard.top_level(iter([("start_map", None), ("end_map", None)]))] == []
    with pytest.raises(json_guard.NestedTooDeep):
        for _key, event, value in json_guard.top_level(events):
            json_guard.build_value(events, event, value)
    events = ijson.basic_parse(io.BytesIO(nested(1002)))
    with pytest.raises(RecursionError):  # TiC's exact path catches it as a RecursionError
        for _key, _event, _value in json_guard.top_level(events):
            json_guard.skip_container(events)


MEMORY_CHILD = textwrap.dedent("""
    import json, re, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))  # the code before the fix needs ~100 GB here
    from pathlib import Path
    from flows.settings import Settings
    from flows.sources.base import FileRejected, ReadContext
    from flows.sources.hospital_mrf import read_file

    def peak():
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

    settings = Settings().replace(max_item_bytes=int(sys.argv[2]))
    list(read_file(Path(sys.argv[3]), ReadContext(settings=settings)))  # warm: imports, pandas, a small file
    before = peak()
    try:
        batches = list(read_file(Path(sys.argv[1]), ReadContext(settings=settings)))
        outcome = f"loaded {sum(len(b.frame) for b in batches)} rows"
    except FileRejected as exc:
        outcome = "REFUSED " + str(exc)
    except BaseException as exc:
        outcome = f"CRASHED {type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": outcome, "growth_mb": peak() - before}))
""")


@pytest.mark.parametrize(
    ("name", "middle", "item_limit", "outcome"),
    [
        (
            "deep",
            (b"[", 200_000, b"]", 200_000),
            256 * MB,
            "REFUSED deep.json (byte offset 1,745): JSON nested too deeply",
        ),
        ("blank", (b" ", 60 * MB, b"1", 1), 256 * MB, "loaded"),  # blank space is streamed, never held
        ("string", (b'"', 1, b"a" * 40 * MB + b'"', 1), 8 * MB, "REFUSED string.json (byte offset"),
    ],
)
def test_hostile_hospital_json_is_handled_in_flat_memory(
    tmp_path: Path, name: str, middle: tuple, item_limit: int, outcome: str
) -> None:
    """200,000 levels of `[`, 60 MB of blank space inside an item, a 40 MB string: memory stays flat."""
    valid = (FIXTURES / "hospital__standard_charge" / "valid_v3.json").read_bytes()
    anchor = b'"description": "Office visit (unrelated item)"'
    opening, n_open, closing, n_close = middle
    path = tmp_path / f"{name}.json"
    path.write_bytes(valid.replace(anchor, anchor + b', "x": ' + opening * n_open + closing * n_close))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_CHILD,
            str(path),
            str(item_limit),
            str(FIXTURES / "hospital__standard_charge" / "valid_v3.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"stderr": out.stderr[-2000:]}
    assert result.get("outcome", "").startswith(outcome), result
    assert result["growth_mb"] < 50, result
