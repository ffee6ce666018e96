"""Issue 21's assertions end to end through the one workflow: PickScore (per image, paired), Vendi, FD∞.

Each flow: no baseline fails, --update-refs records, the same batch passes, a worsened one fails.
"""

import sys
from pathlib import Path

import pytest

from toy import project_conftest

CONFTEST = project_conftest(
    "range(10000, 10300)",
    extra="""
import torch
from pytest_genquality import ImageBatch

PROMPTS = ["a red square", "a blue circle", "a green field"]

@pytest.fixture(scope="session")
def pickscore(tmp_path_factory):
    from clip_helpers import build_tiny_clip
    from pytest_genquality.features import PickScore

    class Scorer(PickScore):
        '''The tiny random PickScore; under LOSE_PROMPT the images of that prompt score 5 lower.'''
        def score(self, images, prompts=None):
            scores = super().score(images, prompts)
            lost = os.environ.get("LOSE_PROMPT")
            if lost:
                scores = scores - 5.0 * torch.tensor([p == lost for p in prompts], dtype=scores.dtype)
            return scores

    return Scorer(build_tiny_clip(tmp_path_factory.mktemp("clip")))

@pytest.fixture
def batch():
    batch = toy_images(range(48), shift=float(os.environ.get("TOY_SHIFT", "0.0")), size=32)
    batch.prompts = PROMPTS * 16
    return batch

@pytest.fixture
def diverse_or_collapsed():
    '''48 distinct images; under COLLAPSE they are near-copies of 4 (one pixel level apart).'''
    if not os.environ.get("COLLAPSE"):
        return toy_images(range(48), size=32)
    images = toy_images([seed % 4 for seed in range(48)], size=32).images.clone()
    for index in range(48):
        images[index, 0, index // 32, index % 32] ^= 1
    return ImageBatch(images, seeds=list(range(48)))
""",
)


@pytest.fixture
def project(pytester, monkeypatch):
    for name in ("TOY_SHIFT", "LOSE_PROMPT", "COLLAPSE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST)
    return pytester


def test_pickscore_pairs_per_image_and_names_the_prompts_that_lost(project, monkeypatch):
    # pytester's in-process runs drop modules first imported inside them; import transformers'
    # CLIP here so the inner runs share one copy of its classes.
    pytest.importorskip("transformers.models.clip", reason="PickScore needs transformers")
    import transformers.models.clip.modeling_clip  # noqa: F401

    project.makepyfile(
        test_pick="""
import json
from pytest_genquality import assert_pickscore_above

def test_score(batch, pickscore):
    result = assert_pickscore_above(batch, -1e6, scorer=pickscore)
    assert result.n == 48 and result.extractor_id.startswith("pickscore:")
    assert result.ci[0] <= result.value <= result.ci[1]
    per_prompt = result.details["per_prompt"]
    assert sorted(row["prompt"] for row in per_prompt) == sorted(["a red square", "a blue circle", "a green field"])
    assert all(row["n"] == 16 for row in per_prompt)
    print("PER_PROMPT", json.dumps(per_prompt))

def test_threshold(batch, pickscore):
    assert_pickscore_above(batch, 1e6, scorer=pickscore)
"""
    )
    project.runpytest("-k", "test_score").assert_outcomes(failed=1)  # no baseline yet
    updated = project.runpytest("--update-refs")
    updated.assert_outcomes(passed=1, failed=1)
    updated.stdout.fnmatch_lines(["*PickScore * is below the threshold 1e+06*", "*per prompt lowest: *"])
    same = project.runpytest("-k", "test_score", "-s")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(['*PER_PROMPT *"delta": 0.0*'])  # paired with the baseline, row for row

    monkeypatch.setenv("LOSE_PROMPT", "a blue circle")
    worse = project.runpytest("-k", "test_score")
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*PickScore drifted from its baseline: worse by 1.667, beyond the margin *paired-bootstrap*",
            "*per prompt lost the most vs the baseline: 'a blue circle' -5 (16 images), 'a * +0 (16 images)*",
        ]
    )
    import json

    newest = sorted((project.path / ".genquality" / "runs").glob("*.json"))[-1]
    [recorded] = json.loads(newest.read_text())["results"]
    assert recorded["verdict"] == "fail" and recorded["details"]["per_prompt"][0]["prompt"] == "a blue circle"
    assert recorded["details"]["per_prompt"][0]["delta"] == pytest.approx(-5.0, abs=1e-5)


def test_vendi_falls_with_a_collapse(project, monkeypatch):
    project.makepyfile(
        test_vendi="""
from pytest_genquality import assert_vendi_above

def test_vendi(diverse_or_collapsed, extractor):
    result = assert_vendi_above(diverse_or_collapsed, 1.0, extractor=extractor)
    print("VENDI", result.value)
"""
    )
    project.runpytest().assert_outcomes(failed=1)
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("COLLAPSE", "1")
    worse = project.runpytest("-s")
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*Vendi score drifted from its baseline: worse by *, beyond the margin *",
            "*features   toy:proj32-seed0, cosine kernel*",
        ]
    )


def test_a_first_run_without_thresholds_records_the_new_scores(project):
    project.makepyfile(
        test_first="""
from pytest_genquality import assert_fd_infinity_below, assert_quality, assert_vendi_above

def test_first(batch, ref, extractor):
    assert assert_vendi_above(batch, None, extractor=extractor).threshold is None
    results = assert_quality(batch, ref, fd_infinity_below=None, vendi_above=None, extractor=extractor)
    assert list(results) == ["fd_infinity", "vendi"]
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)


def test_vendi_threshold_kernel_and_extractor_features(project):
    project.makepyfile(
        test_vendi="""
import pytest
from pytest_genquality import assert_vendi_above

def test_threshold(diverse_or_collapsed, extractor):
    assert_vendi_above(diverse_or_collapsed, 1e6, extractor=extractor, kernel="linear")

def test_bad_kernel(diverse_or_collapsed, extractor):
    with pytest.raises(ValueError, match="kernel: expected one of"):
        assert_vendi_above(diverse_or_collapsed, 1.0, extractor=extractor, kernel="rbf")

def test_bad_threshold(diverse_or_collapsed, extractor):
    with pytest.raises(TypeError, match="threshold: expected a finite number"):
        assert_vendi_above(diverse_or_collapsed, "high", extractor=extractor)
"""
    )
    result = project.runpytest("--update-refs")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Vendi score * is below the threshold 1e+06*"])


def test_fd_infinity_baseline_drift_and_fit(project, monkeypatch):
    project.makepyfile(
        test_fdinf="""
from pytest_genquality import assert_fd_infinity_below

def test_fd_infinity(batch, ref, extractor):
    result = assert_fd_infinity_below(batch, ref, 1e6, extractor=extractor)
    assert len(result.details["subset_sizes"]) >= 2 and result.details["seed"] == 0

def test_threshold(batch, ref, extractor):
    assert_fd_infinity_below(batch, ref, -1.0, extractor=extractor)
"""
    )
    project.runpytest("-k", "test_fd_infinity").assert_outcomes(failed=1)
    updated = project.runpytest("--update-refs")
    updated.assert_outcomes(passed=1, failed=1)
    updated.stdout.fnmatch_lines(["*FD∞ * is above the threshold -1*", "*fit        FID_n = * / n over n = 4..48*"])
    project.runpytest("-k", "test_fd_infinity").assert_outcomes(passed=1)
    monkeypatch.setenv("TOY_SHIFT", "0.5")
    worse = project.runpytest("-k", "test_fd_infinity")
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(["*FD∞ drifted from its baseline: worse by *, beyond the margin *"])


def test_per_prompt_summary_orders_the_losses_first():
    import numpy as np

    from pytest_genquality.checks.scores import per_prompt_summary

    scores = np.array([1.0, 2.0, 3.0, 4.0])
    prompts = ["a", "b", "a", "b"]
    assert [row["prompt"] for row in per_prompt_summary(scores, prompts)] == ["a", "b"]  # lowest first
    paired = per_prompt_summary(scores, prompts, np.array([1.0, 5.0, 3.0, 5.0]))
    assert paired[0] == {"prompt": "b", "n": 2, "value": 3.0, "baseline": 5.0, "delta": -2.0}
    assert paired[1]["delta"] == 0.0
    assert per_prompt_summary(scores, None) == []


def test_assert_quality_runs_the_new_scores_and_gathers_their_failures(project):
    pytest.importorskip("transformers.models.clip", reason="PickScore needs transformers")
    import transformers.models.clip.modeling_clip  # noqa: F401

    project.makepyfile(
        test_quality="""
import pytest
from pytest_genquality import QualityChecksFailed, assert_quality

def test_all(batch, ref, extractor, pickscore):
    with pytest.raises(QualityChecksFailed) as failed:
        assert_quality(batch, ref, fd_infinity_below=1e6, vendi_above=1e6, pickscore_above=-1e6,
                       extractor=extractor, scorers={"pickscore": pickscore})
    results = failed.value.results
    assert list(results) == ["fd_infinity", "vendi", "pickscore"]
    assert [r.verdict for r in results.values()] == ["updated", "fail", "updated"]
    assert "1 of 3 quality checks failed: vendi" in str(failed.value)

def test_ref_is_required(batch, extractor):
    with pytest.raises(TypeError, match="ref: fd_infinity_below compare"):
        assert_quality(batch, fd_infinity_below=1.0, extractor=extractor)
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=2)


@pytest.fixture
def no_plugin_session(monkeypatch):
    from pytest_genquality.checks import run_state as session

    monkeypatch.setattr(session, "_recorder", None)  # as in a notebook: thresholds only, nothing recorded


def test_hps_assertion_scores_each_image_against_its_prompt(no_plugin_session, tmp_path):
    open_clip = pytest.importorskip("open_clip", reason="HPSv2 needs open-clip-torch (the hps extra)")
    import torch

    from pytest_genquality import ImageBatch, assert_hps_above
    from pytest_genquality.checks.workflow import MetricCheckFailed
    from pytest_genquality.features import HPSv2

    tiny = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    torch.manual_seed(0)
    torch.save(open_clip.CLIP(**tiny).eval().state_dict(), tmp_path / "hpsv2-random-seed-0.pt")
    scorer = HPSv2(tmp_path / "hpsv2-random-seed-0.pt", architecture=tiny)
    images = torch.randint(0, 256, (6, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    batch = ImageBatch(images, seeds=list(range(6)), prompts=["a cat", "a dog"] * 3)
    result = assert_hps_above(batch, -1e6, scorer=scorer)
    assert result.value == pytest.approx(float(scorer.score(batch).double().mean()), rel=1e-6)
    assert result.extractor_id == scorer.id and [row["n"] for row in result.details["per_prompt"]] == [3, 3]
    with pytest.raises(MetricCheckFailed, match=r"(?s)HPSv2 .* is below the threshold 1e\+06.*per prompt lowest: 'a "):
        assert_hps_above(batch, 1e6, scorer=scorer)
    with pytest.raises(ValueError, match=r"prompts: expected one prompt per image \(6\), got 2"):
        assert_hps_above(batch, 0.0, ["a cat", "a dog"], scorer=scorer)


def test_aesthetic_assertion_needs_no_prompts(no_plugin_session, tmp_path):
    pytest.importorskip("transformers", reason="the aesthetic predictor needs transformers' CLIP")

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from clip_helpers import build_tiny_clip

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "features"))  # test_aesthetic
    from test_aesthetic import write_random_head

    from pytest_genquality import ImageBatch, assert_aesthetic_above
    from pytest_genquality.features import AestheticPredictor

    head, _ = write_random_head(tmp_path / "laion-aesthetic-random-seed-0.pth")
    scorer = AestheticPredictor(head, clip=build_tiny_clip(tmp_path / "clip"))
    images = torch.randint(0, 256, (5, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    result = assert_aesthetic_above(ImageBatch(images), -1e6, scorer=scorer)
    assert result.value == pytest.approx(float(scorer.score(images).double().mean()), rel=1e-6)
    assert result.details == {} and result.n == 5 and result.ci[0] <= result.value <= result.ci[1]


def test_reports_name_the_prompts_that_lost_the_most():
    from pytest_genquality.report.markdown import markdown_summary

    result = {
        "test": "t.py::test_pick",
        "metric": "pickscore",
        "key": "pickscore",
        "value": 20.0,
        "n": 6,
        "extractor_id": "pickscore:x",
        "lane": "cpu",
        "threshold": None,
        "baseline": 21.0,
        "baseline_commit": None,
        "delta": -1.0,
        "ci": None,
        "noise": None,
        "verdict": "fail",
        "reason": "worse by 1",
        "higher_is_better": True,
        "seeds": "0..5",
        "details": {
            "per_prompt": [
                {"prompt": "a cat", "n": 3, "value": 19.0, "baseline": 21.0, "delta": -2.0},
                {"prompt": "a dog", "n": 3, "value": 21.0, "baseline": 21.0, "delta": 0.0},
            ]
        },
    }
    summary = markdown_summary([result], {})
    assert "worse by 1; prompts that lost the most: 'a cat' -2 (3 images)" in summary
    assert "'a dog'" not in summary  # it lost nothing
