"""Metric history across run files: the data behind `genquality history` and `genquality diff`.

Pure functions over loaded run payloads (dicts), so they are tested on synthetic run files.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from ..stats import AUTO_MARGIN_SDS, DRIFT_ALPHA, normal_margin_p, parse_max_drift
from .table import verdict_label


@dataclass(frozen=True)
class Point:
    run: str            # run file name
    commit: str
    time: str
    value: float
    verdict: str
    n: int | None


def series(runs: list[tuple[str, dict]], *, test: str | None = None, metric: str | None = None) -> dict:
    """(test, metric key, lane) -> [Point], oldest first. ``test`` is a glob on node ids."""
    found: dict[tuple, list[Point]] = {}
    for run_name, payload in runs:
        provenance = payload.get("provenance", {})
        commit = (provenance.get("commit") or "nogit") + ("+dirty" if provenance.get("dirty") else "")
        for result in payload.get("results", []):
            if test and not fnmatch.fnmatch(result["test"], test) and test not in result["test"]:
                continue
            if metric and result["metric"] != metric and result["key"] != metric:
                continue
            key = (result["test"], result["key"], result.get("lane", ""))
            found.setdefault(key, []).append(Point(run_name, commit, provenance.get("time", ""), float(result["value"]),
                                                   result.get("verdict", ""), result.get("n")))
    return dict(sorted(found.items()))


def history_lines(all_series: dict) -> list[str]:
    if not all_series:
        return ["no recorded results match (runs are written to <store>/runs/ by every pytest session)"]
    lines = []
    for (test, key, lane), points in all_series.items():
        lines.append(f"{test}  {key}  [{lane}]")
        lines.append(f"  {'commit':<14} {'time':<26} {'n':>6} {'value':>12} {'delta':>10}  verdict")
        previous = None
        for point in points:
            delta = "—" if previous is None else f"{point.value - previous:+.4g}"
            lines.append(f"  {point.commit:<14} {point.time:<26} {point.n if point.n is not None else '—':>6} "
                         f"{point.value:>12.4g} {delta:>10}  {verdict_label(point.verdict)}")
            previous = point.value
        lines.append("")
    return lines


def run_axis(all_series: dict) -> tuple[list[str], dict[str, int]]:
    """The shared x axis of a history plot: every run once, oldest first.

    Returns (commit label per run, run file name -> position). Plotting each series at its own
    index would put a test that ran in runs 2 and 3 only under the commits of runs 1 and 2.
    Run file names start with the UTC time, so their order is the runs' order.
    """
    commits: dict[str, str] = {}
    for points in all_series.values():
        for point in points:
            commits.setdefault(point.run, point.commit)
    runs = sorted(commits)
    return [commits[run] for run in runs], {run: index for index, run in enumerate(runs)}


MAX_X_LABELS = 16  # commit labels per axis before they are thinned (rotated 30°, 7 pt)


def plot_figure(all_series: dict):
    """A matplotlib figure: one subplot per metric key, every test/lane a line, all on the run axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("genquality history --plot needs matplotlib: pip install 'pytest-genquality[plot]'") from None
    labels, position = run_axis(all_series)
    by_metric: dict[str, list] = {}
    for (test, key, lane), points in all_series.items():
        by_metric.setdefault(key, []).append((f"{test} [{lane}]", points))
    figure, axes = plt.subplots(len(by_metric), 1, figsize=(9, 3.2 * max(len(by_metric), 1)), squeeze=False)
    step = max(1, -(-len(labels) // MAX_X_LABELS))
    ticks = list(range(0, len(labels), step))
    for axis, (key, lines) in zip(axes[:, 0], sorted(by_metric.items())):
        for label, points in lines:
            axis.plot([position[p.run] for p in points], [p.value for p in points], marker="o", label=label)
        axis.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, fontsize=7)
        axis.set_xlim(-0.5, len(labels) - 0.5)
        axis.set_title(key)
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot(all_series: dict, path: Path) -> Path:
    """One PNG: a subplot per metric key, every test/lane a line, runs in order on a shared x axis."""
    figure = plot_figure(all_series)
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


@dataclass
class Change:
    """One metric of one test compared across two runs.

    ``worse``: worse beyond the tolerance; ``margin``, ``noise_sd``, ``p_value``: the noise test's
    terms when ``max_drift="auto"`` (None otherwise, or when untested); ``note``: why a pair was
    not tested (another N, no seed-noise estimate).
    """

    test: str
    key: str
    lane: str
    old: float | None
    new: float | None
    higher_is_better: bool
    worse: bool
    better: bool = False
    margin: float | None = None
    noise_sd: float | None = None
    p_value: float | None = None
    note: str = ""


def _recorded_noise(result: dict | None) -> tuple[float | None, float | None]:
    """(seed-noise SD, margin) a recorded result's drift test used, when it ran one."""
    noise = (result or {}).get("noise")
    if not isinstance(noise, dict):
        return None, None
    return noise.get("noise_sd"), noise.get("margin")


def _auto_change(change: Change, before: dict, after: dict, noise_sds: dict) -> Change:
    """The drift gate's rule on two recorded values: worse when H0 "worsening <= margin" is rejected.

    Run files keep values, not features, so the seed-to-seed noise is the SD the gate estimated
    from the baseline's features (recorded with the result, or stored with the baseline), and the
    worsening is taken as normal with that SD: p = P(N(0, sd) >= worsening - margin). Values at
    different N are not compared (FID's bias depends on N).
    """
    if before.get("n") != after.get("n"):
        change.note = f"not compared: n {before.get('n')} vs {after.get('n')}"
        return change
    noise_sd, margin = _recorded_noise(after)
    if noise_sd is None:
        noise_sd, margin = _recorded_noise(before)
    if noise_sd is None:
        noise_sd = noise_sds.get((change.test, change.key, change.lane))
    if noise_sd is None:
        change.note = "untested: no seed-noise estimate (run pytest --update-refs, or pass --max-drift)"
        return change
    margin = AUTO_MARGIN_SDS * noise_sd if margin is None else margin
    sign = -1.0 if change.higher_is_better else 1.0
    worsening = sign * (change.new - change.old)
    change.noise_sd, change.margin = float(noise_sd), float(margin)
    change.p_value = normal_margin_p(worsening, margin, noise_sd)
    change.worse = change.p_value < DRIFT_ALPHA
    change.better = normal_margin_p(-worsening, margin, noise_sd) < DRIFT_ALPHA
    return change


def diff(old_run: dict, new_run: dict, *, max_drift="auto", noise_sds: dict | None = None) -> list[Change]:
    """Compare two runs result by result; ``worse`` marks a worsening beyond ``max_drift``.

    ``max_drift="auto"`` applies the drift gate's margin test (see ``_auto_change``);
    ``noise_sds``: (test, key, lane) -> seed-noise SD from the store's baselines, for results
    whose run file carries none. A number or a percentage is a fixed tolerance; None is off.
    """
    mode, amount = parse_max_drift(max_drift)
    def index(run: dict) -> dict:
        return {(r["test"], r["key"], r.get("lane", "")): r for r in run.get("results", [])}
    old, new = index(old_run), index(new_run)
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        higher = bool((after or before).get("higher_is_better", False))
        change = Change(key[0], key[1], key[2], before["value"] if before else None,
                        after["value"] if after else None, higher, False)
        if before is not None and after is not None and mode == "auto":
            change = _auto_change(change, before, after, noise_sds or {})
        elif before is not None and after is not None and mode != "off":
            worsening = (before["value"] - after["value"]) if higher else (after["value"] - before["value"])
            tolerance = amount if mode == "absolute" else amount / 100.0 * abs(before["value"])
            change.worse = worsening > tolerance
        changes.append(change)
    return changes


def diff_lines(changes: list[Change]) -> list[str]:
    rows = [["test", "metric", "lane", "old", "new", "delta", "margin", "noise SD", "p", "verdict"]]
    for change in changes:
        delta = "—" if change.old is None or change.new is None else f"{change.new - change.old:+.4g}"
        verdict = "WORSE" if change.worse else "better" if change.better else change.note or "ok"
        if change.old is None or change.new is None:
            verdict = "added" if change.old is None else "removed"
        rows.append([change.test, change.key, change.lane, "—" if change.old is None else f"{change.old:.4g}",
                     "—" if change.new is None else f"{change.new:.4g}", delta,
                     "—" if change.margin is None else f"{change.margin:.3g}",
                     "—" if change.noise_sd is None else f"{change.noise_sd:.3g}",
                     "—" if change.p_value is None else f"{change.p_value:.2g}", verdict])
    from .table import format_table

    return format_table(rows)


def find_run(run_files: list[Path], revision: str) -> Path:
    """A run by index (-1 = newest), by file name, or by commit prefix (newest match).

    An integer within the range of stored runs is an index; any other string of digits is a
    commit prefix (a 7-digit short hash is all decimal digits about one time in 27).
    """
    if not run_files:
        raise SystemExit("no run files in the store yet: run pytest first")
    try:
        index = int(revision)
    except ValueError:
        index = None
    if index is not None and -len(run_files) <= index < len(run_files):
        return run_files[index]
    for path in reversed(run_files):
        if path.name == revision or path.stem == revision:
            return path
    for path in reversed(run_files):
        commit = path.stem.split("_")[1] if "_" in path.stem else ""
        if commit and (commit.startswith(revision) or revision.startswith(commit)):
            return path
    if index is not None:  # all digits and no commit starts so: an index out of range
        raise SystemExit(f"run index {revision} out of range: {len(run_files)} runs are stored")
    raise SystemExit(f"no run matches {revision!r}; runs: {', '.join(p.stem for p in run_files[-5:])} ...")
