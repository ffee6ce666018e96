"""Inline SVG line charts of one metric across runs, for the HTML report.

Hand-written rather than matplotlib: the report must be one self-contained file, build in
milliseconds for hundreds of tests, and the chart is simple (one series, a threshold line,
a baseline line, runs in order on the x axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 360, 150
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 28, 22, 30
VERDICT_COLOURS = {"fail": "#c62828", "error": "#6a1b9a", "no-baseline": "#ef6c00", "improved": "#2e7d32",
                   "updated": "#1565c0", "pass": "#455a64"}


@dataclass(frozen=True)
class ChartPoint:
    label: str      # x-axis label: the run's commit
    value: float
    verdict: str
    title: str = ""  # hover text: run name, time


def _nice_range(values: list[float]) -> tuple[float, float]:
    """The y range to draw: all values with 8% headroom; a flat series gets a visible band."""
    low, high = min(values), max(values)
    span = high - low
    if span == 0:
        span = abs(high) * 0.1 or 1.0
        return low - span / 2, high + span / 2
    return low - 0.08 * span, high + 0.08 * span


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(points: list[ChartPoint], *, title: str, threshold: float | None = None,
               baseline: float | None = None) -> str:
    """An ``<svg>`` element: the metric's value per run, oldest left, the newest point ringed.

    Each point is coloured by that run's verdict; the baseline is a grey dotted line and the
    threshold a red dashed one. A threshold far from the values (a loose gate: FID 28 for
    values near 3) would squash the series into a flat line, so it is then only named in a
    corner, with an arrow saying on which side it lies.
    """
    if not points:
        raise ValueError("points: a chart needs at least one point")
    values = [p.value for p in points] + ([baseline] if baseline is not None else [])
    low, high = _nice_range(values)
    threshold_note = ""
    if threshold is not None:
        span = high - low
        if low - span <= threshold <= high + span:
            low, high = _nice_range(values + [threshold])
        else:
            threshold_note = f"threshold {_fmt(threshold)} {'↑' if threshold > high else '↓'}"
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(index: int) -> float:
        return MARGIN_LEFT + (plot_width / 2 if len(points) == 1 else index * plot_width / (len(points) - 1))

    def y(value: float) -> float:
        return MARGIN_TOP + (high - value) / (high - low) * plot_height

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{MARGIN_LEFT}" y="14" class="chart-title">{escape(title)}</text>',
             f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_width}" height="{plot_height}" '
             'fill="none" stroke="#ccc"/>']
    for tick in (high, (high + low) / 2, low):
        parts.append(f'<text x="{MARGIN_LEFT - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                     f'class="chart-tick">{_fmt(tick)}</text>')
    if threshold_note:
        parts.append(f'<text x="{MARGIN_LEFT + 4}" y="{MARGIN_TOP + 11}" class="chart-tick" '
                     f'fill="#c62828">{escape(threshold_note)}</text>')
    elif threshold is not None:
        parts.append(_horizontal(y(threshold), "#c62828", "5 3", f"threshold {_fmt(threshold)}"))
    if baseline is not None:
        parts.append(_horizontal(y(baseline), "#777", "2 3", f"baseline {_fmt(baseline)}"))
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    label_every = max(1, len(points) // 6)
    for index, point in enumerate(points):
        colour = VERDICT_COLOURS.get(point.verdict, "#455a64")
        hover = escape(f"{point.title or point.label}: {_fmt(point.value)} ({point.verdict})")
        parts.append(f'<circle cx="{x(index):.1f}" cy="{y(point.value):.1f}" r="3.5" fill="{colour}">'
                     f'<title>{hover}</title></circle>')
        if index % label_every == 0 or index == len(points) - 1:
            parts.append(f'<text x="{x(index):.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                         f'class="chart-tick">{escape(point.label[:9])}</text>')
    last = len(points) - 1
    parts.append(f'<circle cx="{x(last):.1f}" cy="{y(points[-1].value):.1f}" r="6.5" fill="none" '
                 'stroke="#111" stroke-width="1.2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _horizontal(y_position: float, colour: str, dashes: str, label: str) -> str:
    return (f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y_position:.1f}" y2="{y_position:.1f}" '
            f'stroke="{colour}" stroke-dasharray="{dashes}"/>'
            f'<text x="{WIDTH - MARGIN_RIGHT - 2}" y="{y_position - 3:.1f}" text-anchor="end" '
            f'class="chart-tick" fill="{colour}">{escape(label)}</text>')
