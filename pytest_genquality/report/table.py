"""The result table and its ordering: the low module every report writer and `history` share.

Imports nothing from the writers (HTML, Markdown, JSON), so they and `store.history` can
depend on it without a cycle.
"""

from __future__ import annotations

from ..stats.drift import DRIFT_ALPHA
from ..stats.rules import threshold_crossed

VERDICT_ORDER = {"fail": 0, "error": 1, "no-baseline": 2, "not-written": 3, "improved": 4, "updated": 5, "pass": 6}
PROBLEM_VERDICTS = ("fail", "error", "no-baseline")  # shown even under -q
VERDICT_LABELS = {"not-written": "not written (test failed)"}  # verdicts whose run-file name is terse


def verdict_label(verdict: str) -> str:
    """The verdict as the table and `history` print it."""
    return VERDICT_LABELS.get(verdict, verdict)


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}g}"


def _noise_text(result: dict) -> str:
    noise = result.get("noise")
    if isinstance(noise, dict):
        return f"±{noise['band']:.3g}"
    if isinstance(noise, str):
        return "untested"
    return ""


def _margin_text(result: dict) -> str:
    """The drift margin (metric units) the gate tolerated; '—' when drift was not tested by a margin."""
    noise = result.get("noise")
    return _fmt(noise.get("margin"), 3) if isinstance(noise, dict) and "margin" in noise else "—"


def _p_text(result: dict) -> str:
    """The drift test's one-sided p-value on the side the metric moved ('—' when not tested)."""
    noise = result.get("noise")
    if not isinstance(noise, dict) or "p_value" not in noise:
        return "—"
    if noise.get("method") == "inside-margin":
        return "inside"
    better = noise.get("worsening", 0.0) < 0
    return f"{noise['p_better' if better else 'p_value']:.2g}"


def sorted_results(results: list[dict]) -> list[dict]:
    """Failures first, then by test and metric; rows from older runs (dashboard ``stale``) last."""
    return sorted(
        results, key=lambda r: (bool(r.get("stale")), VERDICT_ORDER.get(r["verdict"], 9), r["test"], r["key"])
    )


def older_run_text(result: dict) -> str:
    """'older run ccccccc (2025-01-01T...)' for a dashboard row not measured in the newest run, else ''."""
    if not result.get("stale"):
        return ""
    when = f" ({result['run_time']})" if result.get("run_time") else ""
    return f"older run {result.get('commit') or result.get('run', '?')}{when}"


def failure_cause(result: dict) -> str:
    """What failed, in a few words, for a 'fail' row: a crossed threshold first, else the drift check.

    A threshold failure sits beside the drift test's p, which may have passed: the verdict
    cell names the threshold so the row cannot read as "p passed, yet fail".
    """
    if result.get("verdict") != "fail":
        return ""
    threshold, higher = result.get("threshold"), bool(result.get("higher_is_better", False))
    if threshold_crossed(result.get("value"), threshold, higher_is_better=higher):
        return f"{'below' if higher else 'above'} threshold {_fmt(threshold)}"
    return "drift beyond margin"


def verdict_text(result: dict) -> str:
    """The verdict cell: what failed first; a row from an older run says so, so it never reads as current."""
    cause, older = failure_cause(result), older_run_text(result)
    text = f"{result['verdict']}: {cause}" if cause else verdict_label(result["verdict"])
    return f"{text} ({older})" if older else text


def legend_lines() -> list[str]:
    """What each column of the result table means (HTML and Markdown reports print it under the table)."""
    return [
        "value: the metric measured in this run; threshold: the test's absolute bar (crossing it fails);"
        " baseline: the stored value it is compared with, delta = value - baseline.",
        "CI / noise: [a, b] is the value's 95% confidence interval; ±x is the drift test's seed-noise band"
        " (about 2 seed-to-seed SDs: what drawing other seeds moves the value by); untested: no drift test"
        " could run (the reason says why).",
        "margin: how much worse than the baseline is tolerated before the drift check may fail (metric units).",
        f"p: the drift test's one-sided p-value on the side the metric moved; the drift check fails when the"
        f" metric is worse by more than the margin with p < {DRIFT_ALPHA:g} (improvements never fail);"
        " inside: the change is within the margin, nothing to test; —: not tested.",
        "verdict: a failing row names what failed first (a crossed threshold fails whatever p says).",
    ]


def table_rows(results: list[dict]) -> list[list[str]]:
    rows = [["test", "metric", "value", "CI / noise", "threshold", "baseline", "delta", "margin", "p", "verdict"]]
    for result in sorted_results(results):
        ci = result.get("ci")
        spread = f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci else _noise_text(result)
        rows.append(
            [
                result["test"] or "(outside a test)",
                result["key"],
                _fmt(result["value"]),
                spread,
                _fmt(result.get("threshold")),
                _fmt(result.get("baseline")),
                "—" if result.get("delta") is None else f"{result['delta']:+.4g}",
                _margin_text(result),
                _p_text(result),
                verdict_text(result),
            ]
        )
    return rows


def format_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def _failed_alongside(result: dict, results: list[dict]) -> list[dict]:
    """Problem results of the same test, or of the same images (batch fingerprint) in another test."""
    return [
        other
        for other in results
        if other["verdict"] in PROBLEM_VERDICTS
        and (other["test"] == result["test"] or (result.get("batch") and other.get("batch") == result["batch"]))
    ]


def _improved_line(result: dict, results: list[dict]) -> str:
    """An improvement, and the invitation to lock it in unless another metric of its batch failed."""
    line = f"improved: {result['test']} {result['key']} {_fmt(result.get('baseline'))} -> {_fmt(result['value'])}"
    failed = _failed_alongside(result, results)
    if not failed:
        return f"{line}: lock it in with `pytest --update-refs`"
    named = ", ".join(
        f"{other['key']} {other['verdict']} "
        + ("in the same test" if other["test"] == result["test"] else f"in {other['test']} on the same images")
        for other in failed
    )
    return (
        f"{line}; not an improvement to lock in: {named}. A better value alongside a failed metric is a symptom "
        "(a collapsed or broken model can score better on one metric); fix the failure first"
    )


def summary_lines(
    results: list[dict], *, stale: list[str] = (), quiet: bool = False, update_refs: bool = False, pruned: bool = False
) -> list[str]:
    """The end-of-session table; under -q only failures (and stale baselines)."""
    shown = [r for r in results if r["verdict"] in PROBLEM_VERDICTS] if quiet else list(results)
    lines = format_table(table_rows(shown)) if shown else []
    improved = [r for r in results if r["verdict"] == "improved"]
    if improved and not update_refs:
        lines.append("")
        lines.extend(_improved_line(result, results) for result in improved)
    if stale:
        lines.append("")
        action = (
            "removed (--prune-refs)"
            if update_refs and pruned
            else "stale baselines (test gone); remove with `pytest --update-refs --prune-refs`"
        )
        lines.append(f"{action}:")
        lines.extend(f"  {node_id}" for node_id in stale)
    return lines
