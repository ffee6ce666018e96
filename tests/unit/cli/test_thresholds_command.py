"""`genquality thresholds`: suggested absolute thresholds from recorded values and their seed-to-seed spread."""

import json
import math
import re
from statistics import NormalDist

import numpy as np
import pytest

from toy import project_conftest

from pytest_genquality.cli import main
from pytest_genquality.stats.thresholds import from_blocks, from_seed_noise, rounded_outwards

Z_995 = NormalDist().inv_cdf(0.995)


def test_one_block_bound_is_the_prediction_bound_of_a_fresh_block():
    # a per-sample mean: the stored SD (of a difference of two blocks) is exact, no factor
    low = from_seed_noise(0.9, 0.01, higher_is_better=True, distribution=False)
    assert low.threshold == pytest.approx(0.9 - Z_995 * 0.01) and low.blocks == 1
    # a distribution metric: the half-split SD at N/2, sqrt 2 x the stored one
    high = from_seed_noise(12.92, 4.703, higher_is_better=False, distribution=True)
    assert high.threshold == pytest.approx(12.92 + Z_995 * 4.703 * math.sqrt(2))
    assert rounded_outwards(high.threshold, False) == 30.1  # the digits suite's FID baseline, as stored


def test_one_block_bound_fails_a_fresh_block_at_the_stated_rate():
    rng = np.random.default_rng(0)
    baseline, fresh = rng.normal(18.0, 3.8, size=(2, 200_000))
    bounds = [
        from_seed_noise(
            value, 3.8 * math.sqrt(2), higher_is_better=False, distribution=False, false_fail=0.05
        ).threshold
        for value in baseline[:20_000]
    ]
    rate = np.mean(fresh[:20_000] > np.array(bounds))
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 20_000), rate


def test_block_bound_fails_a_fresh_block_at_the_stated_rate():
    rng = np.random.default_rng(1)
    trials = 4000
    blocks = rng.normal(0.94, 0.0175, size=(trials, 12))
    fresh = rng.normal(0.94, 0.0175, size=trials)
    bounds = np.array([from_blocks(row, higher_is_better=True, false_fail=0.05).threshold for row in blocks])
    rate = np.mean(fresh < bounds)
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / trials), rate


def test_rounding_never_tightens():
    assert rounded_outwards(30.05, higher_is_better=False) == 30.1
    assert rounded_outwards(0.9124, higher_is_better=True) == 0.912
    assert rounded_outwards(0.4981, higher_is_better=True) == 0.498
    assert rounded_outwards(25.0, higher_is_better=False) == 25.0


CONFTEST = project_conftest(
    extra="""
@pytest.fixture
def block():
    return int(os.environ.get("TOY_BLOCK", "0"))
"""
)

TESTS = """
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_metric, assert_recall_above

N = 64

def test_quality(ref, extractor, block):
    batch = toy_images(range(block * N, (block + 1) * N), shift=0.2)
    assert_fid_below(batch, ref, None, extractor=extractor)
    assert_recall_above(batch, ref, None, extractor=extractor)
    assert_metric("brightness", float(batch.images.float().mean()), higher_is_better=True, threshold=None,
                  n=N, seeds=batch.seeds)
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("TOY_BLOCK", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    return pytester


def thresholds(project, capsys, *args) -> str:
    capsys.readouterr()
    assert main(["thresholds", "--gen-store", str(project.path / ".genquality"), *args]) == 0
    return capsys.readouterr().out


def test_first_run_path_suggests_from_the_baselines_seed_noise(project, capsys):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    out = thresholds(project, capsys)
    stored = json.loads((project.path / ".genquality" / "baselines" / "test_quality.py.json").read_text())
    fid = next(iter(stored["tests"]["test_quality.py::test_quality"]["fid@real"].values()))
    expected = rounded_outwards(fid["value"] + Z_995 * fid["noise_sd"] * math.sqrt(2), False)
    assert "fid@real" in out and f"->  <= {expected:g}" in out
    assert "from 1 seed block (the baseline's) and the stored seed-noise SD" in out
    assert f"assert_fid_below(batch, ref, {expected:g})" in out
    assert "or in one call: assert_quality(batch, ref, fid_below=" in out and "recall_above=" in out
    assert "false-fail rate of 0.50% per check" in out
    assert "brightness" in out and "no seed-to-seed spread known" in out  # a scalar: nothing invented


def test_values_on_disjoint_seed_blocks_are_used_when_there_are_enough(project, capsys, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    for block in range(1, 10):  # plain runs on other seed blocks of the same N, same model
        monkeypatch.setenv("TOY_BLOCK", str(block))
        project.runpytest()  # the drift gate compares (unpaired); pass or fail, the value is recorded
    out = thresholds(project, capsys)
    values = []
    for run in sorted((project.path / ".genquality" / "runs").glob("*.json")):
        values += [r["value"] for r in json.loads(run.read_text())["results"] if r["key"] == "brightness"]
    assert len(values) == 10 and len(set(values)) == 10
    expected = rounded_outwards(from_blocks(values, higher_is_better=True).threshold, True)
    assert "from 10 disjoint seed blocks: mean" in out
    assert f"assert_metric('brightness', value, higher_is_better=True, threshold={expected:g})" in out
    fid_lines = out.split("fid@real")[1]
    assert re.search(r"from 10 disjoint seed blocks", fid_lines.split("\n")[1])


def test_no_baselines_says_what_to_run(tmp_path, capsys):
    assert main(["thresholds", "--gen-store", str(tmp_path / "empty")]) == 0
    assert "run `pytest --update-refs` first" in capsys.readouterr().out


def test_a_test_filter_that_matches_nothing_says_so(project, capsys):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    assert "no baselined test matches --test 'nothing'" in thresholds(project, capsys, "--test", "nothing")
