"""stats.rules: the threshold and fixed-tolerance rules shared by the checks, the report and `diff`."""

import pytest

from pytest_genquality.checks.workflow import SPECS, drift_verdict
from pytest_genquality.report.history import diff
from pytest_genquality.report.model import verdict_reason
from pytest_genquality.stats.rules import threshold_crossed, tolerance_verdict, worsening


def test_threshold_is_direction_aware_and_equal_passes():
    assert threshold_crossed(30.0, 28.0, higher_is_better=False)
    assert not threshold_crossed(28.0, 28.0, higher_is_better=False)
    assert threshold_crossed(0.2, 0.25, higher_is_better=True)
    assert not threshold_crossed(0.25, 0.25, higher_is_better=True)
    assert not threshold_crossed(1e9, None, higher_is_better=False)


@pytest.mark.parametrize(
    "value, baseline, higher, mode, amount, verdict",
    [
        (21.0, 20.0, False, "absolute", 1.0, "pass"),
        (21.01, 20.0, False, "absolute", 1.0, "fail"),
        (18.99, 20.0, False, "absolute", 1.0, "improved"),
        (0.28, 0.30, True, "percent", 5.0, "fail"),
        (0.32, 0.30, True, "percent", 5.0, "improved"),
        (-1.06, -1.0, True, "percent", 5.0, "fail"),
    ],
)
def test_tolerance_verdict(value, baseline, higher, mode, amount, verdict):
    got, worse_by, _ = tolerance_verdict(value, baseline, higher_is_better=higher, mode=mode, amount=amount)
    assert got == verdict and worse_by == worsening(value, baseline, higher_is_better=higher)


@pytest.mark.parametrize("value", [19.0, 20.5, 21.0, 21.01, 25.0, 18.99])
@pytest.mark.parametrize("max_drift", [1.0, "5%"])
def test_the_check_and_diff_judge_recorded_values_alike(value, max_drift):
    """One rule: what the test decided is what `genquality diff` decides on the recorded values."""
    check = drift_verdict(SPECS["fid"], value, 20.0, max_drift, None)[0]
    record = {"test": "t::a", "metric": "fid", "key": "fid", "n": 64, "lane": "cpu", "higher_is_better": False}
    change = diff(
        {"results": [{**record, "value": 20.0}]}, {"results": [{**record, "value": value}]}, max_drift=max_drift
    )[0]
    assert (change.worse, change.better) == (check == "fail", check == "improved")


def test_the_report_reason_uses_the_checks_threshold_rule():
    record = {"value": 28.0, "threshold": 28.0, "higher_is_better": False, "verdict": "pass", "reason": ""}
    assert verdict_reason(record) == ""
    assert verdict_reason({**record, "value": 28.5}).startswith("28.5 is above the threshold 28")
