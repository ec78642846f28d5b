"""The report's figure (flows/report/figure.py): a legend naming real and synthetic dots, dollar axis labels with
thousands separators, a 2x PNG with alternative text. (What it compares, row by row: tests/report/test_sections.py.)"""

from __future__ import annotations

import struct

import pytest

from flows.report import figure
from flows.report.data import ReportContext, ReportData
from flows.settings import Settings


@pytest.fixture(scope="module")
def context_0440t(bundled_warehouse: Settings) -> ReportContext:
    data = ReportData(bundled_warehouse, "0440T")
    try:
        return ReportContext.load(data)
    finally:
        data.close()


def test_the_legend_names_real_dots_first_then_synthetic_ones(context_0440t: ReportContext) -> None:
    import matplotlib.pyplot as plt

    fig = figure.commercial_figure(context_0440t)
    try:
        names = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        # bundled 0440T: 3 UnitedHealthcare NY rates from a real TiC file, hospital rates from a synthetic file
        assert names[:2] == [figure.REAL_LABEL, figure.SYNTHETIC_LABEL], names
        assert any(name.startswith("Medicare, Hospital outpatient (OPPS): $1,765.76") for name in names)
    finally:
        plt.close(fig)


def test_the_dollar_axis_reads_as_money_with_thousands_separators(context_0440t: ReportContext) -> None:
    import matplotlib.pyplot as plt

    fig = figure.commercial_figure(context_0440t)
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert ticks and all(t.startswith("$") for t in ticks), ticks
        assert "$1,000" in ticks or "$2,000" in ticks, ticks  # not 1000 / 2000
        assert ax.xaxis.get_major_formatter()(12345.0, 0) == "$12,345"
    finally:
        plt.close(fig)


def test_the_image_is_drawn_at_twice_the_size_it_is_shown_and_described(context_0440t: ReportContext) -> None:
    import matplotlib.pyplot as plt

    open_before = len(plt.get_fignums())
    image = figure.commercial_figure_image(context_0440t)
    assert len(plt.get_fignums()) == open_before  # closed: not shown a second time by the inline backend
    data, metadata = image.data, image._repr_png_()[1]
    width, height = struct.unpack(">II", data[16:24])
    assert metadata["width"] * 2 == width and metadata["height"] * 2 == height
    assert metadata["width"] >= 800  # about 9 inches at 96 CSS px per inch
    alt = metadata["alt"]
    assert alt == figure.commercial_figure_alt(context_0440t)
    assert "3 real rates from 1 payer group, $596.75 to $702.83" in alt and "synthetic" in alt
