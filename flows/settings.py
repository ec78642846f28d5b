"""Every path and tunable the pipeline uses, in one place.

Defaults are relative to the project folder; each can be overridden by an environment variable
(listed in `ENV_VARS` and the README's settings table) or by the CLI's `--warehouse` / `--raw-dir`
flags, which simply build a `Settings` with those fields replaced. Nothing else in the code base
holds a literal path.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from flows.errors import ConfigurationError

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Environment variable -> (Settings field, description). The README's settings table mirrors this.
ENV_VARS: dict[str, tuple[str, str]] = {
    "PAYERBENCH_HOME": ("project_dir", "project folder holding warehouse/sql and notebooks/"),
    "PAYERBENCH_RAW_DIR": ("raw_dir", "bundled and landed source files, one folder per source"),
    "PAYERBENCH_WAREHOUSE_DIR": ("warehouse_dir", "Parquet lake, load log and the DuckDB file"),
    "PAYERBENCH_REPORTS_DIR": ("reports_dir", "rendered benchmark reports"),
    "PAYERBENCH_INBOX_DIR": ("inbox_dir", "drop folder: `payerbench land` moves files found here into raw/<source>/"),
    "PAYERBENCH_RENDER_REPORTS": (
        "render_reports",
        "1 (default) renders the reports at the end of `run`; 0 skips them",
    ),
    "PAYERBENCH_REPORT_KERNEL": (
        "report_kernel",
        "Jupyter kernel (e.g. python3) to execute the report notebook in; default none: its cells run in the command's own process (same outputs, no kernel to start)",
    ),
    "PAYERBENCH_ACCEPT_CMS_LICENSE": (
        "accept_cms_license",
        "yes: you have read and accept the AMA CPT licence CMS shows before its PFS, OPPS and ASC files (https://www.cms.gov/license/ama); `fetch` downloads them only then, and records the acknowledgement in the fetch manifest",
    ),
    "PAYERBENCH_MIRROR": (
        "mirror",
        "serve every fetched URL from a mirror: https://HOST/PATH?QUERY is read from $PAYERBENCH_MIRROR/HOST/PATH?QUERY (an http(s) URL or a folder); for air-gapped installs and tests",
    ),
    "PAYERBENCH_CONTACT": (
        "contact",
        "who to contact about payerbench's requests (an e-mail or URL), sent in the User-Agent of every fetch",
    ),
    "PAYERBENCH_FETCH_INTERVAL": (
        "fetch_interval",
        "least seconds between two requests to the same host (default 1)",
    ),
    "PAYERBENCH_POLICY_FETCH_INTERVAL": (
        "policy_fetch_interval",
        "least seconds between two payer policy pages asked of the same host (default 5; payers' sites are not file servers)",
    ),
    "PAYERBENCH_FETCH_YEARS": (
        "fetch_years",
        "calendar years of CMS's quarterly releases `fetch` gets, back to the current one (default 2: this year and the last; 5 backfills five)",
    ),
    "PAYERBENCH_TIC_SIGNED_URLS": (
        "tic_signed_urls",
        "signed table-of-contents URLs the TiC crawl cannot discover (Cigna's), pasted as space-separated `payer=URL` words; the signature is never written to the manifest",
    ),
    "PAYERBENCH_CHUNK_ROWS": ("chunk_rows", "rows per validated chunk (bounds memory per file)"),
    "PAYERBENCH_LOCK_TIMEOUT": ("lock_timeout", "seconds a writer waits for another run to finish"),
    "PAYERBENCH_LAKE_URL": (
        "lake_url",
        "keep the lake (Parquet parts, quarantine, load log) at this URL instead of warehouse/lake, e.g. s3://bucket/prefix (endpoint and keys from the standard AWS_* variables, e.g. AWS_ENDPOINT_URL for an S3-compatible server); the DuckDB file stays local",
    ),
    "PAYERBENCH_DASK_ADDRESS": ("dask_address", "Dask scheduler (tcp://host:8786) that loads TiC files in parallel"),
    "PAYERBENCH_INBOX_ALLOW_LINKS_FROM": (
        "inbox_allow_links_from",
        "folders (separated by ':') whose files a symbolic link in the inbox may point to: the file's bytes are copied in (default none: every link is refused)",
    ),
    "PAYERBENCH_TIC_MAX_EXPANSION": (
        "tic_max_expansion",
        "largest uncompressed/compressed size ratio a TiC .gz may reach before it is treated as a decompression bomb (default 500)",
    ),
    "PAYERBENCH_LOG_GRACE_SECONDS": (
        "log_grace_seconds",
        "seconds a merged-away load-log generation stays for the readers still on it (default 3600)",
    ),
    "PAYERBENCH_MAX_UNCOMPRESSED_BYTES": (
        "max_uncompressed_bytes",
        "most bytes one TiC file may decompress to, or a hospital/policy JSON hold (default 500GB; accepts 500GB, 64MB or a byte count)",
    ),
    "PAYERBENCH_BUILD_MEMORY_LIMIT": (
        "build_memory_limit",
        "most memory DuckDB may hold while it builds the warehouse file before it spills to a temporary folder in the warehouse folder (default 112MB; accepts 112MB, 1GiB or a byte count; 0: no limit). A mart that still runs out of memory is computed once more without the limit (the build, when something else does)",
    ),
    "PAYERBENCH_BUILD_THREADS": (
        "build_threads",
        "threads DuckDB uses to build the warehouse file (default 2: each thread holds its own hash tables, so more threads need a larger PAYERBENCH_BUILD_MEMORY_LIMIT; 0: one per core)",
    ),
    "PAYERBENCH_LOAD_WRITER_THREAD": (
        "load_writer_thread",
        "1: a loader thread writes (encodes, compresses) the Parquet parts of a file's rows while the next batch is built (default 0: on a machine whose second core is busy it gained no time and held ~7 MB more)",
    ),
    "PAYERBENCH_MAX_ITEM_BYTES": (
        "max_item_bytes",
        "largest single JSON value (an item kept, a header value, a run of blank space) a TiC, hospital or policy JSON file may hold (default 256MiB)",
    ),
}


@dataclass(frozen=True)
class Settings:
    """Resolved locations and limits for one pipeline process."""

    project_dir: Path = PROJECT_DIR
    raw_dir: Path = PROJECT_DIR / "raw"
    warehouse_dir: Path = PROJECT_DIR / "warehouse"
    reports_dir: Path = PROJECT_DIR / "reports"
    inbox_dir: Path = PROJECT_DIR / "inbox"
    chunk_rows: int = 20_000
    lock_timeout: float = 600.0
    render_reports: bool = True
    dask_address: str | None = None
    lake_url: str | None = None  # flows/steps/lake.py: the lake in an object store (None: lake_dir)
    accept_cms_license: bool = False  # flows/fetch: the AMA CPT licence CMS gates its PFS/OPPS/ASC files behind
    mirror: str | None = None  # flows/fetch/http.py: every fetched URL read from this mirror instead
    contact: str | None = None  # flows/fetch/http.py: in the User-Agent
    fetch_years: int = 2  # flows/fetch/cms_quarterly.py: releases of this many calendar years, to the current one
    fetch_interval: float = 1.0  # flows/fetch/http.py: least seconds between two requests to one host
    policy_fetch_interval: float = 5.0  # flows/fetch/policy_pages.py: the same, for payers' policy pages
    tic_signed_urls: str | None = None  # flows/fetch/tic_index.py: "payer=URL ..." (secret: never logged)
    report_kernel: str | None = None  # flows/report/execute.py: None runs the notebook in this process
    tic_max_expansion: float = 500.0
    inbox_allow_links_from: tuple[Path, ...] = ()  # a link in the inbox is refused unless it points into one
    log_grace_seconds: float = 3600.0  # flows/steps/load_log.py: generations outlive a merge this long
    # Absolute limits on what one TiC file may make the scanner read and hold (bombs are refused
    # within seconds of passing them). Real in-network files reach ~100+ GB uncompressed; a kept
    # item is at most tens of MB (the largest seen ~30 MB).
    max_uncompressed_bytes: int = 500 * 1000**3
    max_item_bytes: int = 256 * 1024**2
    # flows/steps/warehouse.py: DuckDB's memory_limit (bytes; 0: DuckDB's default, 80 % of RAM) and threads (0: one per
    # core) for the build. The build runs at the end of every ingest, whose peak it sets: without a limit the marts
    # over a 1 GB TiC file took DuckDB ~+250 MB; within it, it spills to disk instead, and the build's rise follows the
    # limit (that ingest's peak: 420 MB at 160MB, 362-370 at 112MB, 345 at 96MB). With one thread that file's marts fit
    # 112 MB every time; 96 MB not always (tic_rate_summary then ran out and was computed again without the limit),
    # 80 MB never. With two threads, 128 MB was not always enough (each thread holds its own hash tables) until
    # tic_rate_summary read the TiC rows once fewer: since then two threads fit 112 MB over that file and build its
    # marts in 1.2-1.3 s instead of 1.65-1.9 s (the load has finished, so the second core is free).
    build_memory_limit: int = 112 * 1000**2
    build_threads: int = 2
    load_writer_thread: bool = False  # flows/steps/store.py LoadWriter: Parquet parts written by a thread

    # --- derived locations -------------------------------------------------------------------
    @property
    def sql_dir(self) -> Path:
        """Version-controlled SQL for staging views and marts (code, not output)."""
        return self.project_dir / "warehouse" / "sql"

    @property
    def lake_dir(self) -> Path:
        """Immutable Parquet parts, one folder per dataset."""
        return self.warehouse_dir / "lake"

    @property
    def lake_read_dir(self) -> Path:
        """The local folder the DuckDB views read Parquet from: the lake itself, or (with `lake_url`)
        the build's local copy of the committed parts it needs (flows/steps/warehouse.py)."""
        return self.lake_dir if not self.lake_url else self.warehouse_dir / "lake-copy"

    @property
    def duckdb_path(self) -> Path:
        """The analysts' embedded database (views over the lake plus marts)."""
        return self.warehouse_dir / "payerbench.duckdb"

    @property
    def reference_dir(self) -> Path:
        """Reference tables (payer aliases, codes of interest)."""
        return self.raw_dir / "reference"

    @property
    def payer_alias_file(self) -> Path:
        """Payer names as sources write them -> payer groups."""
        return self.reference_dir / "payer_aliases.csv"

    @property
    def billing_code_file(self) -> Path:
        """Codes of interest: the targets and their comparators (configuration, not code)."""
        return self.reference_dir / "billing_codes.csv"

    @property
    def runs_dir(self) -> Path:
        """One JSON record and one Markdown report per flow run (what `status` reads)."""
        return self.warehouse_dir / "runs"

    def source_dir(self, source: str) -> Path:
        """Folder that holds one source's raw files."""
        return self.raw_dir / source

    def replace(self, **changes: object) -> Settings:
        """Copy with some fields replaced (None values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        for key in ("project_dir", "raw_dir", "warehouse_dir", "reports_dir", "inbox_dir"):
            if key in kept:
                kept[key] = Path(kept[key]).expanduser().resolve()  # type: ignore[arg-type]
        if "inbox_allow_links_from" in kept:
            kept["inbox_allow_links_from"] = tuple(
                Path(p).expanduser().resolve()  # type: ignore[union-attr]
                for p in kept["inbox_allow_links_from"]
                if str(p)
            )  # type: ignore[union-attr]
        return dataclasses.replace(self, **kept)  # type: ignore[arg-type]


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Settings with defaults overridden by PAYERBENCH_* environment variables."""
    env = os.environ if environ is None else environ
    changes: dict[str, object] = {}
    home = env.get("PAYERBENCH_HOME")
    base = Settings()
    if home:
        root = Path(home).expanduser().resolve()
        base = Settings(
            project_dir=root,
            raw_dir=root / "raw",
            warehouse_dir=root / "warehouse",
            reports_dir=root / "reports",
            inbox_dir=root / "inbox",
        )
    for var, (field, _) in ENV_VARS.items():
        if var == "PAYERBENCH_HOME" or not env.get(var):
            continue
        value = env[var]
        if field in ("render_reports", "accept_cms_license", "load_writer_thread"):
            if value.strip().lower() not in ("0", "1", "true", "false", "yes", "no"):
                raise ConfigurationError(
                    f"{var}={value!r}: use {'yes or no' if field == 'accept_cms_license' else '1 or 0'}"
                )
            changes[field] = value.strip().lower() in ("1", "true", "yes")
            continue
        if field in ("max_uncompressed_bytes", "max_item_bytes"):
            changes[field] = parse_bytes(var, value)
            continue
        if field == "build_memory_limit":
            changes[field] = 0 if value.strip() == "0" else parse_bytes(var, value)
            continue
        if field in (
            "chunk_rows",
            "lock_timeout",
            "tic_max_expansion",
            "log_grace_seconds",
            "fetch_interval",
            "policy_fetch_interval",
            "fetch_years",
            "build_threads",
        ):
            example = {
                "build_threads": "2 (threads; 0: one per core)",
                "fetch_years": "2 (calendar years)",
                "fetch_interval": "1 (seconds)",
                "policy_fetch_interval": "5 (seconds)",
                "chunk_rows": "20000 (rows)",
                "lock_timeout": "600 (seconds)",
                "tic_max_expansion": "500 (ratio)",
                "log_grace_seconds": "3600 (seconds)",
            }[field]
            try:
                number = int(value) if field in ("chunk_rows", "fetch_years", "build_threads") else float(value)
            except ValueError:
                raise ConfigurationError(f"{var}={value!r} is not a number; set it to e.g. {example}") from None
            if not (
                number >= 0
                if field in ("log_grace_seconds", "fetch_interval", "policy_fetch_interval", "build_threads")
                else number > 0
            ):
                least = (
                    "0 or more"
                    if field in ("log_grace_seconds", "fetch_interval", "policy_fetch_interval", "build_threads")
                    else "greater than 0"
                )
                raise ConfigurationError(f"{var}={value!r} must be {least}; set it to e.g. {example}")
            changes[field] = number
        elif field == "inbox_allow_links_from":
            changes[field] = tuple(Path(p) for p in value.split(os.pathsep) if p.strip())
        else:
            changes[field] = value
    return base.replace(**changes)


_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


def parse_bytes(var: str, value: str) -> int:
    """A size setting: a byte count or a number with a unit (500GB, 256MB, 1.5GiB)."""
    import re

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", value)
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in _UNITS:
        raise ConfigurationError(f"{var}={value!r} is not a size; set it to e.g. 500GB, 256MB or a number of bytes")
    number = int(float(m.group(1)) * _UNITS[unit])
    if number <= 0:
        raise ConfigurationError(f"{var}={value!r} must be greater than 0; set it to e.g. 500GB or 256MB")
    return number


def with_folders(settings: Settings | None = None, **folders: str | Path | None) -> Settings:
    """`settings` (default: from the environment) with folders given as flow parameters.

    A deployment passes folders as plain strings; a relative one is taken from the project folder
    (not from wherever the worker happens to run), e.g. `raw_dir: raw`.
    """
    base = settings or from_env()
    changes = {}
    for name, value in folders.items():
        if value:
            path = Path(value).expanduser()
            changes[name] = path if path.is_absolute() else base.project_dir / path
    return base.replace(**changes)
