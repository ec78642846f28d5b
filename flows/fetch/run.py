"""Run the fetch steps of some sources: each step once (sources sharing a step share its download),
land what it downloads under raw/<source>/fetched/, append the manifest, say one line per source."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flows.errors import PayerbenchError
from flows.fetch import manifest as manifest_module
from flows.fetch.http import Conditional, FetchError, HttpFetcher
from flows.fetch.manifest import Manifest, ManifestRow

if TYPE_CHECKING:
    import httpx

    from flows.settings import Settings
    from flows.sources.base import Source

log = logging.getLogger(__name__)

PROGRESS: ContextVar[Callable[[str, int, int | None], None] | None] = ContextVar("fetch_progress", default=None)
"""Who hears `(url, bytes so far, whole size)` as a download streams: the CLI sets it to a progress bar when its
output is a terminal (a contextvar, not a flow parameter: a callback is not a value a Prefect run can record)."""

FETCHED = "fetched"  # raw/<source>/fetched/: what fetch lands (git-ignored; the bundled excerpts sit beside it)


@dataclass
class FetchContext:
    """What a source's fetch step may use."""

    settings: Settings
    fetcher: HttpFetcher
    manifest: Manifest
    fetch_id: str
    codes: frozenset[str] = frozenset()  # the codes of interest (raw/reference/billing_codes.csv)
    offline: bool = False  # ask nothing: return `offline` rows saying what would have been asked
    say: Callable[[str], None] = field(default=log.info)  # progress lines for a person

    def landing_dir(self, source: str, *parts: str) -> Path:
        """raw/<source>/fetched/<parts...>: where a fetched file of `source` lands."""
        return self.settings.source_dir(source).joinpath(FETCHED, *parts)

    def relative(self, path: Path) -> str:
        """A landed path as the manifest records it: relative to raw/."""
        return path.resolve().relative_to(self.settings.raw_dir.resolve()).as_posix()

    def conditional(self, url: str) -> Conditional | None:
        """ETag / Last-Modified of the newest answer for `url` that carried one (None: ask unconditionally)."""
        for row in reversed(self.manifest.rows):
            if row.url == url and row.http_status in (200, 206, 304) and (row.etag or row.last_modified):
                return Conditional(row.etag, row.last_modified)
        return None


@dataclass
class FetchResult:
    """One fetch step's outcome, for the one-line-per-source summary."""

    step: str  # the step's key
    sources: tuple[str, ...]
    rows: list[ManifestRow]
    error: str | None = None

    @property
    def landed(self) -> list[Path]:
        return [Path(r.landed_path) for r in self.rows if r.outcome in ("downloaded", "reissued") and r.landed_path]

    def line(self) -> str:
        """e.g. 'cms_mcd: nothing new upstream (2 not modified)' or 'cms_pfs_rvu, ...: RVU26A downloaded (4 files)'."""
        names = ", ".join(self.sources)
        if self.error:
            return f"{names}: failed: {self.error}"
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.outcome] = counts.get(row.outcome, 0) + 1
        detail = ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in counts.items())
        if not self.landed and not any(o in counts for o in ("failed", "refused", "licence_required", "offline")):
            return f"{names}: nothing new upstream ({detail or 'nothing asked'})"
        return f"{names}: {detail}"


def run_fetch(
    settings: Settings,
    sources: Sequence[Source],
    fetch_id: str,
    *,
    codes: frozenset[str] = frozenset(),
    offline: bool = False,
    transport: httpx.BaseTransport | None = None,
    say: Callable[[str], None] | None = None,
) -> list[FetchResult]:
    """Each distinct fetch step of `sources` once, in order; the manifest gets every row, even on failure."""
    steps: dict[str, tuple[object, list[str]]] = {}
    for source in sources:
        if source.fetch is None:
            continue
        steps.setdefault(source.fetch.key, (source.fetch, []))[1].append(source.name)
    results = []
    with HttpFetcher(settings, transport=transport, progress=PROGRESS.get()) as fetcher:
        for key, (step, names) in steps.items():
            context = FetchContext(
                settings, fetcher, Manifest(manifest_module.read(settings.raw_dir)), fetch_id, codes, offline,
                say or log.info,
            )  # fmt: skip
            try:
                rows = step.run(context)  # type: ignore[attr-defined]
                results.append(FetchResult(key, tuple(names), rows))
            except FetchError as exc:
                row = ManifestRow(
                    fetch_id, names[0], key, None, exc.url, "failed", http_status=exc.status, message=str(exc)
                )
                results.append(FetchResult(key, tuple(names), [row], error=str(exc)))
            except (PayerbenchError, OSError) as exc:  # one broken step must not stop the others; the manifest says
                problem = f"{type(exc).__name__}: {exc}"
                row = ManifestRow(fetch_id, names[0], key, None, step.home, "failed", message=problem)  # type: ignore[attr-defined]
                results.append(FetchResult(key, tuple(names), [row], error=problem))
            manifest_module.append(settings.raw_dir, results[-1].rows)
    return results
