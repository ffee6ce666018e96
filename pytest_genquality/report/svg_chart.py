"""Inline SVG line charts of one metric across runs, for the HTML report.

Hand-written rather than matplotlib: the report must be one self-contained file, build in
milliseconds for hundreds of tests, and the chart is simple (one series, a threshold line,
a baseline line, runs in order on the x axis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 360, 150
MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 28, 22, 30
TICK_FONT_PX = 10  # .chart-tick font-size in the report's CSS
CHAR_PX = 0.62 * TICK_FONT_PX  # width of one character of a tick label, generous for digits and 'e+'
LABEL_GAP_PX = 8  # free space between two x labels
X_LABEL_CHARS = 9  # commit labels are cut to this many characters
LINE_LABEL_PX = 12  # two horizontal-line labels closer than this would overlap
TITLE_FONT_PX = 12  # .chart-title font-size in the report's CSS (bold)
TITLE_CHAR_PX = 0.66 * TITLE_FONT_PX  # width of one bold title character, generous
TITLE_LINE_PX = 14  # a wrapped title's line height; the plot moves down by this per extra line
MAX_TITLE_LINES = 3  # a longer title is cut with an ellipsis (the whole title is the chart's tooltip)
TITLE_X = 4
VERDICT_COLOURS = {
    "fail": "#c62828",
    "error": "#6a1b9a",
    "no-baseline": "#ef6c00",
    "improved": "#2e7d32",
    "updated": "#1565c0",
    "not-written": "#8d6e63",
    "pass": "#455a64",
}


@dataclass(frozen=True)
class ChartPoint:
    label: str  # x-axis label: the run's commit
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


def _tick(value: float) -> str:
    """A y tick label: 4 significant digits, exponents without padding (6.868e+04 -> 6.868e4)."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _text_px(text: str) -> float:
    return len(text) * CHAR_PX


def line_chart(
    points: list[ChartPoint], *, title: str, threshold: float | None = None, baseline: float | None = None
) -> str:
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
    ticks = [(value, _tick(value)) for value in (high, (high + low) / 2, low)]
    margin_left = max(36, round(max(_text_px(label) for _, label in ticks)) + 10)  # the labels never clip
    title_lines = wrap_title(title, int((WIDTH - 2 * TITLE_X) // TITLE_CHAR_PX))
    extra = TITLE_LINE_PX * (len(title_lines) - 1)
    top, height = MARGIN_TOP + extra, HEIGHT + extra
    plot_width = WIDTH - margin_left - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(index: int) -> float:
        return margin_left + (plot_width / 2 if len(points) == 1 else index * plot_width / (len(points) - 1))

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_height

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
    ]
    parts.extend(
        f'<text x="{TITLE_X}" y="{14 + TITLE_LINE_PX * i}" class="chart-title">{escape(line)}</text>'
        for i, line in enumerate(title_lines)
    )
    if len(title_lines) > 1:
        parts.append(f"<title>{escape(title)}</title>")
    parts.append(
        f'<rect x="{margin_left}" y="{top}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#ccc"/>'
    )
    for value, label in ticks:
        parts.append(
            f'<text x="{margin_left - 4}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'class="chart-tick">{escape(label)}</text>'
        )
    if threshold_note:
        parts.append(
            f'<text x="{margin_left + 4}" y="{top + 11}" class="chart-tick" '
            f'fill="#c62828">{escape(threshold_note)}</text>'
        )
    threshold_drawn = threshold is not None and not threshold_note
    if threshold_drawn:
        parts.append(_horizontal(margin_left, y(threshold), "#c62828", "5 3", f"threshold {_fmt(threshold)}", "end"))
    if baseline is not None:
        # next to the threshold's label the baseline's goes to the other end of its line
        crowded = threshold_drawn and abs(y(baseline) - y(threshold)) < LINE_LABEL_PX
        parts.append(
            _horizontal(
                margin_left, y(baseline), "#777", "2 3", f"baseline {_fmt(baseline)}", "start" if crowded else "end"
            )
        )
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    room = int((plot_width + LABEL_GAP_PX) // (X_LABEL_CHARS * CHAR_PX + LABEL_GAP_PX))
    labelled = set(labelled_indices(len(points), room))
    for index, point in enumerate(points):
        colour = VERDICT_COLOURS.get(point.verdict, "#455a64")
        hover = escape(f"{point.title or point.label}: {_fmt(point.value)} ({point.verdict})")
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(point.value):.1f}" r="3.5" fill="{colour}">'
            f"<title>{hover}</title></circle>"
        )
        if index in labelled:
            parts.append(
                f'<text x="{x(index):.1f}" y="{height - 10}" text-anchor="middle" '
                f'class="chart-tick">{escape(point.label[:9])}</text>'
            )
    last = len(points) - 1
    parts.append(
        f'<circle cx="{x(last):.1f}" cy="{y(points[-1].value):.1f}" r="6.5" fill="none" '
        'stroke="#111" stroke-width="1.2"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def wrap_title(title: str, width: int) -> list[str]:
    """``title`` in lines of at most ``width`` characters: broken at spaces, and inside a long word
    after a '/' (a lane: ``cuda/NVIDIA H100/fp16/torch-2.14.1``); at most ``MAX_TITLE_LINES``, the
    last cut with an ellipsis if the title is longer still."""
    pieces: list[tuple[str, str]] = []  # (text, what joins it to the piece before on one line)
    for index, word in enumerate(title.split()):
        parts = re.findall(r"[^/]*/|[^/]+", word) if len(word) > width else [word]
        pieces.extend((part, " " if index and not position else "") for position, part in enumerate(parts))
    lines = [""]
    for text, joiner in pieces:
        candidate = lines[-1] + (joiner if lines[-1] else "") + text
        if len(candidate) <= width or not lines[-1]:
            lines[-1] = candidate
        else:
            lines.append(text)
    lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    if len(lines) > MAX_TITLE_LINES:
        lines = lines[:MAX_TITLE_LINES]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def labelled_indices(count: int, room: int) -> list[int]:
    """Which of ``count`` evenly spaced points get an x label when ``room`` labels fit side by side.

    Every ``step``-th point from the first, and always the newest (the ringed one); a regular
    label closer than ``step`` to the newest gives way to it, so no two labels overlap.
    """
    if count <= 0:
        return []
    if count == 1 or room <= 1:
        return [count - 1]
    step = max(1, -(-(count - 1) // (room - 1)))
    indices = list(range(0, count, step))
    if indices[-1] != count - 1:
        if count - 1 - indices[-1] < step:
            indices[-1] = count - 1
        else:
            indices.append(count - 1)
    return indices


def _horizontal(margin_left: float, y_position: float, colour: str, dashes: str, label: str, anchor: str) -> str:
    """A dashed line across the plot, labelled above it at its right ("end") or left ("start") end."""
    label_x = WIDTH - MARGIN_RIGHT - 2 if anchor == "end" else margin_left + 2
    return (
        f'<line x1="{margin_left}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y_position:.1f}" y2="{y_position:.1f}" '
        f'stroke="{colour}" stroke-dasharray="{dashes}"/>'
        f'<text x="{label_x}" y="{y_position - 3:.1f}" text-anchor="{anchor}" '
        f'class="chart-tick" fill="{colour}">{escape(label)}</text>'
    )
