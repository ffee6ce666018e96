"""The HTML report: one self-contained file (inline CSS, images as data: URIs, inline SVG).

It must open from a CI artifact, an e-mail attachment or a file:// URL with no network, so
nothing is fetched: no fonts, no scripts, no framework. Filtering by verdict is CSS only
(radio buttons that are siblings of the filtered elements), so it works with scripts off.
"""

from __future__ import annotations

from html import escape

from .table import VERDICT_ORDER, failure_cause, legend_lines, older_run_text, table_rows
from .model import OLDER_RUN, ImageTile, ReportModel, TestReport, verdict_reason
from .svg_chart import VERDICT_COLOURS, line_chart
from .thumbnails import DEFAULT_SIZE, HEAT_FULL_SCALE

_CSS = """
:root { --thumb: %(thumb)dpx; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f23; }
body { margin: 0 auto; padding: 12px 20px 40px; max-width: 1400px; background: #fafafa; }
h1 { font-size: 22px; margin: 4px 0; } h2 { font-size: 16px; margin: 0 0 8px; word-break: break-all; }
.meta { color: #555; font-size: 13px; margin: 0 0 10px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; border-radius: 3px; padding: 1px 7px; color: #fff; font-size: 12px; font-weight: 600; }
%(badges)s
.filter-input { position: absolute; opacity: 0; pointer-events: none; }
nav.filters { margin: 8px 0; font-size: 13px; }
nav.filters label { display: inline-block; border: 1px solid #bbb; border-radius: 14px; padding: 2px 10px;
  margin-right: 4px; cursor: pointer; background: #fff; }
%(filters)s
section.test { background: #fff; border: 1px solid #ddd; border-left: 6px solid #455a64; border-radius: 4px;
  padding: 10px 14px; margin: 14px 0; }
%(borders)s
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
.chart { background: #fff; border: 1px solid #eee; } .chart-title { font-size: 12px; font-weight: 600; }
.chart-tick { font-size: 10px; fill: #555; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
figure.tile { margin: 0; padding: 4px; border: 1px solid #e4e4e4; background: #fcfcfc; }
.tile .images { display: flex; gap: 3px; }
.tile img { width: var(--thumb); height: auto; image-rendering: pixelated; display: block; }
.tile .role { font-size: 10px; color: #666; text-align: center; }
figcaption { font-size: 11px; color: #333; max-width: calc(3 * var(--thumb) + 6px); overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.note { color: #8a6d00; font-size: 13px; } .reason { color: #555; font-size: 12px; }
tr.stale td { color: #777; background: #f3f3f3; } tr.stale .badge { opacity: 0.55; }
.older { font-size: 11px; color: #666; white-space: nowrap; }
.cause { font-size: 12px; font-weight: 600; color: #c62828; white-space: nowrap; }
.legend { font-size: 12px; color: #444; margin: 0 0 12px; } .legend ul { margin: 4px 0; padding-left: 18px; }
.badge.v-older { background: #9e9e9e; } section.test.v-older { border-left-color: #bdbdbd; }
"""


def _badge(verdict: str) -> str:
    text = "older run" if verdict == OLDER_RUN else verdict
    return f'<span class="badge v-{escape(verdict)}">{escape(text)}</span>'


def _verdict_cell(result: dict) -> str:
    """The verdict badge, what failed first beside a failure, and for a dashboard row from an older run, that run."""
    cause, older = failure_cause(result), older_run_text(result)
    cause = f' <span class="cause">{escape(cause)}</span>' if cause else ""
    note = f' <span class="older">{escape(older)}, not measured in the newest run</span>' if older else ""
    return f"<td>{_badge(result['verdict'])}{cause}{note}</td>"


def _legend() -> str:
    return (
        '<details class="legend" open><summary>columns</summary><ul>'
        + "".join(f"<li>{escape(line)}</li>" for line in legend_lines())
        + "</ul></details>"
    )


def _row_class(result: dict) -> str:
    """Summary-row classes the CSS filters use: an older run's row is filtered as 'older', not by its verdict."""
    return f"row stale v-{OLDER_RUN}" if result.get("stale") else f"row v-{escape(result['verdict'])}"


def _css(verdicts: list[str], thumb: int) -> str:
    badges = "\n".join(f".badge.v-{v} {{ background: {VERDICT_COLOURS.get(v, '#455a64')}; }}" for v in VERDICT_ORDER)
    borders = "\n".join(
        f"section.test.v-{v} {{ border-left-color: {VERDICT_COLOURS.get(v, '#455a64')}; }}" for v in VERDICT_ORDER
    )
    filters = ["#show-all:checked ~ nav label[for=show-all] { background: #1b1f23; color: #fff; }"]
    for verdict in verdicts:
        filters.append(
            f"#show-{verdict}:checked ~ nav label[for=show-{verdict}] {{ background: #1b1f23; color: #fff; }}"
        )
        filters.append(
            f"#show-{verdict}:checked ~ main section.test:not(.has-{verdict}),"
            f" #show-{verdict}:checked ~ table.summary tr.row:not(.v-{verdict}) {{ display: none; }}"
        )
    return _CSS % {"thumb": thumb, "badges": badges, "borders": borders, "filters": "\n".join(filters)}


def _cells(cells: list[str], numeric: set[int] = frozenset()) -> str:
    return "".join(
        f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>" for i, c in enumerate(cells)
    )


def _header(model: ReportModel) -> str:
    provenance = model.provenance
    commit = (provenance.get("commit") or "no git") + (" (dirty)" if provenance.get("dirty") else "")
    facts = [f"commit {commit}"]
    if provenance.get("branch"):
        facts.append(f"branch {provenance['branch']}")
    if provenance.get("lane"):
        facts.append(f"lane {provenance['lane']}")
    if provenance.get("time"):
        facts.append(provenance["time"])
    counts = _verdict_counts(model)
    totals = ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
    current, older = model.current_results, model.older_results
    tests = len({r["test"] for r in current}) if older else len(model.tests)
    where = " in the newest run" if older else ""
    line = f"{tests} tests, {len(current)} metrics{where}: {totals or 'nothing measured'}"
    if older:
        line += (
            f"; {_count(len(older), 'more row')} from older runs (not measured in the newest run: "
            "greyed, marked with their run, not counted)"
        )
    return (
        f"<header><h1>{escape(model.title)}</h1>"
        f'<p class="meta">{escape(" · ".join(facts))}<br>{escape(line)}</p></header>'
    )


def _verdict_counts(model: ReportModel) -> dict[str, int]:
    """Metrics of the newest run (rows of the summary table) per verdict, worst verdict first."""
    counts: dict[str, int] = {}
    for result in model.current_results:
        counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: VERDICT_ORDER.get(item[0], 9)))


def _filter_counts(model: ReportModel) -> dict[str, int]:
    """What the filters offer: each verdict of the newest run, then rows from older runs."""
    counts = _verdict_counts(model)
    if model.older_results:
        counts[OLDER_RUN] = len(model.older_results)
    return counts


def _has_classes(test: TestReport) -> str:
    return " ".join(
        sorted({f"has-{OLDER_RUN}" if r.get("stale") else f"has-{escape(r['verdict'])}" for r in test.results})
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _filters(model: ReportModel) -> tuple[str, str]:
    """(radio inputs, visible labels): the inputs go first in <body>, as siblings of what they filter.

    A filter shows the summary rows (metrics) of its verdict and the test sections holding at
    least one of them; its label counts both, so "pass" over two rows of one test says so.
    """
    counts = _filter_counts(model)
    inputs = ['<input class="filter-input" type="radio" name="verdict-filter" id="show-all" checked>']
    labels = [
        f'<label for="show-all">all ({_count(len(model.results), "metric")}, '
        f"{_count(len(model.tests), 'test')})</label>"
    ]
    for verdict, count in counts.items():
        tests = sum(1 for test in model.tests if f"has-{verdict}" in _has_classes(test).split())
        name = "older runs" if verdict == OLDER_RUN else verdict
        inputs.append(f'<input class="filter-input" type="radio" name="verdict-filter" id="show-{escape(verdict)}">')
        labels.append(
            f'<label for="show-{escape(verdict)}">{escape(name)} ({_count(count, "metric")}, '
            f"{_count(tests, 'test')})</label>"
        )
    return "".join(inputs), '<nav class="filters">show: ' + "".join(labels) + "</nav>"


def _summary_table(model: ReportModel, anchors: dict[str, str]) -> str:
    rows = table_rows(model.results)
    head = "".join(f"<th>{escape(name)}</th>" for name in rows[0])
    body = []
    for result, cells in zip(model.results, rows[1:]):
        test = cells[0]
        link = f'<a href="#{anchors[test]}">{escape(test)}</a>' if test in anchors else escape(test)
        body.append(
            f'<tr class="{_row_class(result)}"><td>{link}</td>'
            f"{_cells(cells[1:-1], {1, 3, 4, 5})}{_verdict_cell(result)}</tr>"
        )
    return f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _runs_table(runs: list[dict]) -> str:
    if not runs:
        return ""
    body = []
    for run in runs:
        counts = ", ".join(
            f"{n} {v}" for v, n in sorted(run["counts"].items(), key=lambda i: VERDICT_ORDER.get(i[0], 9))
        )
        body.append(
            f"<tr>{_cells([run['commit'], run.get('branch') or '', run['time'], run['lane'], counts, run['run']])}</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("commit", "branch", "time", "lane", "results", "run file"))
    return f'<h2>Runs (newest first)</h2><table class="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _metrics_table(test: TestReport) -> str:
    rows = table_rows(test.results)
    head = "".join(f"<th>{escape(name)}</th>" for name in rows[0][1:] + ["n", "reason"])
    body = []
    for result, cells in zip(test.results, rows[1:]):
        extra = [str(result.get("n") if result.get("n") is not None else "—")]
        reason = f'<td class="reason">{escape(verdict_reason(result))}</td>'
        stale = ' class="stale"' if result.get("stale") else ""
        body.append(
            f"<tr{stale}>{_cells(cells[1:-1], {1, 3, 4, 5})}{_verdict_cell(result)}{_cells(extra, {0})}{reason}</tr>"
        )
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _img(png: str, role: str, alt: str) -> str:
    return (
        f'<div><img class="{role}" src="data:image/png;base64,{png}" alt="{escape(alt)}">'
        f'<div class="role">{escape(role)}</div></div>'
    )


def _tile(tile: ImageTile) -> str:
    name = "unseeded" if tile.seed is None else f"seed {tile.seed}"
    images = []
    if tile.generated:
        images.append(_img(tile.generated, "generated", f"generated, {name}"))
    if tile.baseline:
        images.append(_img(tile.baseline, "baseline", f"baseline, {name}"))
    if tile.heatmap:
        images.append(_img(tile.heatmap, "difference", f"|generated - baseline|, {name}"))
    caption = name
    if tile.mean_difference is not None:
        caption += f" · mean |Δ| {tile.mean_difference:.2f}"
    if tile.prompt:
        caption += f" · {tile.prompt}"
    return (
        f'<figure class="tile" data-seed="{escape(str(tile.seed))}"><div class="images">{"".join(images)}</div>'
        f'<figcaption title="{escape(tile.prompt or name)}">{escape(caption)}</figcaption></figure>'
    )


def _grid(test: TestReport, anchors: dict[str, str]) -> str:
    if not test.tiles:
        return ""
    kind = "generated images" if any(t.generated for t in test.tiles) else "baseline images"
    shown = f"{len(test.tiles)} of {test.total_images}" if test.total_images > len(test.tiles) else str(len(test.tiles))
    if test.grid_shared_with in anchors:
        owner = test.grid_shared_with
        return (
            f'<p class="meta shared-grid">{escape(kind)} ({shown}): the same batch as '
            f'<a href="#{anchors[owner]}">{escape(owner)}</a>, shown there</p>'
        )
    legend = ""
    if any(t.heatmap for t in test.tiles):
        legend = (
            f"; difference: per-pixel |generated − baseline|, black = 0, yellow/white ≥ "
            f"{HEAT_FULL_SCALE:.0f} of 255 levels"
        )
    return (
        f'<p class="meta">{escape(kind)} ({shown}){escape(legend)}</p>'
        f'<div class="grid">{"".join(_tile(t) for t in test.tiles)}</div>'
    )


def _section(test: TestReport, anchors: dict[str, str]) -> str:
    anchor = anchors[test.node_id]
    charts = "".join(
        line_chart(c.points, title=c.title, threshold=c.threshold, baseline=c.baseline) for c in test.charts
    )
    has = _has_classes(test)
    return (
        f'<section class="test v-{escape(test.verdict)} {has}" id="{anchor}" data-verdict="{escape(test.verdict)}">'
        f"<h2>{_badge(test.verdict)} {escape(test.node_id)}</h2>{_metrics_table(test)}"
        f'<div class="charts">{charts}</div>{_grid(test, anchors)}</section>'
    )


MIN_DISPLAY = 80  # CSS px: smaller thumbnails are shown enlarged (pixelated) so tiles and captions stay legible


def build_page(model: ReportModel, *, thumb: int = DEFAULT_SIZE) -> str:
    """The whole HTML document. ``thumb``: the thumbnails' size; images show at least MIN_DISPLAY wide."""
    anchors = {test.node_id: f"test-{index}" for index, test in enumerate(model.tests)}
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in model.notes)
    versions = ", ".join(f"{k} {v}" for k, v in (model.provenance.get("versions") or {}).items())
    inputs, nav = _filters(model)
    body = (
        inputs
        + _header(model)
        + nav
        + notes
        + _summary_table(model, anchors)
        + _legend()
        + _runs_table(model.runs)
        + "<main>"
        + "".join(_section(test, anchors) for test in model.tests)
        + "</main>"
        + f'<footer class="meta">{escape(versions)}</footer>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(model.title)}</title><style>{_css(list(_filter_counts(model)), max(thumb, MIN_DISPLAY))}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def write_page(path, model: ReportModel, *, thumb: int = DEFAULT_SIZE):
    """Write the page atomically (a half-written report must never look like a complete one)."""
    from pathlib import Path

    from ..store.files import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, build_page(model, thumb=thumb).encode("utf-8"))
    return path
