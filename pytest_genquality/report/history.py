"""Metric history across run files: the data behind `genquality history` and `genquality diff`.

Pure functions over loaded run payloads (dicts), so they are tested on synthetic run files.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDependencyError, RunNotFoundError
from ..stats.rules import threshold_crossed, threshold_words, tolerance_verdict, worsening
from ..stats import AUTO_MARGIN_SDS, DRIFT_ALPHA, normal_margin_p, parse_max_drift
from .table import verdict_label


@dataclass(frozen=True)
class Point:
    run: str  # run file name
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
            found.setdefault(key, []).append(
                Point(
                    run_name,
                    commit,
                    provenance.get("time", ""),
                    float(result["value"]),
                    result.get("verdict", ""),
                    result.get("n"),
                )
            )
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
            lines.append(
                f"  {point.commit:<14} {point.time:<26} {point.n if point.n is not None else '—':>6} "
                f"{point.value:>12.4g} {delta:>10}  {verdict_label(point.verdict)}"
            )
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
        raise MissingDependencyError(
            "genquality history --plot needs matplotlib: pip install 'pytest-genquality[plot]'"
        ) from None
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
    not tested, and what would test it; ``failed``: why the new run itself failed on this
    metric (a crossed threshold first, else the verdict its test recorded, else "its test
    failed before measuring it"), whatever the comparison says; ``missing``: why a metric of
    the old run has no value in the new one.
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
    failed: str = ""
    missing: str = ""

    @property
    def verdict(self) -> str:
        """What `genquality diff` prints: a failure of the new run first, then the comparison."""
        if self.failed:
            return f"FAIL: {self.failed}"
        if self.worse:
            return "WORSE"
        if self.old is None:
            return "added"
        if self.new is None:
            return self.missing or "removed"
        return "better" if self.better else self.note or "ok"


def _recorded_noise(result: dict | None) -> tuple[float | None, float | None]:
    """(seed-noise SD, margin) a recorded result's drift test used, when it ran one."""
    noise = (result or {}).get("noise")
    if not isinstance(noise, dict):
        return None, None
    return noise.get("noise_sd"), noise.get("margin")


FIXED_TOLERANCE_HINT = "--max-drift N (or N%) compares the values"


def _untested_note(after: dict) -> str:
    """Why the margin test cannot judge this pair, and what would (from what the new run recorded)."""
    if str(after.get("extractor_id") or "").startswith("paired:"):
        return (
            "not drift-tested: a paired check (each seed vs its baseline image), so its threshold "
            f"judges it; {FIXED_TOLERANCE_HINT}"
        )
    noise, reason = after.get("noise"), after.get("reason") or ""
    if isinstance(noise, str) and noise:
        return f"{noise.rstrip('.')} (so in its run too); {FIXED_TOLERANCE_HINT}"
    if reason.startswith("drift not checked"):
        return f"untested: the test sets max_drift=None; {FIXED_TOLERANCE_HINT}"
    return (
        "untested: no seed-noise estimate in the run or its baseline (`pytest --update-refs` stores one "
        f"for metrics with samples); {FIXED_TOLERANCE_HINT}"
    )


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
        change.note = _untested_note(after)
        return change
    margin = AUTO_MARGIN_SDS * noise_sd if margin is None else margin
    worse_by = worsening(change.new, change.old, higher_is_better=change.higher_is_better)
    change.noise_sd, change.margin = float(noise_sd), float(margin)
    change.p_value = normal_margin_p(worse_by, margin, noise_sd)
    change.worse = change.p_value < DRIFT_ALPHA
    change.better = normal_margin_p(-worse_by, margin, noise_sd) < DRIFT_ALPHA
    return change


FAILED_VERDICTS = ("fail", "error", "no-baseline")  # recorded verdicts that failed their test


def _run_failure(after: dict) -> str:
    """Why the new run failed on this result ('' when it did not): the threshold first."""
    higher = bool(after.get("higher_is_better", False))
    if threshold_crossed(after.get("value"), after.get("threshold"), higher_is_better=higher):
        return threshold_words(after["value"], after["threshold"], higher_is_better=higher)
    if after.get("verdict") in FAILED_VERDICTS:
        return f"{after['verdict']} in its run" + (f" ({after['reason']})" if after.get("reason") else "")
    return ""


def _why_missing(test: str, key: str, new_run: dict) -> tuple[str, str]:
    """(label, failure) for a metric of the old run that the new run has no value of.

    From what the new run file records: each test's outcome (``tests``, since 0.3) and the
    results its tests did record. A test that failed or stopped before this metric is "not
    measured", and fails the diff; one that passed without it had the assertion "removed".
    """
    outcomes = new_run.get("tests")
    recorded = [r for r in new_run.get("results", []) if r.get("test") == test]
    outcome = outcomes.get(test) if isinstance(outcomes, dict) else None
    if outcome is None and recorded:
        outcome = "failed" if any(r.get("verdict") in FAILED_VERDICTS for r in recorded) else "passed"
    if outcome == "failed":
        stopped = [r["key"] for r in recorded if r.get("verdict") in FAILED_VERDICTS]
        where = f" (it failed at {stopped[-1]})" if stopped else ""
        return f"not measured: its test failed before measuring it{where}", f"not measured: its test failed{where}"
    if outcome == "passed":
        if any(r.get("key") == key for r in recorded):
            return "not measured on this lane in the new run", ""
        return "removed (its test passed without measuring it)", ""
    if isinstance(outcomes, dict):
        return "not run: its test did not run in the new run (deselected, skipped, or gone)", ""
    return "not in the new run (its test did not run, or failed before any check)", ""


def diff(old_run: dict, new_run: dict, *, max_drift="auto", noise_sds: dict | None = None) -> list[Change]:
    """Compare two runs result by result; ``worse`` marks a worsening beyond ``max_drift``.

    ``max_drift="auto"`` applies the drift gate's margin test (see ``_auto_change``);
    ``noise_sds``: (test, key, lane) -> seed-noise SD from the store's baselines, for results
    whose run file carries none. A number or a percentage is a fixed tolerance; None is off.
    Whatever the comparison, a failure recorded in the new run (``_run_failure``) or a metric
    its failing test never reached (``_why_missing``) sets ``failed``.
    """
    mode, amount = parse_max_drift(max_drift)

    def index(run: dict) -> dict:
        return {(r["test"], r["key"], r.get("lane", "")): r for r in run.get("results", [])}

    old, new = index(old_run), index(new_run)
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        higher = bool((after or before).get("higher_is_better", False))
        change = Change(
            key[0],
            key[1],
            key[2],
            before["value"] if before else None,
            after["value"] if after else None,
            higher,
            False,
        )
        if before is not None and after is not None and mode == "auto":
            change = _auto_change(change, before, after, noise_sds or {})
        elif before is not None and after is not None and mode != "off":
            verdict, _, _ = tolerance_verdict(
                after["value"], before["value"], higher_is_better=higher, mode=mode, amount=amount
            )
            change.worse, change.better = verdict == "fail", verdict == "improved"
        if after is not None:
            change.failed = _run_failure(after)
        else:
            change.missing, change.failed = _why_missing(key[0], key[1], new_run)
        changes.append(change)
    return changes


def diff_lines(changes: list[Change]) -> list[str]:
    rows = [["test", "metric", "lane", "old", "new", "delta", "margin", "noise SD", "p", "verdict"]]
    for change in changes:
        delta = "—" if change.old is None or change.new is None else f"{change.new - change.old:+.4g}"
        rows.append(
            [
                change.test,
                change.key,
                change.lane,
                "—" if change.old is None else f"{change.old:.4g}",
                "—" if change.new is None else f"{change.new:.4g}",
                delta,
                "—" if change.margin is None else f"{change.margin:.3g}",
                "—" if change.noise_sd is None else f"{change.noise_sd:.3g}",
                "—" if change.p_value is None else f"{change.p_value:.2g}",
                change.verdict,
            ]
        )
    from .table import format_table

    return format_table(rows)


def find_run(run_files: list[Path], revision: str) -> Path:
    """A run by index (-1 = newest), by file name, or by a commit prefix that names one run only.

    An integer within the range of stored runs is an index; any other string of digits is a
    commit prefix (a 7-digit short hash is all decimal digits about one time in 27). A prefix
    matching several runs (one commit run twice, or two commits alike) is an error listing
    them: picking one silently could pick the other side of the comparison.
    """
    if not run_files:
        raise RunNotFoundError("no run files in the store yet: run pytest first")
    try:
        index = int(revision)
    except ValueError:
        index = None
    if index is not None and -len(run_files) <= index < len(run_files):
        return run_files[index]
    for path in reversed(run_files):
        if path.name == revision or path.stem == revision:
            return path
    matches = []
    for path in run_files:
        commit = path.stem.split("_")[1] if "_" in path.stem else ""
        if commit and (commit.startswith(revision) or revision.startswith(commit)):
            matches.append(path)
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = "\n".join(f"  {path.stem}" for path in reversed(matches))
        raise RunNotFoundError(
            f"commit {revision!r} matches {len(matches)} runs (newest first):\n{listed}\n"
            "name one by its run file name or by index (-1 = newest)"
        )
    if index is not None:  # all digits and no commit starts so: an index out of range
        raise RunNotFoundError(f"run index {revision} out of range: {len(run_files)} runs are stored")
    raise RunNotFoundError(f"no run matches {revision!r}; runs: {', '.join(p.stem for p in run_files[-5:])} ...")
