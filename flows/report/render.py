"""The benchmark report: run notebooks/benchmark_report.ipynb headless, export HTML and Markdown.

`render_report` executes the notebook (`execute.py`: in this process by default, or in a Jupyter kernel;
parameters: billing code, as-of date, payer groups), then converts the executed notebook, without its code, into
`reports/<code>_benchmark.html` (one self-contained file: figures are embedded, no external
scripts or styles) and `reports/<code>_benchmark.md` (figures beside it in `<code>_benchmark_files/`).
The notebook reads the warehouse only through `ReportData`, whose queries live in
warehouse/sql/report/*.sql; every number it prints comes from one of them.

`render_report_if_changed` (what a scheduled run uses) first runs those queries and hashes their
results together with the report's code (notebook, wording, SQL) and parameters; when the hash
equals the one stored beside the report at its last rendering and both files exist, the report
is left as it is: no mart behind it changed. Before that, a cheaper key (the warehouse build's
recorded inputs, the report's code, parameters and as-of day) skips the queries altogether when
nothing they read can have changed since the last check.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flows.report.data import ReportContext, ReportData, report_codes
from flows.report.page import CONTENT_SECURITY_POLICY, MARKDOWN_TEMPLATE, page  # noqa: F401 (policy re-exported)
from flows.settings import Settings, from_env
from flows.steps.store import write_file_atomic
from schemas.fields import BILLING_CODE_RE

if TYPE_CHECKING:
    import nbformat
    from nbconvert import HTMLExporter, MarkdownExporter

NOTEBOOK = "benchmark_report.ipynb"
PACKAGE_DIR = Path(__file__).resolve().parent
"""flows/report/: every file in it is part of the report's code (see `code_files`)."""


@dataclass
class ReportResult:
    billing_code: str
    html: Path
    markdown: Path
    seconds: float
    rendered: bool = True  # False: its data had not changed since it was last rendered, so it was kept


def _describe_images(nb: nbformat.NotebookNode, code: str) -> None:
    """Alternative text on every figure (screen readers; nbconvert warns about images without it)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg", "image/svg+xml"):
                if mime in output.get("data", {}):
                    meta = output.setdefault("metadata", {}).setdefault(mime, {})
                    meta.setdefault(
                        "alt",
                        f"{code}: each negotiated dollar rate by payer group and setting, with the "
                        "Medicare national rates as reference lines (the same rates are in the table "
                        "of this section)",
                    )


def render_report(
    settings: Settings,
    billing_code: str,
    *,
    as_of: dt.date | None = None,
    payers: list[str] | None = None,
    out_dir: Path | None = None,
    include_synthetic: bool = False,
) -> ReportResult:
    """Execute the report notebook for one code and write its HTML and Markdown (and the data-availability CSV);
    `include_synthetic` shows synthetic demonstration rows inline, marked, instead of only in the appendix."""
    from flows.report import execute

    started = time.perf_counter()
    code = billing_code.strip().upper()
    if not BILLING_CODE_RE.match(code):  # the code names the output files: never a path
        raise ValueError(f"{code!r} is not a CPT/HCPCS code (e.g. 0440T)")
    out_dir = Path(out_dir or settings.reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = settings.project_dir / "notebooks" / NOTEBOOK
    _fingerprint_file(out_dir, code).unlink(missing_ok=True)  # what is rendered now may differ (e.g. its as-of)
    nb = execute.run_notebook(
        notebook,
        {
            "billing_code": code,
            "as_of_date": (as_of or dt.date.today()).isoformat(),
            "payers": payers,
            "warehouse_dir": str(settings.warehouse_dir),
            "project_dir": str(settings.project_dir),
            "include_synthetic": include_synthetic,
            "reports_dir": str(out_dir),
        },
        kernel=settings.report_kernel,
        cwd=settings.project_dir,
    )
    _describe_images(nb, code)
    html_exporter, md_exporter = _exporters()
    body, _ = html_exporter.from_notebook_node(nb)
    html_path = out_dir / f"{code}_benchmark.html"
    write_file_atomic(html_path, page(code, body))  # each output renamed into place: never seen half-written
    files_dir = f"{code}_benchmark_files"
    markdown, resources = md_exporter.from_notebook_node(nb, resources={"output_files_dir": files_dir})
    md_path = out_dir / f"{code}_benchmark.md"
    write_file_atomic(md_path, markdown)
    for name, data in (resources.get("outputs") or {}).items():
        write_file_atomic(out_dir / name, data)
    return ReportResult(code, html_path, md_path, time.perf_counter() - started)


@functools.cache
def _exporters() -> tuple[HTMLExporter, MarkdownExporter]:
    """The HTML and Markdown exporters, made once per process (each loads its templates: a report for every
    target code pays it once). An exporter keeps no state from one notebook to the next. The notebook is
    validated once, after all of an exporter's preprocessors, not after each (about ten schema checks)."""
    from nbconvert import HTMLExporter, MarkdownExporter

    options = {"exclude_input": True, "exclude_input_prompt": True, "exclude_output_prompt": True}
    options["optimistic_validation"] = True
    return HTMLExporter(template_name="basic", **options), MarkdownExporter(**MARKDOWN_TEMPLATE, **options)


def fingerprint(
    settings: Settings, billing_code: str, *, as_of: dt.date | None = None, payers: list[str] | None = None
) -> str:
    """sha256 of everything a report shows: its queries' results, its code and its parameters.

    The as-of date is not in it: a later day whose queries return the same rows gives the same report.
    """
    digest = _code_digest(settings)
    digest.update(json.dumps(sorted(payers) if payers else None).encode())
    data = ReportData(settings, billing_code, as_of)
    try:
        context = ReportContext.load(data, payers)
    finally:
        data.close()
    for name in sorted(context.frames):
        frame = context.frames[name]
        digest.update(
            name.encode()
            + b"\0"
            + frame.to_json(orient="split", date_format="iso", default_handler=str, index=False).encode()
            + b"\0"
        )
    return digest.hexdigest()


def code_files(settings: Settings) -> dict[str, Path]:
    """Every file the report's code is, by its place in the project: the notebook, each file of this package
    (flows/report/) and each file of its SQL (warehouse/sql/report/), whatever their names, so a module added,
    split or edited changes the key."""
    files = {f"notebooks/{NOTEBOOK}": settings.project_dir / "notebooks" / NOTEBOOK}
    for label, folder in (("flows/report", PACKAGE_DIR), ("warehouse/sql/report", settings.sql_dir / "report")):
        for path in sorted(folder.rglob("*")):
            inside = path.relative_to(folder)
            if path.is_file() and "__pycache__" not in inside.parts:
                files[f"{label}/{inside.as_posix()}"] = path
    return files


def _code_digest(settings: Settings) -> hashlib._Hash:
    """sha256 begun over the report's code (`code_files`: notebook, package, SQL), each file with its name."""
    digest = hashlib.sha256()
    for name, path in code_files(settings).items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest


def _fingerprint_file(out_dir: Path, code: str) -> Path:
    return out_dir / f".{code}_benchmark.fingerprint"


def render_report_if_changed(
    settings: Settings,
    billing_code: str,
    *,
    as_of: dt.date | None = None,
    payers: list[str] | None = None,
    out_dir: Path | None = None,
    include_synthetic: bool = False,
) -> ReportResult:
    """Render the report unless its data and code are what they were at its last rendering
    (a missing HTML or Markdown file is always rendered)."""
    started = time.perf_counter()
    code = billing_code.strip().upper()
    if not BILLING_CODE_RE.match(code):  # the code names the output files: never a path
        raise ValueError(f"{code!r} is not a CPT/HCPCS code (e.g. 0440T)")
    out_dir = Path(out_dir or settings.reports_dir)
    html_path, md_path = out_dir / f"{code}_benchmark.html", out_dir / f"{code}_benchmark.md"
    stored = _fingerprint_file(out_dir, code)
    try:
        before = json.loads(stored.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = {}
    present = html_path.exists() and md_path.exists()
    key = inputs_key(settings, code, as_of=as_of, payers=payers) + ("+synthetic" if include_synthetic else "")
    if present and before.get("inputs") == key:  # same warehouse build, code, parameters and day: nothing to ask
        return ReportResult(code, html_path, md_path, time.perf_counter() - started, rendered=False)
    now = fingerprint(settings, code, as_of=as_of, payers=payers) + ("+synthetic" if include_synthetic else "")
    if present and before.get("fingerprint") == now:
        write_file_atomic(stored, json.dumps({**before, "inputs": key}))
        return ReportResult(code, html_path, md_path, time.perf_counter() - started, rendered=False)
    result = render_report(
        settings, code, as_of=as_of, payers=payers, out_dir=out_dir, include_synthetic=include_synthetic
    )
    write_file_atomic(
        stored,
        json.dumps(
            {"fingerprint": now, "inputs": key, "rendered_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        ),
    )
    return result


def inputs_key(
    settings: Settings, billing_code: str, *, as_of: dt.date | None = None, payers: list[str] | None = None
) -> str:
    """sha256 of what the report's query results can depend on: the warehouse build (its recorded
    inputs: every committed load, SQL file and schema), the report's code, its parameters and the
    effective as-of date (today by default: a release can take effect overnight). Equal keys mean
    equal results, so `render_report_if_changed` skips running the queries (seconds per report)."""
    digest = _code_digest(settings)
    digest.update(_build_inputs(settings))
    digest.update(
        json.dumps(
            [billing_code.strip().upper(), (as_of or dt.date.today()).isoformat(), sorted(payers) if payers else None]
        ).encode()
    )
    return digest.hexdigest()


LOG_PLACEMENT = ("log_generation", "log_generation_since")
"""Where the build found the load log (a merge of the log moves it: flows/steps/load_log.py), not what it holds."""


def _build_inputs(settings: Settings) -> bytes:
    """The warehouse build's recorded inputs, less `LOG_PLACEMENT`: a build that only followed the load
    log to a new generation shows the same rows, so its reports need not be asked again."""
    from flows.steps.warehouse import STATE_NAME

    state = settings.warehouse_dir / STATE_NAME
    if not (state.exists() and settings.duckdb_path.exists()):
        return b"no build"
    try:
        recorded = json.loads(state.read_bytes())
    except ValueError:
        return state.read_bytes()
    if not isinstance(recorded, dict):
        return state.read_bytes()
    return json.dumps({k: v for k, v in recorded.items() if k not in LOG_PLACEMENT}, sort_keys=True).encode()


def render_reports(settings: Settings | None = None, codes: list[str] | None = None) -> list[ReportResult]:
    """One report per code (default: every target code)."""
    settings = settings or from_env()
    return [render_report(settings, code) for code in (codes or report_codes(settings))]
