"""Every assertion of the metric suite through the one workflow, as a user's project runs it."""

from pathlib import Path

import numpy as np
import pytest

from toy import project_conftest

TESTS_DIR = Path(__file__).resolve().parents[2]

CONFTEST = project_conftest(
    "range(10000, 10300)",
    extra="""
@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    from clip_helpers import build_tiny_clip
    from pytest_genquality.features import CLIPEmbedder
    return CLIPEmbedder(build_tiny_clip(tmp_path_factory.mktemp("clip")))

@pytest.fixture
def shift():
    return float(os.environ.get("TOY_SHIFT", "0.0"))

@pytest.fixture
def batch(shift):
    batch = toy_images(range(48), shift=shift, size=32)
    batch.prompts = ["a red square", "a blue circle", "a green field"] * 16
    return batch
""",
)


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    pytester.makeconftest(CONFTEST)
    return pytester


DISTRIBUTION_TESTS = """
from pytest_genquality import (assert_kid_below, assert_precision_above, assert_recall_above,
                               assert_coverage_above, assert_inception_score_above)

def test_kid(batch, ref, extractor):
    assert_kid_below(batch, ref, 1.0, extractor=extractor, subsets=20, subset_size=40)

def test_precision(batch, ref, extractor):
    assert_precision_above(batch, ref, 0.0, extractor=extractor)

def test_recall(batch, ref, extractor):
    assert_recall_above(batch, ref, 0.0, extractor=extractor)

def test_coverage(batch, ref, extractor):
    assert_coverage_above(batch, ref, 0.0, extractor=extractor)

def test_inception_score(batch, extractor):
    assert_inception_score_above(batch, 0.0, extractor=extractor, splits=4)
"""


def test_distribution_metrics_baseline_and_drift(project, monkeypatch):
    project.makepyfile(test_dist=DISTRIBUTION_TESTS)
    project.runpytest().assert_outcomes(failed=5)
    project.runpytest("--update-refs").assert_outcomes(passed=5)
    project.runpytest().assert_outcomes(passed=5)
    monkeypatch.setenv("TOY_SHIFT", "0.5")
    worse = project.runpytest()
    outcomes = worse.parseoutcomes()
    # A strong brightness shift worsens KID and precision/coverage beyond noise; recall and IS
    # may or may not move with it, but none of them may pass as "improved" AND fail at once.
    assert outcomes.get("failed", 0) >= 2
    worse.stdout.fnmatch_lines(["*KID drifted from its baseline: worse by *, beyond the margin *"])


def test_distribution_thresholds(project):
    project.makepyfile(
        test_dist="""
from pytest_genquality import assert_kid_below, assert_recall_above, assert_inception_score_above

def test_kid(batch, ref, extractor):
    assert_kid_below(batch, ref, -1.0, extractor=extractor, subsets=5, subset_size=20)

def test_recall(batch, ref, extractor):
    assert_recall_above(batch, ref, 1.01, extractor=extractor)

def test_is(batch, extractor):
    assert_inception_score_above(batch, 1e9, extractor=extractor, splits=4)
"""
    )
    result = project.runpytest("--update-refs")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*KID * is above the threshold -1*",
            "*recall * is below the threshold 1.01*",
            "*Inception Score * is below the threshold 1e+09*",
        ]
    )


def test_clip_score_and_cmmd(project):
    # pytester's in-process runs drop modules first imported inside them; import transformers'
    # CLIP here so both inner runs share one copy of its classes.
    pytest.importorskip("transformers.models.clip", reason="CLIP score needs transformers")
    import transformers.models.clip.modeling_clip  # noqa: F401

    project.makepyfile(
        test_clip="""
from pytest_genquality import assert_clip_score_above, assert_cmmd_below
from toy import toy_images

def test_clip(batch, embedder):
    result = assert_clip_score_above(batch, 0.0, embedder=embedder)
    assert result.ci[0] <= result.value <= result.ci[1] or result.value == 0.0

def test_cmmd(batch, embedder):
    real = toy_images(range(5000, 5064), size=32)
    assert_cmmd_below(batch, real, 1e6, embedder=embedder)

def test_clip_without_prompts(embedder):
    assert_clip_score_above(toy_images(range(4)), 0.0, embedder=embedder)
"""
    )
    result = project.runpytest("--update-refs")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*prompts: the batch carries no prompts*"])
    project.runpytest("-k", "not without").assert_outcomes(passed=2)


NO_REGRESSION = """
import os
import torch
from pytest_genquality import ImageBatch, assert_no_regression
from toy import toy_images

def make_batch():
    batch = toy_images(range(12), size=24)
    bump = int(os.environ.get("BUMP", "0"))
    if bump:
        images = batch.images.clone().to(torch.int16)
        images[5] = (images[5] + bump).clamp(0, 255)
        batch = ImageBatch(images.to(torch.uint8), seeds=batch.seeds)
    return batch

def test_paired_max_abs():
    assert_no_regression(make_batch(), "max_abs", max_value=2)

def test_paired_ssim():
    assert_no_regression(make_batch(), "ssim", min_value=0.99)

def test_paired_psnr():
    assert_no_regression(make_batch(), "psnr", min_value=40)
"""


def test_no_regression_paired_flow(project, monkeypatch):
    monkeypatch.delenv("BUMP", raising=False)
    project.makepyfile(test_paired=NO_REGRESSION)
    first = project.runpytest()
    first.assert_outcomes(failed=3)
    first.stdout.fnmatch_lines(
        ["*no baseline images for test_paired.py::test_paired_max_abs*run `pytest --update-refs`*"]
    )
    project.runpytest("--update-refs").assert_outcomes(passed=3)
    assert len(list((project.path / ".genquality" / "baselines" / "images").rglob("*.png"))) == 36
    project.runpytest().assert_outcomes(passed=3)
    monkeypatch.setenv("BUMP", "60")
    worse = project.runpytest()
    worse.assert_outcomes(failed=3)
    worse.stdout.fnmatch_lines(
        ["*max |diff| 60 is above the threshold 2*", "*per seed   1 of 12 beyond max_value=2; worst: seed 5 (60)*"]
    )


def test_no_regression_argument_errors(project):
    project.makepyfile(
        test_bad="""
import pytest
from pytest_genquality import assert_no_regression
from toy import toy_images

def test_wrong_bound():
    with pytest.raises(TypeError, match="min_value: ssim needs min_value"):
        assert_no_regression(toy_images(range(3)), "ssim", max_value=0.1)

def test_unknown_metric():
    with pytest.raises(ValueError, match="metric: expected one of"):
        assert_no_regression(toy_images(range(3)), "mse", max_value=0.1)
"""
    )
    project.runpytest().assert_outcomes(passed=2)


def test_assertions_outside_pytest_check_thresholds_only(monkeypatch):
    import sys

    from pytest_genquality.checks import run_state as session

    monkeypatch.setattr(session, "_recorder", None)  # as in a notebook: no plugin session

    sys.path.insert(0, str(TESTS_DIR))
    from toy import ToyExtractor, toy_images

    from pytest_genquality import ReferenceStats, assert_kid_below, assert_recall_above

    extractor = ToyExtractor()
    reference = ReferenceStats.from_images(toy_images(range(1000, 1200)), extractor, name="real")
    batch = toy_images(range(40))
    result = assert_recall_above(batch, reference, 0.0, extractor=extractor)
    assert 0.0 <= result.value <= 1.0 and result.verdict == "pass"
    without_features = ReferenceStats(reference.mu, reference.sigma, reference.n, reference.extractor_id)
    with pytest.raises(ValueError, match="keep no feature rows, which KID needs"):
        assert_kid_below(batch, without_features, 1.0, extractor=extractor)
    with pytest.raises(Exception, match="built with extractor"):
        assert_recall_above(
            batch,
            ReferenceStats.from_features(np.zeros((5, 32)) + np.eye(5, 32), extractor_id="other"),
            0.5,
            extractor=extractor,
        )
