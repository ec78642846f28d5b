"""Reference data every source resolves against, read strictly from raw/reference/.

The payer directory maps payer names as sources write them to the payer groups.

Every source that names a payer resolves it here, so "Anthem Blue Cross", "AETNA HMO" and
"UnitedHealthcare Insurance Company of New York" land in the same groups everywhere. Matching
is exact or whole-word prefix on a normalised name, never fuzzy: a name the table does not know
is reported (quarantined, or kept as `other`, as the source declares), not guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from flows.sources.base import FileRejected

if TYPE_CHECKING:  # pragma: no cover
    from flows.settings import Settings


def read_reference(path: Path, dataset: str, chunk_rows: int = 20_000) -> pd.DataFrame:
    """Read and validate a reference CSV; any invalid row stops the run (mappings must be clean)."""
    from flows.sources import reference
    from flows.steps.validate import DatasetValidator
    from schemas.reference import TABLES

    validator = DatasetValidator(TABLES[dataset])
    frames = []
    for batch in reference.read_file(path, chunk_rows):
        if batch.dataset != dataset:
            raise FileRejected(path, f"holds {batch.dataset}, not {dataset}", f"the {dataset} table")
        if batch.rejects is not None and len(batch.rejects):
            first = batch.rejects.iloc[0]
            raise FileRejected(
                path,
                f"malformed row ({first['failure_value']})",
                f"a valid {dataset} table",
                str(first["source_record"]),
            )
        checked = validator.check(batch.frame, path)
        if len(checked.failures):
            first = checked.failures.iloc[0]
            where = batch.frame.loc[first["row"], "source_record"]
            raise FileRejected(
                path,
                f"invalid row: {first['column']} fails {first['check']} (value {first['failure_value']!r})",
                f"a valid {dataset} table",
                where,
            )
        frames.append(checked.valid)
    return pd.concat(frames, ignore_index=True)


def codes_of_interest(settings: Settings) -> frozenset[str]:
    """The billing codes adapters keep from large files (targets and comparators)."""
    codes = read_reference(settings.billing_code_file, "ref__billing_code", settings.chunk_rows)
    return frozenset(codes["billing_code"])


def normalize_payer_name(name: str) -> str:
    """Case-fold, read '&' as 'and', fold punctuation to spaces: 'Blue Cross & Blue Shield, Inc.'
    -> 'blue cross and blue shield inc'."""
    text = unicodedata.normalize("NFKC", str(name)).casefold().replace("&", " and ")
    return re.sub(r"[^0-9a-z]+", " ", text).strip()


@dataclass
class PayerDirectory:
    """Alias lookups built from the validated `ref__payer_alias` table."""

    exact: dict[str, str]
    prefix: dict[str, str]
    source_file: str = ""
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(cls, aliases: pd.DataFrame, source_file: str = "") -> PayerDirectory:
        exact: dict[str, str] = {}
        prefix: dict[str, str] = {}
        for alias, match_type, group in aliases[["alias", "match_type", "payer_group"]].itertuples(index=False):
            (exact if match_type == "exact" else prefix)[normalize_payer_name(alias)] = group
        return cls(exact=exact, prefix=prefix, source_file=source_file)

    @classmethod
    def from_file(cls, path: Path, chunk_rows: int = 20_000) -> PayerDirectory:
        """Directory from a validated payer alias CSV."""
        return cls.from_frame(read_reference(path, "ref__payer_alias", chunk_rows), source_file=path.name)

    def lookup(self, name: object) -> str | None:
        """Payer group for a payer name as written, or None when the table does not know it."""
        if name is None or (isinstance(name, float) and pd.isna(name)):
            return None
        normalized = normalize_payer_name(str(name))
        if normalized not in self._cache:
            self._cache[normalized] = self._match(normalized)
        return self._cache[normalized]

    def _match(self, normalized: str) -> str | None:
        if normalized in self.exact:
            return self.exact[normalized]
        tokens = normalized.split()
        for size in range(len(tokens), 0, -1):  # longest whole-word prefix wins
            group = self.prefix.get(" ".join(tokens[:size]))
            if group is not None:
                return group
        return None

    def knows(self, name: object) -> bool:
        return self.lookup(name) is not None

    def resolve(self, names: pd.Series) -> pd.Series:
        """Vectorised lookup (each distinct name is matched once)."""
        mapping = {n: self.lookup(n) for n in names.dropna().unique()}
        return pd.Series(
            [mapping.get(n) if n is not None and n == n else None for n in names], index=names.index, dtype=object
        )
