"""The fetch manifest: appended, read back, and consulted for the next request."""

from __future__ import annotations

from pathlib import Path

from flows.fetch import manifest
from flows.fetch.manifest import Manifest, ManifestRow


def row(**changes: object) -> ManifestRow:
    values: dict[str, object] = {
        "fetch_id": "f1",
        "source": "cms_mcd",
        "logical_key": "cms_mcd:current_article.zip",
        "release": None,
        "url": "https://downloads.cms.gov/medicare-coverage-database/downloads/exports/current_article.zip",
        "outcome": "downloaded",
    }
    values.update(changes)
    return ManifestRow(**values)  # type: ignore[arg-type]


def test_rows_round_trip_with_their_types(tmp_path: Path) -> None:
    first = row(http_status=200, etag='"abc"', content_length=10, bytes_received=10, sha256="a" * 64,
                license_acknowledged=True, message='a "quoted", comma')  # fmt: skip
    second = row(fetch_id="f2", outcome="not_modified", http_status=304)
    manifest.append(tmp_path, [first])
    manifest.append(tmp_path, [second])
    back = manifest.read(tmp_path)
    assert back == [first, second]
    assert manifest.manifest_path(tmp_path).read_text(encoding="utf-8").count("fetch_id") == 1  # one header


def test_nothing_fetched_reads_as_no_rows(tmp_path: Path) -> None:
    assert manifest.read(tmp_path) == []
    manifest.append(tmp_path, [])
    assert not manifest.manifest_path(tmp_path).exists()


def test_lookups_take_the_newest_row_that_answers() -> None:
    rows = [
        row(fetch_id="f1", http_status=200, sha256="1" * 64),
        row(fetch_id="f2", outcome="reissued", http_status=200, sha256="2" * 64),
        row(fetch_id="f3", outcome="failed", http_status=503),
    ]
    found = Manifest(rows)
    assert found.last_for_url(rows[0].url) is rows[1]  # the 503 gave no validators
    assert found.last_landed("cms_mcd:current_article.zip") is rows[1]
    assert found.known_sha256s("cms_mcd:current_article.zip") == {"1" * 64, "2" * 64}
    assert found.last_landed("cms_mcd:current_lcd.zip") is None
