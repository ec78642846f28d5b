"""Flow: fetch the sources' new releases from their publishers and land them under raw/<source>/fetched/.

`payerbench fetch [SOURCE|GROUP ...]`, `payerbench run --fetch` and each scheduled deployment whose sources
have a fetch step (catalog entries' `fetch`) call `fetch_sources`; the steps themselves are in flows/fetch/.
Every request and landed file is a row of the fetch manifest (raw/fetch_manifest/fetch_manifest.csv, loaded as
`fetch__manifest`); the run says one line per fetch step. Downloads happen outside the warehouse lock: a
fetch never blocks a reader or a loading run, and a run never reads a half-written file (`.part` files and
the hidden scratch folders are not listed as raw files).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flows import catalog
from flows.errors import ConfigurationError
from flows.fetch.run import FetchResult, run_fetch
from flows.lookups import codes_of_interest
from flows.ops import run_summary
from flows.orchestration import flow, run_logger
from flows.settings import Settings, from_env
from flows.sources.base import Source

PROBLEM_OUTCOMES = ("failed", "refused", "licence_required")
LICENCE_LINE = (
    "CMS's PFS, OPPS and ASC files are behind the AMA CPT licence: read https://www.cms.gov/license/ama, then "
    "set PAYERBENCH_ACCEPT_CMS_LICENSE=yes (or pass --accept-cms-license) to download them"
)


@dataclass
class FetchReport:
    results: list[FetchResult] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [r.line() for r in self.results]

    @property
    def problems(self) -> list[str]:
        """One line per failed step or refused body, and one line (once) when the licence stopped downloads."""
        found = []
        for result in self.results:
            if result.error:
                found.append(result.line())
                continue
            found += [
                f"{r.source}: {r.outcome}: {r.message}" for r in result.rows if r.outcome in ("failed", "refused")
            ]
        if self.licence_required:
            gated = sorted(
                {s for r in self.results for row in r.rows if row.outcome == "licence_required" for s in r.sources}
            )
            found.append(f"not downloaded ({', '.join(gated)}): {LICENCE_LINE}")
        return found

    @property
    def changes(self) -> list[str]:
        """One line per watched page whose content changed in this fetch (the policy pages' `CHANGED: ...` rows):
        a person reviews the draft extract rows it wrote (the extract stays the reviewed truth)."""
        return [
            f"{r.message}: {r.url}" for result in self.results for r in result.rows if r.message.startswith("CHANGED")
        ]

    @property
    def licence_required(self) -> bool:
        return any(r.outcome == "licence_required" for result in self.results for r in result.rows)

    @property
    def landed_any(self) -> bool:
        return any(result.landed for result in self.results)


def fetchable(targets: Sequence[str] | None) -> list[Source]:
    """The sources with a fetch step among `targets` (sources or groups; default every source that has one)."""
    with_step = catalog.with_hook("fetch")
    if not targets:
        return [catalog.SOURCES[name] for name in with_step]
    chosen: dict[str, Source] = {}
    for target in targets:
        _, sources = catalog.resolve(target)
        named = [s for s in sources if s.fetch is not None]
        if not named:
            raise ConfigurationError(
                f"{target!r} has no fetch step; sources that are fetched: {', '.join(with_step) or 'none'}"
            )
        chosen.update((s.name, s) for s in named)
    return [s for s in catalog.ENTRIES if s.name in chosen]


@flow(name="fetch_sources", flow_run_name="fetch")
def fetch_sources(
    targets: list[str] | None = None, settings: Settings | None = None, offline: bool = False
) -> FetchReport:
    """Run the fetch step of each source in `targets` once; every row goes to the manifest.

    `offline` asks nothing and says what would have been asked. The CMS/AMA licence acknowledgement and the
    mirror come from `settings` (PAYERBENCH_ACCEPT_CMS_LICENSE, PAYERBENCH_MIRROR).
    """
    settings = settings or from_env()
    sources = fetchable(targets)
    with run_summary.tracking("fetch_sources", settings) as run:
        logger = run_logger()
        report = FetchReport(
            run_fetch(
                settings, sources, run.run_id, codes=codes_of_interest(settings), offline=offline, say=logger.info
            )
        )
        for line in report.lines + report.changes:
            logger.info("%s", line)
        run.fetched += report.lines + report.changes  # the run summary names each changed page
        run.fetch_problems += report.problems + report.changes  # ... under "Needs attention": a person reviews it
    return report
