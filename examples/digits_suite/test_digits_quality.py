"""Quality gates of a small diffusion model trained on real handwritten digits.

The model (weights/ddim/) is a DDPM trained by train.py on 1 297 of scikit-learn's digits; the
500 others were held out, and their statistics under a digit classifier's features are the
reference (examples/.genquality/refs/digits-held-out). The thresholds are bounds the committed
model passes on almost any block of 200 seeds (measured over 80 disjoint blocks, see below), so a
healthy model passes whatever its seeds, and a real regression does not.

Run:  pytest examples/digits_suite                              (passes; about 60 s of CPU)
      pytest examples/digits_suite --digits-variant=undertrained  (and few-steps, seed-reuse: fails)
"""

import numpy as np
import pytest
import torch

from pytest_genquality import (
    assert_coverage_above,
    assert_fid_below,
    assert_metric,
    assert_no_regression,
    assert_recall_above,
)

SEEDS = range(200)  # every distribution metric is compared at this N: keep it fixed (FID's bias ~ 1/N)
# The FID drift check may look at up to 800 seeds, only while its verdict is undecided (a healthy
# model stops at 200); `pytest --update-refs` stores all 800 with the baseline. docs/drift_gate.md.
MAX_SEEDS = 800
REFERENCE = "digits-held-out"

# Thresholds: about the 0.5 % quantile of each metric over 80 disjoint blocks of 200 seeds of the
# committed model (benchmarks/bench_drift_real.py, table 4), rounded outwards, so the unchanged
# model (or a retrained equivalent, or new seeds) fails each check on about 1 block in 200:
#   FID      mean 17.99, sd 3.83, 99.5 % quantile 29.25   (seeds 0..199 score 12.9: a lucky block;
#                                                          the old bar FID <= 18 failed 37 of 80 blocks)
#   recall   mean 0.9387, sd 0.0175, 0.5 % quantile 0.903
#   coverage mean 0.6032, sd 0.0347, 0.5 % quantile 0.514
#   rarest digit share  mean 0.0512, sd 0.0097, 0.5 % quantile 0.027
# For your own model: run its tests with threshold=None, `pytest --update-refs`, then
# `genquality thresholds` (it says how many seed blocks its suggestion rests on). From this
# suite's one baseline block it suggests FID <= 30.1, recall >= 0.912, coverage >= 0.498.
# For scale: 200 real training digits score FID 6-10, recall 0.93, coverage 0.85.
FID_MAX = 30.0
RECALL_MIN = 0.90
COVERAGE_MIN = 0.51
RAREST_DIGIT_MIN = 0.025  # share of the least generated digit; 0.10 if all ten were equally common
PSNR_MIN_DB = 30.0  # same seed, same digit: CPU/GPU round-off stays far above 30 dB, a changed model far below


@pytest.fixture(scope="session")
def digits(generate, digits_model, digits_sampling):
    """The generated digits, once per session: one image per seed, same seeds on every run."""
    return generate(digits_model, seeds=SEEDS, max_seeds=MAX_SEEDS, batch_size=100, **digits_sampling)


def test_committed_weights_match_the_reference(gen_refs, digit_features, digits):
    """The reference was built with these classifier weights, and the model makes 16-px grayscale digits."""
    assert gen_refs[REFERENCE].extractor_id == digit_features.id
    assert digits.images.shape == (len(SEEDS), 3, 16, 16)
    assert torch.equal(digits.images[:, 0], digits.images[:, 1])


def test_digits_look_like_the_real_ones(digits, gen_refs, digit_features):
    """FID on the classifier's features: how far the generated digits are from the held-out ones."""
    assert_fid_below(digits, gen_refs[REFERENCE], FID_MAX, extractor=digit_features)


def test_every_kind_of_real_digit_is_generated(digits, gen_refs, digit_features):
    """Recall and coverage: FID alone can stay low while the model forgets styles or whole digits."""
    assert_recall_above(digits, gen_refs[REFERENCE], RECALL_MIN, extractor=digit_features)
    assert_coverage_above(digits, gen_refs[REFERENCE], COVERAGE_MIN, extractor=digit_features)


def test_all_ten_digits_are_generated(digits, digit_features):
    """A user metric: the classifier's share of the rarest digit (the model was trained on balanced classes)."""
    counts = np.bincount(digit_features.classify(digits).numpy(), minlength=10)
    shares = counts / counts.sum()
    histogram = "  ".join(f"{digit}:{count}" for digit, count in enumerate(counts))
    print(f"generated digits by class: {histogram}")
    assert_metric(
        "rarest_digit_share",
        float(shares.min()),
        higher_is_better=True,
        threshold=RAREST_DIGIT_MIN,
        n=len(digits),
        seeds=digits.seeds,
    )


def test_same_seeds_give_the_baseline_digits(digits):
    """Paired, per seed: the digit of seed s is the one stored for seed s (baselines/images/)."""
    assert_no_regression(digits, "psnr", min_value=PSNR_MIN_DB)
