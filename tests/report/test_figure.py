"""The report's figure (flows/report/figure.py): real rates only by default, synthetic ones hollow with
--include-synthetic, a legend naming only what is drawn, dollar axis labels with
thousands separators, a 2x PNG with alternative text. (What it compares, row by row: tests/report/test_sections.py.)"""

from __future__ import annotations

import re
import struct

import pytest

from flows.report import figure
from flows.report.data import ReportContext, ReportData
from flows.settings import Settings


def _context(warehouse: Settings, include_synthetic: bool) -> ReportContext:
    data = ReportData(warehouse, "0440T")
    try:
        return ReportContext.load(data, include_synthetic=include_synthetic)
    finally:
        data.close()


@pytest.fixture(scope="module")
def context_0440t(bundled_warehouse: Settings) -> ReportContext:
    """The default report: real rows only (bundled 0440T: 3 UnitedHealthcare NY office rates from a real TiC file)."""
    return _context(bundled_warehouse, include_synthetic=False)


@pytest.fixture(scope="module")
def context_0440t_synthetic(bundled_warehouse: Settings) -> ReportContext:
    """`--include-synthetic`: the synthetic hospital file's rates drawn too, hollow."""
    return _context(bundled_warehouse, include_synthetic=True)


@pytest.fixture
def drawn():  # type: ignore[no-untyped-def]
    """Draws a context's figure and closes it after the test (an open figure lingers in pyplot's registry)."""
    import matplotlib.pyplot as plt

    figures = []

    def draw(ctx: ReportContext):  # type: ignore[no-untyped-def]
        fig = figure.commercial_figure(ctx)
        assert fig is not None, "no figure: the bundled 0440T has real commercial dollar rates to draw"
        figures.append(fig)
        return fig

    yield draw
    for fig in figures:
        plt.close(fig)


def legend_names(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def dots(fig) -> list[tuple[int, bool]]:  # type: ignore[no-untyped-def]
    """(number of dots, hollow?) for each scatter of rates in the figure."""
    from matplotlib.collections import PathCollection

    return [
        (len(c.get_offsets()), len(c.get_facecolors()) == 0 or float(c.get_facecolors()[0][3]) == 0)
        for c in fig.axes[0].collections
        if isinstance(c, PathCollection)
    ]


def test_by_default_the_figure_draws_real_rates_only_and_its_legend_names_only_them(
    context_0440t: ReportContext, drawn
) -> None:  # type: ignore[no-untyped-def]
    fig = drawn(context_0440t)
    assert dots(fig) == [(3, False)]  # the three real UnitedHealthcare rates, filled; no synthetic dot
    assert legend_names(fig) == [figure.REAL_LABEL]  # nothing named that is not drawn
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows == ["UnitedHealthcare\nProfessional, office"]
    # the office row's Medicare amount is contractor-priced: said on the row, no tick and no legend entry for it
    assert any("contractor-priced" in t.get_text() for t in fig.axes[0].texts)
    assert "hollow" not in figure.commercial_figure_caption(context_0440t)


def test_with_synthetic_rows_included_they_are_drawn_hollow_and_named_after_the_real_ones(
    context_0440t_synthetic: ReportContext, drawn
) -> None:  # type: ignore[no-untyped-def]
    fig = drawn(context_0440t_synthetic)
    drawn_dots = dots(fig)
    assert (3, False) in drawn_dots  # the real rates, filled
    assert any(hollow for _, hollow in drawn_dots) and all(
        hollow for n, hollow in drawn_dots if (n, hollow) != (3, False)
    )
    names = legend_names(fig)
    assert names[:2] == [figure.REAL_LABEL, figure.SYNTHETIC_LABEL], names
    assert any(name.startswith("Medicare, Hospital outpatient (OPPS): $1,765.76") for name in names)
    assert "hollow: synthetic sample" in figure.commercial_figure_caption(context_0440t_synthetic)


def test_the_dollar_axis_reads_as_money_with_thousands_separators(
    context_0440t: ReportContext, context_0440t_synthetic: ReportContext, drawn
) -> None:  # type: ignore[no-untyped-def]
    for ctx in (context_0440t, context_0440t_synthetic):
        fig = drawn(ctx)
        fig.canvas.draw()
        ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
        assert ticks and all(t.startswith("$") for t in ticks), ticks
    # real rates only span $596.75-$702.83; with the synthetic hospital rates the axis passes $1,000
    assert "$1,000" in ticks or "$2,000" in ticks, ticks  # not 1000 / 2000
    assert fig.axes[0].xaxis.get_major_formatter()(12345.0, 0) == "$12,345"


def test_the_image_is_drawn_at_twice_the_size_it_is_shown_and_described(context_0440t: ReportContext) -> None:
    import matplotlib.pyplot as plt

    open_before = len(plt.get_fignums())
    image = figure.commercial_figure_image(context_0440t)
    assert len(plt.get_fignums()) == open_before  # closed: not shown a second time by the inline backend
    data, metadata = image.data, image._repr_png_()[1]
    width, height = struct.unpack(">II", data[16:24])
    assert metadata["width"] * 2 == width and metadata["height"] * 2 == height  # whole CSS pixels, 2 px each
    assert metadata["width"] >= 800  # about 9 inches at 96 CSS px per inch
    alt = metadata["alt"]
    assert alt == figure.commercial_figure_alt(context_0440t)
    # what is drawn, in words: the real rates only, so no synthetic dot is described
    assert "3 real rates from 1 payer group, $596.75 to $702.83" in alt and "synthetic" not in alt


def test_the_alt_text_names_the_hollow_synthetic_dots_when_they_are_drawn(
    context_0440t_synthetic: ReportContext,
) -> None:
    alt = figure.commercial_figure_alt(context_0440t_synthetic)
    assert "3 real rates from 1 payer group, $596.75 to $702.83" in alt
    assert re.search(r"; \d+ synthetic sample rates drawn hollow \(not real\)", alt), alt


def test_an_odd_sized_drawing_is_padded_to_whole_css_pixels() -> None:
    import io

    from PIL import Image as Picture

    buffer = io.BytesIO()
    Picture.new("RGBA", (1719, 431), (255, 255, 255, 255)).save(buffer, format="png")
    padded = figure._whole_css_pixels(buffer.getvalue())
    assert struct.unpack(">II", padded[16:24]) == (1720, 432)
    even = io.BytesIO()
    Picture.new("RGBA", (1720, 432)).save(even, format="png")
    assert figure._whole_css_pixels(even.getvalue()) == even.getvalue()  # already whole: untouched
