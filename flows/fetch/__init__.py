"""Fetch: the pipeline gets its sources' files itself, politely, and says what it got.

Modules (each importing only those above it):
- http.py      HttpFetcher: one httpx client per host, User-Agent with a contact, a minimum interval per
               host, retries on transient failures only (Retry-After honoured), size caps, streaming to
               `<name>.part` with sha256 on the way, Range + If-Range resume, content checks, the mirror
- archive.py   safe zip reading: no path traversal, no zip bombs, nested zips
- manifest.py  the fetch manifest (raw/fetch_manifest/fetch_manifest.csv, loaded as dataset fetch__manifest):
               what was asked, what came back, where it landed; the previous row gives conditional headers
- cms_quarterly.py  PFS RVU zip (PPRRVU, GPCI, LOCCO, OPPSCAP), ASC Addenda, OPPS Addendum B: landing page ->
               release page -> zip -> the members the adapters read
- cms_mcd.py   Medicare Coverage Database exports (current_article.zip, current_lcd.zip), weekly
- cms_partb.py Part B by Geography and Service: data.json -> year -> dataset version -> data API rows
- run.py       fetch(settings, sources): runs each source's fetch step once, lands files, writes the manifest

A source's fetch step is declared in its catalog entry (`Source.fetch`, a `flows.sources.base.FetchStep`).
"""
