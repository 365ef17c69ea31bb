"""Charts for the server-rendered pages: bar and line charts as SVG text, with no script.

Pure functions of the figures: every label is escaped, every chart names itself with a <title>
and a <desc> (and `role="img"`), colours and fonts are presentation attributes (no style
attribute, which the agent pages' CSP refuses; no font but the system's). A page keeps the
table of the same figures under each chart, for readers the picture does not reach.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
FONT = "system-ui, sans-serif"
INK, MUTED, LINE = "#1f2328", "#59636e", "#d1d9e0"
PALETTE = ("#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#b42318", "#1b7c83")
BAR, GAP = 16, 10  # a bar's thickness, the space between two categories
LABEL_WIDTH = 150  # the category names' column of a bar chart
LABEL_CHARS = 22  # a longer category name is cut (whole in its tooltip)
LINE_HEIGHT = 280
MOST_X_LABELS = 8
NOTHING = "No figures to show."
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_KEY = re.compile(r"[^a-z0-9-]+")

Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One named row of figures, a value per category (None: nothing to show there)."""

    name: str
    values: Sequence[float | None]


def number(value: float) -> str:
    """A figure as a chart writes it: whole numbers without decimals, others with one."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def text(value: object) -> str:
    """Escaped for SVG inside HTML (and as XML), control characters dropped."""
    return escape(_CONTROL.sub("", str(value)), quote=True)


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]; `whole`:
    whole numbers only (counts of cases)."""
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError("ticks need finite bounds")
    if high < low:
        low, high = high, low
    if high == low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1) if whole else step
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]
    return [t + 0.0 for t in ticks]  # no -0.0


def domain(values: Sequence[float], *more: float, whole: bool = False) -> tuple[float, float]:
    """The span a value axis covers: zero, the figures and any reference, rounded to ticks."""
    every = [0.0, *values, *more]
    ticks = nice_ticks(min(every), max(every), whole=whole)
    return ticks[0], ticks[-1]


def bar_chart(
    key: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    value_label: str,
    category_label: str,
    fmt: Format = number,
    reference: float | None = None,
    reference_label: str = "",
    whole: bool = False,
) -> str:
    """Horizontal bars, one group per category and a bar per series, from zero (negative
    figures to its left); `reference` draws a dashed line (a target, 100 %)."""
    _check(categories, series)
    present = [v for s in series for v in s.values if v is not None]
    if not categories or not present:
        return _empty(key, title, description)
    extra = (reference,) if reference is not None else ()
    low, high = domain(present, *extra, whole=whole)
    legend = 22 if len(series) > 1 else 0
    top, left, right = 16 + legend, LABEL_WIDTH + 30, WIDTH - 64
    group = len(series) * BAR + GAP
    plot_bottom = top + len(categories) * group
    height = plot_bottom + 52
    x = _scale(low, high, left, right)
    parts = _frame(key, title, description, height)
    parts += _legend(series, 16) if legend else []
    parts += _value_axis(nice_ticks(low, high, whole=whole), x, top, plot_bottom, fmt)
    for index, category in enumerate(categories):
        y = top + index * group + GAP / 2
        parts.append(_category_name(category, left - 8, y + len(series) * BAR / 2))
        for n, row in enumerate(series):
            parts += _bar(category, row, n, row.values[index], x, y + n * BAR, fmt)
    if reference is not None:
        parts += _reference(x(reference), top, plot_bottom, reference_label or fmt(reference))
    parts.append(_label((left + right) / 2, height - 8, value_label, anchor="middle"))
    parts.append(_rotated_label(12, (top + plot_bottom) / 2, category_label))
    return _close(parts)


def line_chart(
    key: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    value_label: str,
    x_label: str,
    fmt: Format = number,
    whole: bool = False,
) -> str:
    """A line per series over the points of `x_labels` (a gap where a value is None), each
    point a dot with its figure in a tooltip."""
    _check(x_labels, series)
    present = [v for s in series for v in s.values if v is not None]
    if not x_labels or not present:
        return _empty(key, title, description)
    low, high = domain(present, whole=whole)
    legend = 22 if len(series) > 1 else 0
    top, left, right, bottom = 16 + legend, 72, WIDTH - 24, LINE_HEIGHT - 56
    y = _scale(low, high, bottom, top)
    step = (right - left) / (len(x_labels) - 1) if len(x_labels) > 1 else 0.0
    x = [left + i * step if step else (left + right) / 2 for i in range(len(x_labels))]
    parts = _frame(key, title, description, LINE_HEIGHT)
    parts += _legend(series, 16) if legend else []
    for tick in nice_ticks(low, high, whole=whole):
        parts.append(_hline(left, right, y(tick), LINE if tick else MUTED))
        parts.append(_label(left - 6, y(tick) + 4, fmt(tick), anchor="end"))
    every = math.ceil(len(x_labels) / MOST_X_LABELS)
    for i, name in enumerate(x_labels):
        last = i == len(x_labels) - 1 and i % every > every / 2  # not crowding the one before
        if i % every == 0 or last:
            parts.append(_label(x[i], bottom + 18, name, anchor="middle"))
    for n, row in enumerate(series):
        parts += _line(row, n, x, y, x_labels, fmt)
    parts.append(_label((left + right) / 2, LINE_HEIGHT - 8, x_label, anchor="middle"))
    parts.append(_rotated_label(14, (top + bottom) / 2, value_label))
    return _close(parts)


# -- pieces -----------------------------------------------------------------------------------


def _check(categories: Sequence[str], series: Sequence[Series]) -> None:
    for row in series:
        if len(row.values) != len(categories):
            raise ValueError(f"series {row.name!r} has {len(row.values)} values, not "
                             f"{len(categories)}")  # fmt: skip
        if any(v is not None and not math.isfinite(v) for v in row.values):
            raise ValueError(f"series {row.name!r} has a value that is not a finite number")


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def chart_id(key: str) -> str:
    """An id for the chart's title and description: `key` in lower-case letters, digits and
    dashes (a page gives each chart its own key)."""
    return "chart-" + (_KEY.sub("-", key.lower()).strip("-") or "x")


def _frame(key: str, title: str, description: str, height: float) -> list[str]:
    ident = chart_id(key)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" height="{_n(height)}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{FONT}" font-size="12">',
        f'<title id="{ident}-title">{text(title)}</title>',
        f'<desc id="{ident}-desc">{text(description)}</desc>',
    ]


def _close(parts: list[str]) -> str:
    return "\n".join([*parts, "</svg>"])


def _empty(key: str, title: str, description: str) -> str:
    parts = _frame(key, title, f"{description} {NOTHING}".strip(), 60)
    parts.append(f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="59" fill="none" '
                 f'stroke="{LINE}"/>')  # fmt: skip
    parts.append(_label(WIDTH / 2, 35, NOTHING, anchor="middle"))
    return _close(parts)


def _label(x: float, y: float, words: str, anchor: str = "start", fill: str = MUTED) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}">{text(words)}</text>'
    )


def _rotated_label(x: float, y: float, words: str) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="middle" fill="{MUTED}" '
        f'transform="rotate(-90 {_n(x)} {_n(y)})">{text(words)}</text>'
    )


def _category_name(name: str, x: float, y: float) -> str:
    short = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
    return (
        f'<text x="{_n(x)}" y="{_n(y + 4)}" text-anchor="end" fill="{INK}">'
        f"<title>{text(name)}</title>{text(short)}</text>"
    )


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], float(LABEL_WIDTH + 30)
    for n, row in enumerate(series):
        parts.append(f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" '
                     f'fill="{_colour(n)}"/>')  # fmt: skip
        parts.append(_label(x + 16, y, row.name, fill=INK))
        x += 28 + 7 * min(len(row.name), 30)
    return parts


def _value_axis(
    ticks: list[float], x: Callable[[float], float], top: float, bottom: float, fmt: Format
) -> list[str]:
    parts = []
    for tick in ticks:
        colour = MUTED if tick == 0 else LINE
        parts.append(f'<line x1="{_n(x(tick))}" y1="{_n(top)}" x2="{_n(x(tick))}" '
                     f'y2="{_n(bottom)}" stroke="{colour}"/>')  # fmt: skip
        parts.append(_label(x(tick), bottom + 16, fmt(tick), anchor="middle"))
    return parts


def _bar(
    category: str,
    row: Series,
    n: int,
    value: float | None,
    x: Callable[[float], float],
    y: float,
    fmt: Format,
) -> list[str]:
    shown = "—" if value is None else fmt(value)
    tip = f"<title>{text(category)}, {text(row.name)}: {text(shown)}</title>"
    if value is None:
        return [_label(x(0) + 4, y + BAR - 4, shown)]
    start, end = sorted((x(0), x(value)))
    width = max(end - start, 1.0 if value else 0.0)
    # A negative figure is written right of the zero line: its bar's end may touch the names.
    return [
        f'<rect x="{_n(start)}" y="{_n(y + 1)}" width="{_n(width)}" height="{BAR - 2}" '
        f'fill="{_colour(n)}">{tip}</rect>',
        _label((end if value >= 0 else x(0)) + 4, y + BAR - 4, shown, fill=INK),
    ]


def _reference(x: float, top: float, bottom: float, name: str) -> list[str]:
    return [
        f'<line x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="{INK}" '
        f'stroke-dasharray="4 3"/>',
        _label(x, top - 6, name, anchor="middle", fill=INK),
    ]


def _hline(left: float, right: float, y: float, colour: str) -> str:
    return f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{colour}"/>'


def _line(
    row: Series,
    n: int,
    x: Sequence[float],
    y: Callable[[float], float],
    names: Sequence[str],
    fmt: Format,
) -> list[str]:
    parts: list[str] = []
    run: list[str] = []
    for i, value in enumerate([*row.values, None]):
        if value is None:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                             f'stroke="{_colour(n)}" stroke-width="2"/>')  # fmt: skip
            run = []
            continue
        run.append(f"{_n(x[i])},{_n(y(value))}")
        parts.append(
            f'<circle cx="{_n(x[i])}" cy="{_n(y(value))}" r="3" fill="{_colour(n)}">'
            f"<title>{text(names[i])}, {text(row.name)}: {text(fmt(value))}</title></circle>"
        )
    return parts


def _colour(n: int) -> str:
    return PALETTE[n % len(PALETTE)]


def _n(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
