"""The benchmark report: one Markdown + HTML report per billing code, rendered from the warehouse marts.

Modules, each importing only those above it in this list (no cycle):
- labels.py    the words for the values shown (derived from schemas/fields.py where it declares them)
- text.py      values as Markdown text: escaping, money, numbers, dates, reasons, tables
- synthetic.py real evidence apart from synthetic demonstration rows (the appendix's rows; `--include-synthetic`)
- data.py      ReportData (the queries in warehouse/sql/report/), the payer filter, ReportContext
- medicare.py  Medicare release logic: latest release per setting, stale releases, contractors
- glance.py    the first screen: the at-a-glance table and the summary's headline (real data only)
- sections.py  the ten sections and the demonstration-data appendix, as Markdown
- figure.py    the commercial-rates figure and its caption
- execute.py   runs the notebook headless: in this process's IPython shell (default) or a Jupyter kernel
- render.py    nbconvert export of notebooks/benchmark_report.ipynb, the page, the cache key
- flow.py      the Prefect flow `render_benchmark_reports`

Nothing is imported here: `from flows.report import render` loads only what rendering needs.
"""
