"""What a user sees when a check fails: short output, the user's line, and every result recorded."""

import json

import pytest

from toy import project_conftest

TESTS = """
import os
from toy import toy_images
from pytest_genquality import assert_fid_below

def test_a(ref, extractor):
    n = int(os.environ.get("TOY_N", "64"))
    shift = float(os.environ.get("TOY_SHIFT", "0.2"))
    assert_fid_below(toy_images(range(n), shift=shift), ref, 100.0, extractor=extractor)
"""


@pytest.fixture
def project(pytester, monkeypatch):
    for name in ("TOY_N", "TOY_SHIFT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(test_quality=TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=1)
    return pytester


def failure_section(output: list[str]) -> list[str]:
    """The lines between pytest's FAILURES banner and the next section."""
    start = next(i for i, line in enumerate(output) if "FAILURES" in line)
    end = next(i for i in range(start + 1, len(output)) if output[i].startswith("=") and "FAILURES" not in output[i])
    return output[start:end]


def test_a_failed_check_shows_the_users_line_and_the_message_only(project, monkeypatch):
    monkeypatch.setenv("TOY_SHIFT", "0.5")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    section = failure_section(result.outlines)
    text = "\n".join(section)
    assert "FID drifted from its baseline" in text
    assert "assert_fid_below(toy_images(range(n), shift=shift)" in text  # the user's line
    for internal in ("workflow.py", "assertions.py", "check_metric", "DriftEvidence"):
        assert internal not in text, f"{internal} shown in the failure:\n{text}"
    assert len(section) <= 25, text


def test_full_trace_still_shows_the_plugin_frames(project, monkeypatch):
    monkeypatch.setenv("TOY_SHIFT", "0.5")
    result = project.runpytest("--full-trace")
    result.assert_outcomes(failed=1)
    assert "workflow.py" in result.stdout.str()


def test_missing_weights_is_a_short_failure(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    pytester.makepyfile(
        test_needs_inception_weights="""
        from pytest_genquality import ImageBatch, assert_fid_below, ReferenceStats
        import numpy as np, torch

        def test_needs_inception():
            ref = ReferenceStats(mu=np.zeros(2048), sigma=np.eye(2048), n=10, extractor_id="x")
            assert_fid_below(ImageBatch(torch.zeros(4, 3, 32, 32, dtype=torch.uint8)), ref, 10.0)
    """
    )
    result = pytester.runpytest("--gen-offline", f"--gen-weights-dir={tmp_path / 'empty'}")
    result.assert_outcomes(failed=1)
    section = failure_section(result.outlines)
    text = "\n".join(section)
    assert "WeightsNotFoundError" in text and "test_needs_inception_weights.py" in text
    assert "urllib" not in text and "pytest_genquality/" not in text and "direct cause" not in text, text
    assert len(section) <= 30, text


def test_a_baseline_at_another_n_is_recorded_as_an_error_with_the_summary(project, monkeypatch):
    monkeypatch.setenv("TOY_N", "48")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*BaselineMismatchError*n=64, this run at n=48*"])
    genquality = result.stdout.str().split("genquality ===")[1]
    assert "test_quality.py::test_a" in genquality and " error" in genquality
    runs = sorted((project.path / ".genquality" / "runs").glob("*.json"))
    assert len(runs) == 2
    recorded = json.loads(runs[-1].read_text())["results"]
    assert [(r["key"], r["verdict"], r["n"]) for r in recorded] == [("fid@real", "error", 48)]
    assert "n=64" in recorded[0]["reason"]
