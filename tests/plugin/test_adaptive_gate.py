"""Adaptive N: generate(..., max_seeds=M) lets the FID gate look at more seeds only while undecided."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toy import ToyExtractor, project_conftest, toy_images  # noqa: E402

from pytest_genquality import ImageBatch  # noqa: E402
from pytest_genquality.batch import SeedGrowth  # noqa: E402
from pytest_genquality.checks.workflow import p_text  # noqa: E402
from pytest_genquality.metrics.frechet import FrechetSubsets  # noqa: E402
from pytest_genquality.stats.swap_z import SWAPS, swap_null_sd, swap_z  # noqa: E402

pytest_plugins = ["pytester"]

ADAPTIVE_TEST = """
import os
from pathlib import Path
from toy import toy_images
from pytest_genquality import assert_fid_below

def sample(seeds, prompts, device):
    with open(Path(__file__).parent / "generated.log", "a") as log:
        log.write(f"{len(seeds)}\\n")
    return toy_images(seeds, shift=float(os.environ.get("TOY_SHIFT", "0")))

def test_a(generate, ref, extractor):
    batch = generate(sample, seeds=range(64), batch_size=64, max_seeds=256)
    assert len(batch) == 64 and batch.max_seeds == 256
    assert_fid_below(batch, ref, 100.0, extractor=extractor)
"""


@pytest.fixture
def project(pytester):
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(test_adaptive=ADAPTIVE_TEST)
    return pytester


def generated(project) -> int:
    log = project.path / "generated.log"
    seeds = sum(int(line) for line in log.read_text().split()) if log.exists() else 0
    log.unlink(missing_ok=True)
    return seeds


def test_the_baseline_keeps_max_seeds_a_healthy_model_stops_at_n_a_regression_grows_until_decided(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    assert generated(project) == 256  # the baseline keeps rows for all 256 seeds
    (array,) = list((project.path / ".genquality").rglob("*.npz")) or [None]
    if array is not None:
        with np.load(array) as stored:
            assert {value.shape[0] for value in stored.values()} == {256}

    project.runpytest().assert_outcomes(passed=1)
    assert generated(project) == 64  # unchanged: decided at the first look

    monkeypatch.setenv("TOY_SHIFT", "0.15")  # z ~5 at 64 seeds: below the first look's bound 5.93
    worse = project.runpytest()
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*FID drifted from its baseline: worse by *: paired swap-z z=* >= bound 4.12 "
            "(look 2/4, n=128 of 256), nominal p=* < 0.0025*"
        ]
    )
    assert generated(project) == 128  # one more block, then decided

    fixed = project.runpytest("--gen-max-n=off")  # one look at n = 64: the fixed-N bound 2.81
    fixed.assert_outcomes(failed=1)
    fixed.stdout.fnmatch_lines(["*paired swap-z z=* >= bound 2.81 (n=64), nominal p=* < 0.0025*"])
    assert generated(project) == 64


def test_gen_max_n_is_validated(project):
    result = project.runpytest("--gen-max-n=lots")
    result.stderr.fnmatch_lines(["*--gen-max-n: expected 'auto', 'off' or a factor such as '4x', got 'lots'*"])
    assert result.ret != 0


def test_gen_max_n_factor_makes_every_generated_batch_growable(pytester):
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(
        test_factor="""
from toy import toy_images

def test_a(generate):
    batch = generate(lambda seeds, prompts, device: toy_images(seeds), seeds=range(8))
    assert batch.max_seeds == 24 and len(batch.grown(20)) == 20 and batch.grown(20).seeds == list(range(20))
"""
    )
    pytester.runpytest("--gen-max-n=3x").assert_outcomes(passed=1)


def test_max_seeds_needs_one_ascending_range_and_enough_seeds(pytester):
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(
        test_bad="""
import pytest
from toy import toy_images

def sample(seeds, prompts, device):
    return toy_images(seeds)

def test_a(generate):
    with pytest.raises(ValueError, match=r"max_seeds: expected an int >= the 8 seeds asked for, got 4"):
        generate(sample, seeds=range(8), max_seeds=4)
    with pytest.raises(ValueError, match=r"max_seeds: the batch grows by the seeds after the last one"):
        generate(sample, seeds=[3, 1, 2], max_seeds=6)
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_growth_generates_each_block_once_with_the_prompts_cycled_by_seed_position():
    calls = []

    def make_block(seeds):
        calls.append(list(seeds))
        return ImageBatch(np.zeros((len(seeds), 4, 4, 3), dtype=np.uint8), seeds=seeds)

    first = ImageBatch(np.zeros((4, 4, 4, 3), dtype=np.uint8), seeds=range(10, 14))
    first.growth = SeedGrowth(range(10, 20), 4, make_block)
    assert len(first.grown(10)) == 10 and first.grown(10).seeds == list(range(10, 20))
    assert len(first.grown(7)) == 7
    assert calls == [[14, 15, 16, 17], [18, 19]]  # blocks of N, the last one shorter, each made once
    with pytest.raises(ValueError, match="count: expected 4..10 seeds, got 11"):
        first.blocks(11)
    with pytest.raises(ValueError, match="cannot grow"):
        first[:2].blocks(3)


# ---- the swap-z evidence ----------------------------------------------------------------------
def _fid_statistic(reference_rows):
    mu, sigma = reference_rows.mean(0), np.cov(reference_rows, rowvar=False)
    return lambda pooled: FrechetSubsets(mu, sigma, pooled).distance


@pytest.fixture(scope="module")
def rows():
    extractor = ToyExtractor()
    reference = extractor(toy_images(range(5000, 5400)))["pool"].numpy().astype(np.float64)
    base = extractor(toy_images(range(128)))["pool"].numpy().astype(np.float64)
    shifted = extractor(toy_images(range(128), shift=0.15))["pool"].numpy().astype(np.float64)
    return reference, base, shifted


def test_identical_sides_have_no_noise_and_never_fail(rows):
    reference, base, _ = rows
    same = swap_z(base, base, _fid_statistic(reference), worse_sign=1, margin=0.0, paired=True)
    assert same.observed == 0 and same.null_sd == 0 and same.z == -math.inf


def test_a_worsening_has_a_positive_z_and_the_direction_follows_worse_sign(rows):
    reference, base, shifted = rows
    worse = swap_z(base, shifted, _fid_statistic(reference), worse_sign=1, margin=0.0, paired=True)
    assert worse.worsening > 0 and worse.null_sd > 0 and worse.z > 3
    flipped = swap_z(base, shifted, _fid_statistic(reference), worse_sign=-1, margin=0.0, paired=True)
    assert flipped.worsening == -worse.worsening and flipped.z_better == pytest.approx(worse.z)
    # the margin shifts z by margin / SD
    half = swap_z(base, shifted, _fid_statistic(reference), worse_sign=1, margin=worse.worsening / 2, paired=True)
    assert half.z == pytest.approx(worse.z / 2)
    inside = swap_z(base, shifted, _fid_statistic(reference), worse_sign=1, margin=worse.worsening, paired=True)
    assert inside.null_sd == 0 and inside.z == -math.inf  # inside the margin: no null needed, never a failure


def test_the_swap_null_of_a_paired_difference_is_narrower_than_the_unpaired_one(rows):
    reference, base, shifted = rows
    pooled = np.concatenate([base, shifted])
    statistic = _fid_statistic(reference)(pooled)
    paired = swap_null_sd(statistic, len(base), paired=True)
    unpaired = swap_null_sd(statistic, len(base), paired=False)
    assert 0 < paired < unpaired
    assert swap_null_sd(statistic, len(base), paired=True, seed=0) == paired  # seeded


def test_swap_z_validates_its_inputs(rows):
    reference, base, shifted = rows
    statistic = _fid_statistic(reference)
    with pytest.raises(ValueError, match=r"baseline, current: expected two \[n, d\] arrays of one shape"):
        swap_z(base, shifted[:10], statistic, worse_sign=1, margin=0.0, paired=True)
    with pytest.raises(ValueError, match=r"worse_sign: expected \+1 or -1"):
        swap_z(base, shifted, statistic, worse_sign=0, margin=0.0, paired=True)
    with pytest.raises(ValueError, match=r"margin: expected a finite number >= 0"):
        swap_z(base, shifted, statistic, worse_sign=1, margin=-1.0, paired=True)
    with pytest.raises(ValueError, match=r"swaps: need at least 2"):
        swap_null_sd(lambda index: 0.0, 8, paired=True, swaps=1)
    assert SWAPS >= 20


@pytest.mark.parametrize(
    "p, alpha, text",
    [(2 / 801, 0.0025, "0.002497"), (0.0031, 0.0025, "0.0031"), (0.0025, 0.0025, "0.0025"), (1e-7, 0.0025, "1e-07")],
)
def test_p_is_printed_with_enough_digits_to_show_the_inequality(p, alpha, text):
    assert p_text(p, alpha) == text


def test_a_pass_beyond_the_margin_says_not_significant_and_a_fail_shows_its_inequality():
    from pytest_genquality.checks.workflow import SPECS, drift_verdict
    from pytest_genquality.stats import MarginTest

    not_significant = MarginTest(
        "paired-permutation", 15.01, 15.01, 3.525, 4.7, 0.0031, 1.0, 800, margin_rule="0.75 x seed-noise SD 4.7"
    )
    verdict, reason = drift_verdict(SPECS["fid"], 30.0, 14.99, "auto", not_significant)
    assert verdict == "pass"
    assert reason.startswith("worse by 15.01, beyond the margin 3.525") and "but not significant" in reason
    assert "p=0.0031 >= 0.0025" in reason and "within" not in reason

    barely = MarginTest("paired-permutation", 15.01, 15.01, 3.525, 4.7, 2 / 801, 1.0, 800)
    verdict, reason = drift_verdict(SPECS["fid"], 30.0, 14.99, "auto", barely)
    assert verdict == "fail" and "p=0.002497 < 0.0025" in reason

    swap = MarginTest(
        "paired swap-z",
        3.0,
        3.0,
        0.9,
        0.5,
        1e-6,
        1.0,
        80,
        z=4.2,
        bound=4.12,
        look=2,
        looks=4,
        n_used=400,
        n_max=800,
        margin_rule="default: 5% of the baseline FID",
    )
    verdict, reason = drift_verdict(SPECS["fid"], 21.0, 18.0, "auto", swap)
    assert verdict == "fail"
    assert (
        "beyond the margin 0.9 (default: 5% of the baseline FID; set gen_drift_margin): paired swap-z z=4.2 >= "
        "bound 4.12 (look 2/4, n=400 of 800)"
    ) in reason
