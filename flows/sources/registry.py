"""Every source the pipeline knows, and the schema of every dataset. Adding a source = one line here."""

from __future__ import annotations

from pandera.api.pandas.model import DataFrameModel

from flows.errors import ConfigurationError
from flows.sources import (
    cms_asc_addenda,
    cms_mcd,
    cms_opps_addendum_b,
    cms_opps_cap,
    cms_partb_geo_service,
    cms_pfs_gpci,
    cms_pfs_locality,
    cms_pfs_rvu,
    hospital_mrf,
    payer_policy,
    reference,
    tic,
)
from flows.sources.base import Source
from schemas import cms_asc_addenda as cms_asc_addenda_schema
from schemas import cms_mcd as mcd_schema
from schemas import cms_opps_addendum_b as cms_opps_addendum_b_schema
from schemas import cms_opps_cap as cms_opps_cap_schema
from schemas import cms_partb_geo_service as partb_schema
from schemas import cms_pfs_gpci as cms_pfs_gpci_schema
from schemas import cms_pfs_locality as cms_pfs_locality_schema
from schemas import cms_pfs_rvu as cms_pfs_rvu_schema
from schemas import hospital_mrf as hospital_mrf_schema
from schemas import payer_policy as payer_policy_schema
from schemas import reference as reference_schema
from schemas import tic as tic_schema

SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "reference",
            "Reference tables: payer aliases, codes of interest, US geographies",
            reference.read,
            (
                "ref__payer_alias",
                "ref__billing_code",
                "ref__geography",
                "ref__code_fact",
                "ref__code_modifier",
                "ref__code_diagnosis",
            ),
            detect=reference.detect,
            is_reference=True,
        ),
        Source(
            "payer_policy",
            "Payer medical-policy extracts (CSV, XLSX or JSON)",
            payer_policy.read,
            (payer_policy_schema.DATASET,),
            detect=payer_policy.detect,
            payer_column="payer_name",
            unknown_payer="quarantine",
        ),
        Source(
            "cms_pfs_rvu",
            "CMS Physician Fee Schedule relative value file PPRRVU (CSV or fixed-width TXT)",
            cms_pfs_rvu.read,
            (cms_pfs_rvu_schema.DATASET,),
            detect=cms_pfs_rvu.detect,
        ),
        Source(
            "cms_pfs_gpci",
            "CMS PFS geographic practice cost indices by locality (GPCI<YYYY>.csv)",
            cms_pfs_gpci.read,
            (cms_pfs_gpci_schema.DATASET,),
            detect=cms_pfs_gpci.detect,
        ),
        Source(
            "cms_pfs_locality",
            "CMS PFS locality-to-county crosswalk (<YY>LOCCO.csv)",
            cms_pfs_locality.read,
            (cms_pfs_locality_schema.DATASET,),
            detect=cms_pfs_locality.detect,
        ),
        Source(
            "cms_opps_cap",
            "CMS PFS OPPS payment cap by locality (OPPSCAP_<Mon>.csv)",
            cms_opps_cap.read,
            (cms_opps_cap_schema.DATASET,),
            detect=cms_opps_cap.detect,
        ),
        Source(
            "cms_opps_addendum_b",
            "CMS OPPS Addendum B, payment by HCPCS code (XLSX or CSV)",
            cms_opps_addendum_b.read,
            (cms_opps_addendum_b_schema.DATASET,),
            detect=cms_opps_addendum_b.detect,
        ),
        Source(
            "cms_asc_addenda",
            "CMS ASC Addendum AA (covered procedures) and FF (device offsets), CSV",
            cms_asc_addenda.read,
            (cms_asc_addenda_schema.AA_DATASET, cms_asc_addenda_schema.FF_DATASET),
            detect=cms_asc_addenda.detect,
        ),
        Source(
            "cms_mcd",
            "Medicare Coverage Database: local coverage articles and LCDs, their code lists and MACs "
            "(CMS export zip or its CSV tables)",
            cms_mcd.read,
            cms_mcd.DATASETS,
            detect=cms_mcd.detect,
        ),
        Source(
            "cms_partb_geo_service",
            "Medicare Physician & Other Practitioners by Geography and Service "
            "(Part B utilization, one CSV per data year)",
            cms_partb_geo_service.read,
            (partb_schema.DATASET, partb_schema.SCOPE_DATASET),
            detect=cms_partb_geo_service.detect,
            options=(("data_year", "the data year of the file, when neither its content nor its name tells it"),),
        ),
        Source(
            "tic",
            "Payers' Transparency-in-Coverage files: in-network rates, allowed amounts, tables of contents",
            tic.read,
            tic.DATASETS,
            detect=tic.detect,
            payer_column="payer_name",
            unknown_payer="other",
        ),
        Source(
            "hospital_mrf",
            "Hospital price-transparency files (CMS template v2.x / v3.0; CSV tall, CSV wide, JSON)",
            hospital_mrf.read,
            (hospital_mrf_schema.DATASET, hospital_mrf_schema.FILE_DATASET),
            detect=hospital_mrf.detect,
            payer_column="payer_name",
            unknown_payer="other",
        ),
    ]
}

SCHEMAS: dict[str, type[DataFrameModel]] = {
    "ref__payer_alias": reference_schema.PayerAlias,
    "ref__billing_code": reference_schema.BillingCode,
    "ref__geography": reference_schema.Geography,
    "ref__code_fact": reference_schema.CodeFact,
    "ref__code_modifier": reference_schema.CodeModifier,
    "ref__code_diagnosis": reference_schema.CodeDiagnosis,
    payer_policy_schema.DATASET: payer_policy_schema.PayerPolicy,
    cms_pfs_rvu_schema.DATASET: cms_pfs_rvu_schema.PfsRvu,
    cms_pfs_gpci_schema.DATASET: cms_pfs_gpci_schema.PfsGpci,
    cms_pfs_locality_schema.DATASET: cms_pfs_locality_schema.PfsLocality,
    cms_opps_cap_schema.DATASET: cms_opps_cap_schema.OppsCap,
    cms_opps_addendum_b_schema.DATASET: cms_opps_addendum_b_schema.OppsAddendumB,
    cms_asc_addenda_schema.AA_DATASET: cms_asc_addenda_schema.AscAddendumAA,
    cms_asc_addenda_schema.FF_DATASET: cms_asc_addenda_schema.AscAddendumFF,
    "cms__mcd_contractor": mcd_schema.McdContractor,
    "cms__mcd_article": mcd_schema.McdArticle,
    "cms__mcd_article_hcpc_code_group": mcd_schema.McdArticleCodeGroup,
    "cms__mcd_article_hcpc_code": mcd_schema.McdArticleCode,
    "cms__mcd_article_contractor": mcd_schema.McdArticleContractor,
    "cms__mcd_lcd": mcd_schema.McdLcd,
    "cms__mcd_lcd_hcpc_code_group": mcd_schema.McdLcdCodeGroup,
    "cms__mcd_lcd_hcpc_code": mcd_schema.McdLcdCode,
    "cms__mcd_lcd_contractor": mcd_schema.McdLcdContractor,
    "cms__mcd_document": mcd_schema.McdDocument,
    mcd_schema.SCOPE_DATASET: mcd_schema.McdCodeScope,
    partb_schema.DATASET: partb_schema.PartbGeoService,
    partb_schema.SCOPE_DATASET: partb_schema.PartbGeoServiceScope,
    tic.RATE: tic_schema.InNetworkRate,
    tic.ALLOWED: tic_schema.AllowedAmount,
    tic.FILE: tic_schema.TicFile,
    tic.TOC: tic_schema.TocFile,
    hospital_mrf_schema.DATASET: hospital_mrf_schema.HospitalStandardCharge,
    hospital_mrf_schema.FILE_DATASET: hospital_mrf_schema.HospitalFile,
}


def get(name: str) -> Source:
    """The source called `name`, or a ConfigurationError listing the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigurationError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None


def detect_source(path) -> list[str]:  # type: ignore[no-untyped-def]
    """Names of the sources whose detector recognises this file's content."""
    return [s.name for s in SOURCES.values() if s.detect is not None and s.detect(path)]
