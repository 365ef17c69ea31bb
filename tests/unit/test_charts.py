"""The SVG charts of the supervisors' pages: well-formed, labelled, accessible, escaped and
scaled from zero, whatever the figures (none, one, negative, zero, missing)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from caseflow.api import charts
from caseflow.api.charts import Series, bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quoted\"\x07"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def a_bar_chart(categories: list[str], *series: Series, **more: object) -> str:
    return bar_chart(
        "test", "Cases per queue", "Opened per queue.", categories, list(series),
        value_label="cases", category_label="queue", **more,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_bar_chart_names_itself_and_its_axes_for_screen_readers() -> None:
    root = parsed(a_bar_chart(["gold", "standard"], Series("opened", [3, 5])))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-test-title chart-test-desc"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.findtext(f"{SVG}title") == "Cases per queue"
    assert root.findtext(f"{SVG}desc") == "Opened per queue."
    assert "cases" in texts(root) and "queue" in texts(root)  # the axes' labels
    assert [b.findtext(f"{SVG}title") for b in bars(root)] == [
        "gold, opened: 3",
        "standard, opened: 5",
    ]


def test_hostile_labels_are_text_never_markup() -> None:
    svg = bar_chart(
        HOSTILE, HOSTILE, HOSTILE, [HOSTILE], [Series(HOSTILE, [1])],
        value_label=HOSTILE, category_label=HOSTILE,
    )  # fmt: skip
    line = line_chart(
        HOSTILE, HOSTILE, HOSTILE, [HOSTILE], [Series(HOSTILE, [1])],
        value_label=HOSTILE, x_label=HOSTILE,
    )  # fmt: skip

    for chart in (svg, line):
        root = parsed(chart)
        assert "<script" not in chart and "\x07" not in chart
        assert root.find(f".//{SVG}script") is None
        assert root.findtext(f"{SVG}title") == HOSTILE.replace("\x07", "")
        assert "&lt;script&gt;" in chart and "&amp;" in chart and "&quot;quoted&quot;" in chart
        assert all(not k.startswith("on") for e in root.iter() for k in e.attrib)
    assert parsed(svg).get("aria-labelledby", "").startswith("chart-script-alert-x-script")


def test_no_categories_or_no_figures_draw_a_labelled_empty_chart() -> None:
    for chart in (
        a_bar_chart([]),
        a_bar_chart(["gold"], Series("opened", [None])),
        line_chart("t", "Per day", "Opened per day.", [], [], value_label="cases", x_label="day"),
    ):
        root = parsed(chart)
        assert charts.NOTHING in texts(root)
        assert charts.NOTHING in (root.findtext(f"{SVG}desc") or "")
        assert bars(root) == []


def test_one_point_of_a_line_sits_in_the_middle() -> None:
    root = parsed(
        line_chart("t", "Per day", "Opened.", ["03-01"], [Series("opened", [4])],
                   value_label="cases", x_label="day")
    )  # fmt: skip

    [dot] = root.iter(f"{SVG}circle")
    assert float(dot.get("cx", "0")) == pytest.approx((72 + charts.WIDTH - 24) / 2)
    assert dot.findtext(f"{SVG}title") == "03-01, opened: 4"
    assert list(root.iter(f"{SVG}polyline")) == []  # no line through one point


def test_a_line_breaks_where_a_figure_is_missing() -> None:
    series = Series("opened", [1, 2, None, 3, 4])
    root = parsed(
        line_chart("t", "Per day", "Opened.", list("abcde"), [series],
                   value_label="cases", x_label="day")
    )  # fmt: skip

    assert len(list(root.iter(f"{SVG}circle"))) == 4
    assert len(list(root.iter(f"{SVG}polyline"))) == 2


def test_negative_figures_go_left_of_zero_and_positive_ones_right() -> None:
    root = parsed(a_bar_chart(["down", "up"], Series("change", [-2, 6])))

    down, up = bars(root)
    zero = [line for line in root.iter(f"{SVG}line") if line.get("stroke") == charts.MUTED]
    [axis] = zero
    x0 = float(axis.get("x1", "0"))
    assert float(down.get("x", "0")) + float(down.get("width", "0")) == pytest.approx(x0)
    assert float(up.get("x", "0")) == pytest.approx(x0)
    # The same scale on both sides: 6 is three times as long as 2.
    assert float(up.get("width", "0")) == pytest.approx(3 * float(down.get("width", "0")))


def test_zero_figures_scale_from_zero_without_dividing_by_it() -> None:
    root = parsed(a_bar_chart(["gold", "standard"], Series("opened", [0, 0])))

    assert [float(b.get("width", "1")) for b in bars(root)] == [0.0, 0.0]
    assert "0" in texts(root)


def test_bars_are_scaled_to_the_largest_figure_and_a_reference_line() -> None:
    plain = parsed(a_bar_chart(["a", "b"], Series("s", [50, 100])))
    widths = [float(b.get("width", "0")) for b in bars(plain)]
    assert widths[1] == pytest.approx(2 * widths[0])

    with_target = a_bar_chart(["a"], Series("s", [50]), reference=200, reference_label="target")
    root = parsed(with_target)
    [bar] = bars(root)
    dashed = [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
    [target] = dashed
    start = float(bar.get("x", "0"))
    assert float(target.get("x1", "0")) - start == pytest.approx(4 * float(bar.get("width", "0")))
    assert "target" in texts(root)


def test_several_series_get_a_legend_and_colours_of_their_own() -> None:
    root = parsed(a_bar_chart(["gold"], Series("opened", [1]), Series("resolved", [2])))

    assert {"opened", "resolved"} <= set(texts(root))
    assert len({b.get("fill") for b in bars(root)}) == 2


def test_a_long_category_name_is_cut_but_whole_in_its_tooltip() -> None:
    name = "a queue with a really rather long name"
    root = parsed(a_bar_chart([name], Series("opened", [1])))

    label = next(t for t in root.iter(f"{SVG}text") if t.findtext(f"{SVG}title") == name)
    assert "".join(label.itertext()).endswith("…")


def test_figures_that_do_not_match_their_categories_are_refused() -> None:
    with pytest.raises(ValueError, match="has 1 values, not 2"):
        a_bar_chart(["a", "b"], Series("s", [1]))
    with pytest.raises(ValueError, match="not a finite number"):
        a_bar_chart(["a"], Series("s", [float("nan")]))


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 100, [0, 20, 40, 60, 80, 100]),
        (-3, 97, [-20, 0, 20, 40, 60, 80, 100]),
        (0, 7, [0, 2, 4, 6, 8]),
    ],
)
def test_ticks_are_round_and_cover_the_figures(
    low: float, high: float, expected: list[float]
) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_counts_get_whole_ticks() -> None:
    assert nice_ticks(0, 2, whole=True) == [0, 1, 2]
    assert nice_ticks(0, 0, whole=True) == [0, 1]
    assert nice_ticks(0, 2) == pytest.approx([0, 0.5, 1, 1.5, 2])


def test_the_chart_uses_no_font_file_script_or_style_attribute() -> None:
    svg = a_bar_chart(["gold"], Series("opened", [1]))

    assert "style=" not in svg and "<script" not in svg and "@font-face" not in svg
    assert "href" not in svg and "url(" not in svg
