"""verdict.py: max_drift parsing, the drift verdict and the threshold, in both directions."""

import math

import pytest

from pytest_genquality.stats import DriftTest
from pytest_genquality.checks.workflow import SPECS, drift_verdict, parse_max_drift, threshold_failed

FID = SPECS["fid"]  # lower is better
CLIP = SPECS["clip_score"]  # higher is better


@pytest.mark.parametrize(
    "given, expected",
    [
        ("auto", ("auto", None)),
        (None, ("off", None)),
        (False, ("off", None)),
        (0, ("absolute", 0.0)),
        (2, ("absolute", 2.0)),
        (0.5, ("absolute", 0.5)),
        ("5%", ("percent", 5.0)),
        (" 2.5 % ", ("percent", 2.5)),
    ],
)
def test_parse_max_drift_accepts(given, expected):
    assert parse_max_drift(given) == expected


@pytest.mark.parametrize("given", ["five", "5", "-5%", "%", "AUTO", -1, -0.1, True, [5], "5%%"])
def test_parse_max_drift_rejects_with_the_value_named(given):
    with pytest.raises(ValueError, match=r"max_drift: expected .*'auto'.*got") as info:
        parse_max_drift(given)
    assert repr(given) in str(info.value)


@pytest.mark.parametrize(
    "spec, baseline, worse, better",
    [
        (FID, 20.0, 21.5, 18.5),
        (CLIP, 0.30, 0.28, 0.32),
    ],
)
def test_absolute_drift_is_direction_aware(spec, baseline, worse, better):
    assert drift_verdict(spec, worse, baseline, 1.0 if spec is FID else 0.01, None)[0] == "fail"
    assert drift_verdict(spec, better, baseline, 1.0 if spec is FID else 0.01, None)[0] == "improved"
    assert drift_verdict(spec, baseline, baseline, 0, None)[0] == "pass"


def test_absolute_drift_tolerance_edge():
    assert drift_verdict(FID, 21.0, 20.0, 1.0, None)[0] == "pass"
    assert drift_verdict(FID, 21.01, 20.0, 1.0, None)[0] == "fail"
    assert drift_verdict(FID, 19.0, 20.0, 1.0, None)[0] == "pass"
    assert drift_verdict(FID, 18.99, 20.0, 1.0, None)[0] == "improved"


def test_percent_drift_is_relative_to_the_baseline():
    # 5% of 20 is 1.0
    assert drift_verdict(FID, 20.9, 20.0, "5%", None)[0] == "pass"
    verdict, reason = drift_verdict(FID, 21.2, 20.0, "5%", None)
    assert verdict == "fail" and "worse by 1.2" in reason and "'5%'" in reason
    assert drift_verdict(FID, 18.8, 20.0, "5%", None)[0] == "improved"
    # higher is better: 5% of 0.30 = 0.015
    assert drift_verdict(CLIP, 0.29, 0.30, "5%", None)[0] == "pass"
    assert drift_verdict(CLIP, 0.28, 0.30, "5%", None)[0] == "fail"
    assert drift_verdict(CLIP, 0.32, 0.30, "5%", None)[0] == "improved"


def test_percent_drift_on_a_negative_baseline_uses_its_magnitude():
    assert drift_verdict(CLIP, -1.04, -1.0, "5%", None)[0] == "pass"
    assert drift_verdict(CLIP, -1.06, -1.0, "5%", None)[0] == "fail"


def test_drift_off_never_fails():
    assert drift_verdict(FID, 1e9, 1.0, None, None) == ("pass", "drift not checked (max_drift=None)")


def _noise(p_value, p_better):
    return DriftTest(method="permutation", observed=0.0, p_value=p_value, band=0.5, resamples=200, p_better=p_better)


def test_auto_drift_fails_only_on_a_significant_worsening():
    assert drift_verdict(FID, 25.0, 20.0, "auto", _noise(0.001, 0.999))[0] == "fail"
    assert drift_verdict(FID, 25.0, 20.0, "auto", _noise(0.2, 0.8))[0] == "pass"
    # higher is better: a drop is the worsening
    assert drift_verdict(CLIP, 0.25, 0.30, "auto", _noise(0.001, 0.999))[0] == "fail"


@pytest.mark.parametrize("spec, value, baseline", [(FID, 15.0, 20.0), (CLIP, 0.35, 0.30)])
def test_auto_drift_reports_improvements_never_fails_them(spec, value, baseline):
    # even a (nonsensical) tiny p_value must not fail a change in the better direction
    verdict, reason = drift_verdict(spec, value, baseline, "auto", _noise(0.001, 0.001))
    assert verdict == "improved" and "better" in reason
    assert drift_verdict(spec, value, baseline, "auto", _noise(0.9, 0.5))[0] == "pass"


def test_auto_drift_without_a_noise_test_passes_with_the_reason():
    verdict, reason = drift_verdict(FID, 99.0, 20.0, "auto", "untested: the baseline has no stored samples")
    assert verdict == "pass" and reason.startswith("untested")


def test_threshold_failed_is_direction_aware():
    assert threshold_failed(FID, 30.0, 28.0)
    assert not threshold_failed(FID, 28.0, 28.0)
    assert not threshold_failed(FID, 27.0, 28.0)
    assert threshold_failed(CLIP, 0.2, 0.25)
    assert not threshold_failed(CLIP, 0.25, 0.25)
    assert not threshold_failed(CLIP, 0.3, 0.25)
    assert not threshold_failed(FID, math.inf, None)
