"""Payer policy pages watched for change, against a loopback mirror (tests/fetch/server.py).

Everything here is SYNTHETIC: the extract (`synthetic_policy_extract.csv`), an HTML page shaped like an
Anthem/Elevance medical policy (header with Publish / Last Review Date, Position Statement, Coding table) and a
one-page PDF shaped like a Cigna coverage policy, each in two versions whose stance changes from
"investigational and not medically necessary" to "medically necessary when criteria are met". The wording
imitates the real pages' layout; the stances are invented for the test, not facts about any payer.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from flows import catalog
from flows.fetch import policy_pages
from flows.fetch.run import run_fetch
from flows.settings import Settings
from flows.sources import payer_policy as extract_adapter
from flows.sources.base import ReadContext
from flows.steps import warehouse
from flows.steps.validate import DatasetValidator
from schemas.payer_policy import PayerPolicy
from tests import cms_loading
from tests.fetch.server import MirrorServer, Status

HTML_URL = "https://providers.anthem.example/dam/medpolicies/abc/active/policies/mp_pw_e000359.html"
PDF_URL = "https://static.cigna.example/assets/chcp/pdf/coveragePolicies/medical/mm_0525_coveragepositioncriteria.pdf"
OTHER_HOST_URL = "https://www.aetna.example/cpb/medical/data/200_299/0297.html"
HEADER = ",".join(extract_adapter.FILE_COLUMNS)
EXTRACT = f"""{HEADER}
Anthem,commercial,SURG.00155,Cryoneurolysis,{HTML_URL},0440T,CPT,experimental_investigational,unknown,,2024-05-09,2026-01-05,"considered investigational",verified,synthetic row
Anthem,commercial,SURG.00155,Cryoneurolysis,{HTML_URL},0441T,CPT,experimental_investigational,unknown,,2024-05-09,2026-01-05,,inferred,synthetic row
Cigna,commercial,0525,Peripheral Nerve Destruction for Pain Conditions,{PDF_URL},0440T,CPT,experimental_investigational,unknown,2020-02-15,,2026-01-05,,verified,synthetic row
Aetna,commercial,,,,0440T,CPT,no_policy_found,unknown,,,2026-01-05,,not_found,synthetic: no URL: not watched
"""
OLD_STANCE = "Cryoneurolysis is considered investigational and not medically necessary for all indications."
NEW_STANCE = "Cryoneurolysis is considered medically necessary when the criteria below are met."
DAY1 = dt.datetime(2026, 1, 5, 6, 0, 0, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 1, 12, 6, 0, 0, tzinfo=dt.UTC)
DAY3 = dt.datetime(2026, 2, 2, 6, 0, 0, tzinfo=dt.UTC)


def anthem_html(stance: str, reviewed: str, *, script: str = "var v = 1;", menu: str = "Home | Providers") -> str:
    return f"""<!DOCTYPE html><html><head><title>Cryoneurolysis - Medical Policy</title>
<script>{script}</script><style>body {{ font: 12px Arial }}</style></head>
<body><header role="banner">Anthem Provider Portal</header><nav><a href="/">{menu}</a></nav>
<main><h1>Medical Policy</h1>
<table><tr><td>Subject:</td><td>Cryoneurolysis</td></tr>
<tr><td>Document #:</td><td>SURG.00155</td><td>Publish Date:</td><td>06/28/2024</td></tr>
<tr><td>Status:</td><td>Revised</td><td>Last Review Date:</td><td>{reviewed}</td></tr></table>
<h2>Description/Scope</h2><p>This document addresses cryoneurolysis, the destruction of peripheral nerves by
   extreme cold.</p>
<h2>Position Statement</h2><p><b>Investigational and Not Medically Necessary:</b></p>
<p>{stance}</p>
<h2>Coding</h2><p>The following codes for treatments and procedures applicable to this document are included
below for informational purposes.</p>
<table><tr><th>CPT</th><th></th></tr>
<tr><td>0440T</td><td>Ablation, percutaneous, cryoablation, includes imaging guidance; upper extremity distal/peripheral nerve</td></tr>
<tr><td>0441T</td><td>Ablation, percutaneous, cryoablation, includes imaging guidance; lower extremity distal/peripheral nerve</td></tr>
</table></main><footer>Copyright 2026</footer></body></html>"""


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF (Helvetica, one text line per entry), written by hand: xref offsets and all."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 10 Tf 14 TL 50 760 Td " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def cigna_pdf(stance: str, effective: str) -> bytes:
    return minimal_pdf(
        [
            "Medical Coverage Policy: 0525",
            f"Effective Date {effective} Next Review Date 2/15/2027",
            "Peripheral Nerve Destruction for Pain Conditions",
            f"Cryoablation of peripheral nerves (0440T) {stance}",
            "Coding/Billing Information",
            "0440T Ablation, percutaneous, cryoablation, upper extremity distal/peripheral nerve",
        ]
    )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The synthetic extract in raw/payer_policy/, both pages (version 1) on a loopback mirror."""
    extract = tmp_path / "raw" / "payer_policy" / "synthetic_policy_extract.csv"
    extract.parent.mkdir(parents=True)
    extract.write_text(EXTRACT, encoding="utf-8")
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(HTML_URL, anthem_html(OLD_STANCE, "05/09/2024"))
        server.put(PDF_URL, cigna_pdf("is considered experimental, investigational or unproven.", "2/15/2020"))
        settings = Settings(
            raw_dir=tmp_path / "raw",
            warehouse_dir=tmp_path / "warehouse",
            chunk_rows=1000,
            mirror=server.url,
            fetch_interval=0,
            policy_fetch_interval=0,
        )
        yield settings, server, monkeypatch


def fetch(settings: Settings, monkeypatch: pytest.MonkeyPatch, when: dt.datetime, fetch_id: str):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(policy_pages, "now", lambda: when)
    sources = [catalog.get("payer_policy"), catalog.get("payer_policy_snapshot")]
    (result,) = run_fetch(settings, sources, fetch_id)  # one shared step: run once for both entries
    assert result.error is None, result.error
    assert result.sources == ("payer_policy", "payer_policy_snapshot")
    return {row.url: row for row in result.rows}


def snapshot_files(settings: Settings) -> list[str]:
    folder = settings.raw_dir / "payer_policy_snapshot" / "fetched"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_first_fetch_snapshots_each_page_with_its_dates_codes_and_stance(world) -> None:  # type: ignore[no-untyped-def]
    settings, _, monkeypatch = world
    rows = fetch(settings, monkeypatch, DAY1, "f1")
    assert {u: (r.outcome, r.http_status, r.release) for u, r in rows.items()} == {
        HTML_URL: ("downloaded", 200, "2024-05-09"),
        PDF_URL: ("downloaded", 200, None),
    }
    assert snapshot_files(settings) == [
        "anthem/surg-00155/2026-01-05T060000Z.json",
        "cigna/0525/2026-01-05T060000Z.json",
    ]
    html = json.loads((settings.raw_dir / rows[HTML_URL].landed_path).read_text())  # type: ignore[operator]
    snap = html["snapshot"]
    assert html["change"] is None
    assert (snap["content_type"], snap["last_reviewed_date"], snap["published_date"]) == (
        "html",
        "2024-05-09",
        "2024-06-28",
    )
    assert (snap["codes_checked"], snap["codes_listed"]) == ("0440T,0441T", "0440T,0441T")
    assert snap["stance"] == "experimental_investigational"
    assert snap["stance_sentences"] == OLD_STANCE
    assert snap["text_sha256"] == rows[HTML_URL].sha256
    assert "Anthem Provider Portal" not in html["text"] and "var v" not in html["text"]  # chrome and scripts gone
    pdf = json.loads((settings.raw_dir / rows[PDF_URL].landed_path).read_text())["snapshot"]  # type: ignore[operator]
    assert (pdf["content_type"], pdf["effective_date"], pdf["last_reviewed_date"]) == ("pdf", "2020-02-15", None)
    assert (pdf["codes_listed"], pdf["stance"]) == ("0440T", "experimental_investigational")
    assert not (settings.raw_dir / policy_pages.DRAFTS).exists()


def test_an_unchanged_page_lands_nothing_whether_304_or_same_text(world) -> None:  # type: ignore[no-untyped-def]
    settings, server, monkeypatch = world
    fetch(settings, monkeypatch, DAY1, "f1")
    rows = fetch(settings, monkeypatch, DAY2, "f2")
    assert {r.outcome for r in rows.values()} == {"not_modified"}
    assert server.seen(HTML_URL)[-1].headers.get("if-none-match")  # asked conditionally
    # a new ETag, and only the site chrome and scripts differ: the normalised text is the same
    server.put(HTML_URL, anthem_html(OLD_STANCE, "05/09/2024", script="var v = 2;", menu="Home | Members"))
    rows = fetch(settings, monkeypatch, DAY2, "f3")
    assert rows[HTML_URL].outcome == "unchanged", rows[HTML_URL].message
    assert rows[HTML_URL].landed_path == "payer_policy_snapshot/fetched/anthem/surg-00155/2026-01-05T060000Z.json"
    assert len(snapshot_files(settings)) == 2
    assert policy_pages.policy_changes(settings) == []


def change_both(settings: Settings, server: MirrorServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fetch(settings, monkeypatch, DAY1, "f1")
    server.put(HTML_URL, anthem_html(NEW_STANCE, "01/08/2026"))
    server.put(PDF_URL, cigna_pdf("is considered medically necessary when criteria are met.", "1/1/2026"))
    return fetch(settings, monkeypatch, DAY3, "f2")


def test_a_changed_page_gives_a_snapshot_a_change_with_its_diff_and_a_draft_extract_row(world) -> None:  # type: ignore[no-untyped-def]
    settings, server, monkeypatch = world
    rows = change_both(settings, server, monkeypatch)
    assert {u: r.outcome for u, r in rows.items()} == {HTML_URL: "downloaded", PDF_URL: "downloaded"}
    assert rows[HTML_URL].message.startswith("CHANGED: stance experimental_investigational -> covered_with_criteria")
    assert len(snapshot_files(settings)) == 4
    data = json.loads((settings.raw_dir / rows[HTML_URL].landed_path).read_text())  # type: ignore[operator]
    change = data["change"]
    assert (change["previous_stance"], change["new_stance"], change["stance_changed"]) == (
        "experimental_investigational", "covered_with_criteria", True,
    )  # fmt: skip
    assert change["previous_fetched_at"] == "2026-01-05T06:00:00+00:00"
    assert data["snapshot"]["previous_sha256"] == change["previous_sha256"] != change["new_sha256"]
    diff = change["diff"].splitlines()
    assert f"-sentence: {OLD_STANCE}" in diff and f"+sentence: {NEW_STANCE}" in diff
    assert "-last reviewed date: 2024-05-09" in diff and "+last reviewed date: 2026-01-08" in diff
    assert "-stance: experimental_investigational" in diff and "+stance: covered_with_criteria" in diff
    assert not any("Description" in line or "Coding" in line for line in diff)  # relevant passages only
    # the draft: the extract's layout, outside every source folder, rows that pass the extract's schema
    draft = settings.raw_dir / "payer_policy_drafts" / "2026-02-02_draft.csv"
    assert change["draft_path"] == "payer_policy_drafts/2026-02-02_draft.csv"
    with draft.open(encoding="utf-8") as handle:
        drafted = list(csv.DictReader(handle))
    assert list(drafted[0]) == extract_adapter.FILE_COLUMNS
    assert [(r["payer_name"], r["billing_code"], r["coverage_status"], r["last_reviewed_date"]) for r in drafted] == [
        ("Anthem", "0440T", "covered_with_criteria", "2026-01-08"),
        ("Anthem", "0441T", "covered_with_criteria", "2026-01-08"),
        ("Cigna", "0440T", "covered_with_criteria", ""),
    ]
    assert drafted[2]["effective_date"] == "2026-01-01" and drafted[0]["retrieved_date"] == "2026-02-02"
    assert drafted[0]["notes"].startswith("DRAFT from fetch f2") and drafted[0]["notes"].endswith(
        "| was: synthetic row"
    )
    assert drafted[0]["evidence"] == NEW_STANCE
    (batch,) = extract_adapter.read(draft, ReadContext(settings))
    frame = batch.frame.assign(payer_group=None)  # the loader resolves it from the payer reference table
    assert DatasetValidator(PayerPolicy).check(frame, draft).failures.empty
    # the extract is untouched, and the drafts are not among its files
    from flows.ingest import discover

    extract = settings.raw_dir / "payer_policy" / "synthetic_policy_extract.csv"
    assert extract.read_text(encoding="utf-8") == EXTRACT
    assert discover(settings, catalog.get("payer_policy")) == [extract]


def test_status_lines_name_each_change_and_its_draft(world) -> None:  # type: ignore[no-untyped-def]
    settings, server, monkeypatch = world
    change_both(settings, server, monkeypatch)
    lines = policy_pages.policy_changes(settings, since=DAY2)
    assert lines == [
        f"policy change 2026-02-02: Anthem SURG.00155 {HTML_URL}: stance experimental_investigational -> "
        "covered_with_criteria; draft rows in raw/payer_policy_drafts/2026-02-02_draft.csv",
        f"policy change 2026-02-02: Cigna 0525 {PDF_URL}: stance experimental_investigational -> "
        "covered_with_criteria; draft rows in raw/payer_policy_drafts/2026-02-02_draft.csv",
    ]
    assert policy_pages.policy_changes(settings, since=DAY3 + dt.timedelta(seconds=1)) == []


def test_snapshots_and_changes_load_through_the_real_loader_and_answer_as_of(world) -> None:  # type: ignore[no-untyped-def]
    settings, server, monkeypatch = world
    change_both(settings, server, monkeypatch)
    folder = settings.raw_dir / "payer_policy_snapshot" / "fetched"
    for path in sorted(folder.rglob("*.json")):
        record = cms_loading.load(settings, "payer_policy_snapshot", path)
        assert record.status == "loaded", record
    snapshots = cms_loading.rows(settings, "payer__policy_snapshot")
    changes = cms_loading.rows(settings, "payer__policy_change")
    assert len(snapshots) == 4 and len(changes) == 2
    assert sorted(changes["new_stance"]) == ["covered_with_criteria", "covered_with_criteria"]
    assert cms_loading.quarantine(settings).empty
    warehouse.build(settings, catalog.SCHEMAS)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        sql = "select url, stance, last_reviewed_date::varchar, codes_listed_list from stg_payer_policy_snapshot"
        latest = {r[0]: r[1:] for r in con.execute(sql).fetchall()}
        con.execute("SET VARIABLE as_of = DATE '2026-01-20'")
        earlier = {r[0]: r[1:] for r in con.execute(sql).fetchall()}
        changed = con.execute("select count(*) from stg_payer_policy_change").fetchone()
        con.execute("SET VARIABLE as_of = DATE '2026-01-04'")
        before = con.execute("select count(*) from stg_payer_policy_snapshot").fetchone()
    finally:
        con.close()
    assert latest[HTML_URL] == ("covered_with_criteria", "2026-01-08", ["0440T", "0441T"])
    assert earlier[HTML_URL] == ("experimental_investigational", "2024-05-09", ["0440T", "0441T"])
    assert earlier[PDF_URL][0] == "experimental_investigational"
    assert changed == (0,) and before == (0,)


def test_a_missing_page_or_a_broken_pdf_is_a_row_not_a_crash(world) -> None:  # type: ignore[no-untyped-def]
    settings, server, monkeypatch = world
    server.script(HTML_URL, Status(404, body=b"gone"))
    server.put(PDF_URL, b"%PDF-1.4\nthis is not really a pdf")
    rows = fetch(settings, monkeypatch, DAY1, "f1")
    assert (rows[HTML_URL].outcome, rows[HTML_URL].http_status) == ("failed", 404)
    assert rows[PDF_URL].outcome == "refused" and PDF_URL in rows[PDF_URL].message
    assert snapshot_files(settings) == []


def test_policy_pages_of_one_host_are_asked_policy_fetch_interval_apart(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = [100.0]
    waits: list[float] = []
    monkeypatch.setattr(policy_pages.time, "monotonic", lambda: clock[0])

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(policy_pages.time, "sleep", sleep)
    gate = policy_pages._Gate(5.0)
    gate.wait("www.aetna.example")
    gate.wait("static.cigna.example")  # another host: no wait
    clock[0] += 1.5
    gate.wait("www.aetna.example")  # 1.5 s after the first Aetna page: wait the other 3.5 s
    assert waits == [3.5]


def test_stance_sentences_and_dates_are_read_in_the_common_phrasings() -> None:
    text = policy_pages.normalise(
        "Effective Date: March 1, 2025\u00a0 Last Reviewed: 2025-02-10\nNext Review Date: 02/10/2026\n"
        "Aetna considers cryoanalgesia medically necessary for trigeminal neuralgia. Other text here.\n"
        "CPT 0442T is not covered. Cryoneurolysis for knee pain is experimental and investigational."
    )
    reading = policy_pages.analyse(text, "text", ["0440T", "0442T"])
    assert reading.dates == {"last_reviewed_date": "2025-02-10", "effective_date": "2025-03-01", "published_date": None}
    assert reading.codes_listed == ("0442T",)
    assert [policy_pages.classify(s) for s in reading.sentences] == [
        "covered",
        "not_covered",
        "experimental_investigational",
    ]
    assert reading.stance == "covered;experimental_investigational;not_covered"
