"""Repeated (seed, prompt) pairs are copies of one image: set metrics refuse them before measuring."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from toy import ToyExtractor, toy_images  # noqa: E402

from pytest_genquality import (
    ImageBatch,
    ReferenceStats,
    assert_coverage_above,
    assert_fid_below,  # noqa: E402
    assert_inception_score_above,
    assert_kid_below,
    assert_precision_above,
    assert_recall_above,
)

EXTRACTOR = ToyExtractor()
REFERENCE = ReferenceStats.from_images(toy_images(range(1000, 1040)), EXTRACTOR, name="real")
CHECKS = {
    "fid": lambda b: assert_fid_below(b, REFERENCE, 1e9, extractor=EXTRACTOR, max_drift=None),
    "kid": lambda b: assert_kid_below(b, REFERENCE, 1e9, extractor=EXTRACTOR, max_drift=None),
    "precision": lambda b: assert_precision_above(b, REFERENCE, 0.0, extractor=EXTRACTOR, max_drift=None),
    "recall": lambda b: assert_recall_above(b, REFERENCE, 0.0, extractor=EXTRACTOR, max_drift=None),
    "coverage": lambda b: assert_coverage_above(b, REFERENCE, 0.0, extractor=EXTRACTOR, max_drift=None),
    "inception_score": lambda b: assert_inception_score_above(b, 0.0, extractor=EXTRACTOR, max_drift=None),
}


def with_seeds(seeds, prompts=None) -> ImageBatch:
    images = toy_images(seeds).images
    return ImageBatch(images, seeds=seeds, prompts=prompts)


@pytest.mark.parametrize("metric", sorted(CHECKS))
def test_distribution_metrics_refuse_repeated_seeds(metric):
    batch = with_seeds([0, 0, 1, 2, 3, 4, 5, 6])
    with pytest.raises(
        ValueError, match=r"batch: seeds 0 appear more than once with the same prompt.*seeds=range\(8\)"
    ):
        CHECKS[metric](batch)


def test_one_seed_under_two_prompts_is_two_images():
    batch = with_seeds([0, 0, 1, 1], prompts=["a cat", "a dog", "a cat", "a dog"])
    assert batch.repeated_seeds() == []
    assert with_seeds([0, 0, 1, 1], prompts=["a cat", "a cat", "a cat", "a dog"]).repeated_seeds() == [0]


def test_distinct_seeds_and_unseeded_batches_are_measured():
    from pytest_genquality.checks.assertions import batch_features

    assert batch_features(with_seeds(list(range(8))), EXTRACTOR).shape == (8, 32)
    unseeded = ImageBatch(toy_images(range(8)).images)
    assert unseeded.repeated_seeds() == []
    assert batch_features(unseeded, EXTRACTOR).shape == (8, 32)


def test_the_message_lists_a_few_repeats():
    batch = with_seeds([s // 2 for s in range(40)])
    with pytest.raises(ValueError, match=r"seeds 0, 1, 2, 3, 4, 5, 6, 7, \.\.\. appear"):
        batch.require_distinct_images()
    assert np.array_equal(batch.repeated_seeds(), list(range(20)))
