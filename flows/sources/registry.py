"""Every source the pipeline knows, and the schema of every dataset. Adding a source = one line here."""

from __future__ import annotations

from pandera.api.pandas.model import DataFrameModel

from flows.sources import hospital_mrf, payer_policy, reference
from flows.sources.base import Source
from schemas import hospital_mrf as hospital_mrf_schema
from schemas import payer_policy as payer_policy_schema
from schemas import reference as reference_schema

SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source("reference", "Reference tables: payer aliases, codes of interest",
               reference.read, ("ref__payer_alias", "ref__billing_code"),
               detect=reference.detect, is_reference=True),
        Source("payer_policy", "Payer medical-policy extracts (CSV, XLSX or JSON)",
               payer_policy.read, (payer_policy_schema.DATASET,), detect=payer_policy.detect,
               payer_column="payer_name", unknown_payer="quarantine"),
        Source("hospital_mrf", "Hospital price-transparency files (CMS template v2.x / v3.0; CSV tall, CSV wide, JSON)",
               hospital_mrf.read, (hospital_mrf_schema.DATASET, hospital_mrf_schema.FILE_DATASET),
               detect=hospital_mrf.detect, payer_column="payer_name", unknown_payer="other"),
    ]
}

SCHEMAS: dict[str, type[DataFrameModel]] = {
    "ref__payer_alias": reference_schema.PayerAlias,
    "ref__billing_code": reference_schema.BillingCode,
    payer_policy_schema.DATASET: payer_policy_schema.PayerPolicy,
    hospital_mrf_schema.DATASET: hospital_mrf_schema.HospitalStandardCharge,
    hospital_mrf_schema.FILE_DATASET: hospital_mrf_schema.HospitalFile,
}


def get(name: str) -> Source:
    """The source called `name`, or a SystemExit listing the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise SystemExit(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None


def detect_source(path) -> list[str]:  # type: ignore[no-untyped-def]
    """Names of the sources whose detector recognises this file's content."""
    return [s.name for s in SOURCES.values() if s.detect is not None and s.detect(path)]
