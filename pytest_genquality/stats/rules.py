"""The two verdict rules on plain numbers: a threshold, and a fixed drift tolerance.

The check workflow (``checks.workflow``) applies them when a test runs; the report and
``genquality diff`` (``report.history``, ``report.model``) apply them again to recorded values.
One home, so a run file can never be judged by a different rule than the test that wrote it.
Pure: floats in, booleans and verdict words out.
"""

from __future__ import annotations


def threshold_crossed(value: float, threshold: float | None, *, higher_is_better: bool) -> bool:
    """Whether ``value`` is on the wrong side of ``threshold`` (equal to it passes; None: no threshold)."""
    if threshold is None or value is None:
        return False
    return value < threshold if higher_is_better else value > threshold


def threshold_words(value: float, threshold: float, *, higher_is_better: bool) -> str:
    """'31.4 is above the threshold 28' (for a crossed threshold)."""
    return f"{value:.4g} is {'below' if higher_is_better else 'above'} the threshold {threshold:.4g}"


def worsening(value: float, baseline: float, *, higher_is_better: bool) -> float:
    """How much worse ``value`` is than ``baseline``, in the metric's units (negative: better)."""
    return baseline - value if higher_is_better else value - baseline


def tolerance_verdict(
    value: float, baseline: float, *, higher_is_better: bool, mode: str, amount: float
) -> tuple[str, float, float]:
    """('fail' | 'improved' | 'pass', worsening, tolerance) under a fixed ``max_drift``.

    ``mode``, ``amount``: as ``parse_max_drift`` returns them for a number ("absolute", in the
    metric's units) or a percentage ("percent", of ``|baseline|``). Worse by more than the
    tolerance fails; better by more than it is an improvement; anything between passes.
    """
    if mode not in ("absolute", "percent"):
        raise ValueError(f"mode: expected 'absolute' or 'percent', got {mode!r}")
    tolerance = amount if mode == "absolute" else amount / 100.0 * abs(baseline)
    change = worsening(value, baseline, higher_is_better=higher_is_better)
    if change > tolerance:
        return "fail", change, tolerance
    if -change > tolerance:
        return "improved", change, tolerance
    return "pass", change, tolerance
