"""What the HTML report shows, gathered from a session (or from the store alone), before layout.

Two sources give the same model, so one page builder serves both:

- ``from_session``: the session's results and thumbnails, paired with the store's baseline
  images, and each metric's history from the stored run files plus this run;
- ``from_store``: the newest result of every test over the last N run files, with baseline
  images and history (``genquality report``: a dashboard of recent commits, no test run).
  A result whose newest value comes from an older run than the newest (its metric was not
  measured in the newest run) is marked ``stale``: shown with the run it comes from, never
  counted as the current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..stats.rules import threshold_crossed, threshold_words
from ..store.files import StoreFileError
from .history import series
from .table import VERDICT_ORDER, sorted_results
from .svg_chart import ChartPoint
from .thumbnails import (
    DEFAULT_SIZE,
    MAX_THUMBNAILS,
    decode_png,
    difference_heatmap,
    file_thumbnail,
    match_size,
    png_base64,
)

OLDER_RUN = "older"  # a test's state when none of its metrics was measured in the newest run (dashboard)
HISTORY_RUNS = 50  # run files read for the history charts of a session report: enough to see a trend


@dataclass
class ImageTile:
    """One seed's cell in a test's grid; images are base64 PNG text, any may be None."""

    seed: int | None
    prompt: str | None
    generated: str | None = None
    baseline: str | None = None
    heatmap: str | None = None
    mean_difference: float | None = None  # mean |generated - baseline| in 8-bit levels, at thumbnail size


@dataclass
class Chart:
    title: str
    points: list[ChartPoint]
    threshold: float | None
    baseline: float | None


@dataclass
class TestReport:
    node_id: str
    results: list[dict]
    tiles: list[ImageTile] = field(default_factory=list)
    total_images: int = 0  # images the test's batches held (tiles show at most MAX_THUMBNAILS)
    charts: list[Chart] = field(default_factory=list)
    grid_shared_with: str | None = None  # node id of the test above that shows the very same tiles

    @property
    def verdict(self) -> str:
        """The worst verdict among the test's current metrics (fail before no-baseline before ... pass);
        ``OLDER_RUN`` when all of them come from runs older than the newest (dashboard)."""
        current = [r["verdict"] for r in self.results if not r.get("stale")]
        if self.results and not current:
            return OLDER_RUN
        return min(current, key=lambda v: VERDICT_ORDER.get(v, 9), default="pass")


@dataclass
class ReportModel:
    title: str
    provenance: dict
    results: list[dict]  # failures first
    tests: list[TestReport]  # failures first
    runs: list[dict] = field(default_factory=list)  # dashboard: one summary per run shown
    notes: list[str] = field(default_factory=list)  # e.g. run files that could not be read

    @property
    def current_results(self) -> list[dict]:
        """The results of the newest run: what the header counts (all of them in a session report)."""
        return [r for r in self.results if not r.get("stale")]

    @property
    def older_results(self) -> list[dict]:
        """Dashboard rows whose metric was not measured in the newest run: shown, marked, not counted."""
        return [r for r in self.results if r.get("stale")]


def verdict_reason(result: dict) -> str:
    """Why a result got its verdict, in words: a crossed threshold first, then the drift test.

    The stored ``reason`` describes the drift comparison only, so a threshold failure whose
    drift was within noise would otherwise read "within sampling noise" next to "fail".
    """
    reasons = []
    threshold, value = result.get("threshold"), result.get("value")
    higher = bool(result.get("higher_is_better", False))
    if threshold_crossed(value, threshold, higher_is_better=higher):
        reasons.append(threshold_words(value, threshold, higher_is_better=higher))
    if result.get("verdict") == "no-baseline":
        reasons.append("no baseline on this lane: run `pytest --update-refs`")
    elif result.get("reason"):
        reasons.append(result["reason"])
    if result.get("verdict") == "fail" and (losses := prompt_losses(result)):
        reasons.append(f"prompts that lost the most: {losses}")
    return "; ".join(reasons)


PROMPT_LOSSES_SHOWN = 3


def prompt_losses(result: dict, shown: int = PROMPT_LOSSES_SHOWN) -> str:
    """The per-image scores' prompts that lost most against the baseline (``details["per_prompt"]``,
    worst first, as ``checks.scores`` records it), in words; "" when none lost or none were recorded."""
    rows = (result.get("details") or {}).get("per_prompt") or []
    sign = 1 if result.get("higher_is_better", True) else -1
    lost = [row for row in rows if "delta" in row and sign * row["delta"] < 0][:shown]
    return ", ".join(f"'{row['prompt']}' {row['delta']:+.4g} ({row['n']} images)" for row in lost)


def _load_runs(store, paths: list[Path], notes: list[str]) -> list[tuple[str, dict]]:
    """(file name, payload) per readable run file; an unreadable one is noted, not fatal."""
    runs = []
    for path in paths:
        try:
            runs.append((path.name, store.load_run(path)))
        except StoreFileError as error:
            notes.append(f"skipped run file: {error}")
    return runs


def _charts(node_id: str, results: list[dict], history: dict) -> list[Chart]:
    charts = []
    for result in results:
        points = history.get((node_id, result["key"], result.get("lane", "")), [])
        if not points:
            continue
        chart_points = [ChartPoint(p.commit, p.value, p.verdict, f"{p.commit} {p.time}".strip()) for p in points]
        title = f"{result['key']}  [{result.get('lane', '')}]"
        charts.append(Chart(title, chart_points, result.get("threshold"), result.get("baseline")))
    return charts


def _seed_sort_key(path: Path):
    return (0, int(path.stem)) if path.stem.lstrip("-").isdigit() else (1, path.stem)


def _pair_with_baseline(tile: ImageTile, folder: Path) -> None:
    """Add the stored baseline image of ``tile.seed`` and its difference heat map, when present."""
    path = folder / f"{tile.seed}.png"
    if tile.seed is None or not path.is_file():
        return
    generated = decode_png(tile.generated)
    baseline = match_size(file_thumbnail(path, max(generated.shape[:2])), *generated.shape[:2])
    heat, mean_difference = difference_heatmap(generated, baseline)
    tile.baseline, tile.heatmap, tile.mean_difference = png_base64(baseline), png_base64(heat), mean_difference


def _baseline_tiles(folder: Path, size: int) -> tuple[list[ImageTile], int]:
    """(tiles, how many are stored): one test's baseline images (the dashboard: nothing generated)."""
    if not folder.is_dir():
        return [], 0
    paths = sorted(folder.glob("*.png"), key=_seed_sort_key)
    tiles = [
        ImageTile(
            int(p.stem) if p.stem.lstrip("-").isdigit() else None, None, baseline=png_base64(file_thumbnail(p, size))
        )
        for p in paths[:MAX_THUMBNAILS]
    ]
    return tiles, len(paths)


def _group_by_test(results: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for result in sorted_results(results):
        grouped.setdefault(result["test"] or "(outside a test)", []).append(result)
    return grouped


def _ordered(tests: list[TestReport]) -> list[TestReport]:
    """Failures first; a grid identical to one shown above is shown once (``share_grids``)."""
    return share_grids(sorted(tests, key=lambda t: (VERDICT_ORDER.get(t.verdict, 9), t.node_id)))


def share_grids(tests: list[TestReport]) -> list[TestReport]:
    """Point each test whose tiles equal those of a test above it to that test instead of repeating them.

    Tests that share one batch (a session fixture measured by five tests) keep the same images:
    repeated, 64 thumbnails each, they made the page five times as long for nothing. Tiles are
    compared by content (seed, prompt and every image), so a test whose baseline images or
    heat maps differ keeps its own grid.
    """
    first_with: dict[tuple, str] = {}
    for test in tests:
        if not test.tiles:
            continue
        content = tuple((t.seed, t.prompt, t.generated, t.baseline, t.heatmap) for t in test.tiles)
        key = (content, test.total_images)
        if key in first_with:
            test.grid_shared_with = first_with[key]
        else:
            first_with[key] = test.node_id
    return tests


def from_session(
    results: list[dict],
    provenance: dict,
    *,
    thumbnails: dict | None = None,
    store=None,
    current_run: Path | None = None,
) -> ReportModel:
    """The report of one pytest session.

    thumbnails: node id -> {"total": int, "images": [{"seed", "prompt", "png"}]} (the recorder's).
    store: for baseline images and history; ``current_run`` is this session's run file, left
    out of the stored history because this run's results are appended as its last point.
    """
    thumbnails = thumbnails or {}
    notes: list[str] = []
    stored_runs = []
    if store is not None:
        paths = [p for p in store.run_files() if current_run is None or p.name != Path(current_run).name]
        stored_runs = _load_runs(store, paths[-HISTORY_RUNS:], notes)
    history = series(stored_runs + [("this run", {"provenance": provenance, "results": results})])
    tests = []
    for node_id, node_results in _group_by_test(results).items():
        captured = thumbnails.get(node_id, {})
        tiles = [ImageTile(t.get("seed"), t.get("prompt"), generated=t["png"]) for t in captured.get("images", [])]
        if store is not None:
            for tile in tiles:
                _pair_with_baseline(tile, store.images_dir(node_id))
        tests.append(
            TestReport(
                node_id, node_results, tiles, captured.get("total", len(tiles)), _charts(node_id, node_results, history)
            )
        )
    return ReportModel("genquality report", provenance, sorted_results(results), _ordered(tests), notes=notes)


def _run_summary(name: str, payload: dict) -> dict:
    provenance = payload.get("provenance", {})
    counts: dict[str, int] = {}
    for result in payload.get("results", []):
        counts[result.get("verdict", "?")] = counts.get(result.get("verdict", "?"), 0) + 1
    return {
        "run": name,
        "commit": (provenance.get("commit") or "nogit") + ("+dirty" if provenance.get("dirty") else ""),
        "branch": provenance.get("branch"),
        "time": provenance.get("time", ""),
        "lane": provenance.get("lane", ""),
        "counts": counts,
    }


def from_store(store, *, runs: int = 10, size: int = DEFAULT_SIZE) -> ReportModel:
    """A dashboard of the last ``runs`` run files: newest result per test and metric, history, baselines."""
    if runs < 1:
        raise ValueError(f"runs: expected a positive number of runs, got {runs}")
    notes: list[str] = []
    loaded = _load_runs(store, store.run_files()[-runs:], notes)
    newest: dict[tuple, dict] = {}
    newest_run = loaded[-1][0] if loaded else None
    for name, payload in loaded:
        provenance = payload.get("provenance", {})
        commit = provenance.get("commit") or "nogit"
        for result in payload.get("results", []):
            newest[(result["test"], result["key"], result.get("lane", ""))] = {
                **result,
                "run": name,
                "commit": commit,
                "run_time": provenance.get("time", ""),
                "stale": name != newest_run,
            }
    results = list(newest.values())
    history = series(loaded)
    tests = []
    for node_id, node_results in _group_by_test(results).items():
        tiles, stored = _baseline_tiles(store.images_dir(node_id), size)
        tests.append(TestReport(node_id, node_results, tiles, stored, _charts(node_id, node_results, history)))
    provenance = loaded[-1][1].get("provenance", {}) if loaded else {}
    title = f"genquality dashboard: last {len(loaded)} run{'s' if len(loaded) != 1 else ''}"
    return ReportModel(
        title,
        provenance,
        sorted_results(results),
        _ordered(tests),
        runs=[_run_summary(name, payload) for name, payload in reversed(loaded)],
        notes=notes,
    )
