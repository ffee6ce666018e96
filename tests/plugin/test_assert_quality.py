"""assert_quality: every requested metric measured and recorded, one failure listing them all."""

import json

from toy import counting_extractor_conftest

CONFTEST = counting_extractor_conftest(reference_batch_size=64)

TESTS = """
import os
from toy import toy_images
from pytest_genquality import assert_quality

def test_quality(ref):
    batch = toy_images(range(64), shift=float(os.environ.get("TOY_SHIFT", "0.2")))
    coverage_bar = float(os.environ.get("COVERAGE_BAR", "0.0"))
    results = assert_quality(batch, ref, fid_below=100.0, recall_above=0.0, coverage_above=coverage_bar,
                             inception_score_above=0.0, no_collapse=True)
    assert list(results) == ["fid", "recall", "coverage", "inception_score", "log_nn_distance"]
    assert results["fid"].value > 0
"""


def run_results(pytester) -> list[dict]:
    runs = sorted((pytester.path / ".genquality" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text())["results"]


def test_every_metric_is_measured_and_every_failure_listed_once(pytester, monkeypatch):
    for name in ("TOY_SHIFT", "COVERAGE_BAR", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    first = pytester.runpytest("--update-refs", "-s")
    first.assert_outcomes(passed=1)
    # the 400 reference images in chunks of 64, then the batch once for all five metrics
    first.stdout.fnmatch_lines(["extractor calls: [64, 64, 64, 64, 64, 64, 16, 64]"])

    monkeypatch.setenv("TOY_SHIFT", "0.6")  # FID and coverage drift; ...
    monkeypatch.setenv("COVERAGE_BAR", "0.9")  # ... coverage also misses its bar
    worse = pytester.runpytest()
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        ["*QualityChecksFailed: * of 5 quality checks failed: fid, * coverage*", "*FID drifted from its baseline*"]
    )
    text = worse.stdout.str()
    assert "coverage 0" in text and "is below the threshold 0.9" in text
    recorded = {r["key"]: r["verdict"] for r in run_results(pytester)}
    assert set(recorded) == {"fid@real", "recall@real", "coverage@real", "inception_score", "log_nn_distance"}
    assert recorded["fid@real"] == "fail" and recorded["coverage@real"] == "fail"


def test_a_metric_is_required_and_ref_for_reference_metrics():
    import pytest

    from pytest_genquality import assert_quality
    from toy import toy_images

    with pytest.raises(TypeError, match="at least one metric"):
        assert_quality(toy_images(range(4)))
    with pytest.raises(TypeError, match="ref: fid_below"):
        assert_quality(toy_images(range(4)), fid_below=10.0)
