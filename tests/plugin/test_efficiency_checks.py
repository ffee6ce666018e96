"""Efficiency gates end to end: seconds per image (noise from repeated runs) and peak device memory.

The timings are written into ``batch.meta`` as ``generate`` records them, so the flow is
deterministic (no sleep-based timing test); one test runs the real ``generate`` fixture.
"""

import pytest

CONFTEST = """
import os
import pytest
import torch
from pytest_genquality import ImageBatch

GPU_LANE = "cuda/NVIDIA H100 80GB HBM3/fp16/torch-2.14.1"

def timed_batch(seconds_per_image, peak=None, lane=GPU_LANE, cached=False, batch_size=4):
    images = torch.arange(8 * 3 * 4 * 4, dtype=torch.int64).reshape(8, 3, 4, 4).remainder(256).to(torch.uint8)
    meta = {"model_fingerprint": "f" * 64, "kwargs": {"num_inference_steps": 4}, "lane": lane,
            "generator": "callable:sample", "cached": cached, "batch_size": batch_size,
            "seconds_per_image": seconds_per_image, "peak_memory_bytes": peak}
    return ImageBatch(images, seeds=list(range(8)), meta=meta)

@pytest.fixture
def runs():
    '''Three repeated runs; TIMINGS="a,b,c" (seconds per image) and PEAK (bytes) from the environment.'''
    timings = [float(value) for value in os.environ.get("TIMINGS", "0.50,0.52,0.48").split(",")]
    peak = os.environ.get("PEAK", "1000000000")
    return [timed_batch(value, peak=None if peak == "none" else int(float(peak))) for value in timings]
"""


@pytest.fixture
def project(pytester, monkeypatch):
    for name in ("TIMINGS", "PEAK"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST)
    return pytester


def test_seconds_per_image_records_then_fails_when_slower(project, monkeypatch):
    project.makepyfile(
        test_speed="""
from pytest_genquality import assert_seconds_per_image_below

def test_speed(runs):
    result = assert_seconds_per_image_below(runs, 2.0)
    assert result.lane.startswith("cuda/NVIDIA H100") and result.details["runs"] == [
        run.meta["seconds_per_image"] for run in runs]
    assert result.ci[0] < result.value < result.ci[1]
"""
    )
    project.runpytest().assert_outcomes(failed=1)  # no baseline for this lane yet
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TIMINGS", "0.51,0.49,0.53")  # within run-to-run noise
    project.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TIMINGS", "0.70,0.72,0.68")  # 40 % slower, 10 run-to-run SDs
    worse = project.runpytest()
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*seconds per image drifted from its baseline: worse by 0.2, beyond the margin * run-to-run SD 0.0163*normal*",
            "*runs       3 timed: 0.7, 0.72, 0.68 s/image*",
        ]
    )
    monkeypatch.setenv("TIMINGS", "3.0,3.1,2.9")
    project.runpytest().stdout.fnmatch_lines(["*seconds per image 3 is above the threshold 2*"])


def test_timings_are_never_compared_across_lanes(project, monkeypatch):
    project.makepyfile(
        test_speed="""
import os
from conftest import timed_batch
from pytest_genquality import assert_seconds_per_image_below

def test_speed():
    lane = os.environ.get("LANE", "cuda/NVIDIA H100 80GB HBM3/fp16/torch-2.14.1")
    assert_seconds_per_image_below([timed_batch(0.5, lane=lane), timed_batch(0.51, lane=lane),
                                    timed_batch(0.49, lane=lane)], 100.0)
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    monkeypatch.setenv("LANE", "cpu/cpu/fp32/torch-2.14.1")
    moved = project.runpytest()
    moved.assert_outcomes(failed=1)
    moved.stdout.fnmatch_lines(
        [
            "*no baseline for seconds_per_image in test_speed.py::test_speed on lane cpu/cpu/fp32*"
            "baselines exist for other lanes: cuda/NVIDIA H100*they are not compared*"
        ]
    )


def test_peak_memory_on_gpu_lane_records_and_fails_when_larger(project, monkeypatch):
    project.makepyfile(
        test_memory="""
from pytest_genquality import assert_peak_memory_below

def test_memory(runs):
    assert_peak_memory_below(runs, 4 * 2**30)
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    monkeypatch.setenv("PEAK", "1010000000")  # +1 %: inside the 2 % tolerance of a deterministic peak
    project.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("PEAK", "1100000000")
    worse = project.runpytest()
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines(
        [
            "*peak device memory drifted from its baseline: worse by 1e+08, beyond max_drift='2%'*",
            "*peak       1.024 GiB (threshold 4.000 GiB)*",
        ]
    )
    monkeypatch.setenv("PEAK", str(5 * 2**30))
    project.runpytest().stdout.fnmatch_lines(["*peak device memory 5.369e+09 is above the threshold 4.295e+09*"])


def test_peak_memory_on_cpu_is_not_measured_and_skips_the_check_only(project):
    project.makepyfile(
        test_cpu="""
import pytest
from pytest_genquality import PeakMemoryNotMeasuredWarning, assert_peak_memory_below, assert_quality

SAMPLE = lambda seeds, prompts, device: torch.rand(len(seeds), 3, 8, 8, generator=torch.Generator().manual_seed(seeds[0]))

import torch

def test_real_generate_on_cpu(generate):
    runs = [generate(SAMPLE, seeds=range(4), batch_size=2, value_range=(0, 1)) for _ in range(3)]
    assert all(run.meta["seconds_per_image"] > 0 and run.meta["peak_memory_bytes"] is None for run in runs)
    with pytest.warns(PeakMemoryNotMeasuredWarning, match="not measured on lane cpu/cpu/fp32"):
        assert assert_peak_memory_below(runs, 1.0) is None
    with pytest.warns(PeakMemoryNotMeasuredWarning):
        results = assert_quality(runs[0], seconds_per_image_below=1e6, peak_memory_below=1.0, timing_runs=runs)
    assert list(results) == ["seconds_per_image"]
"""
    )
    result = project.runpytest("--update-refs")
    result.assert_outcomes(passed=1)
    assert " peak_memory " not in result.stdout.str()  # nothing recorded for it (the table has no row)


@pytest.mark.parametrize(
    "call, error, match",
    [
        ("assert_seconds_per_image_below([1.0, 2.0], 1.0)", TypeError, "batches: expected an ImageBatch"),
        ("assert_seconds_per_image_below([], 1.0)", TypeError, "batches: expected an ImageBatch"),
        (
            "assert_seconds_per_image_below(timed_batch(0.5, cached=True), 1.0)",
            ValueError,
            "batches\\[0\\]: was served from --gen-cache",
        ),
        ("assert_seconds_per_image_below(ImageBatch(timed_batch(0.5).images), 1.0)", ValueError, "carries no timing"),
        (
            "assert_seconds_per_image_below([timed_batch(0.5), timed_batch(0.5, lane='cpu/cpu/fp32/t')], 1.0)",
            ValueError,
            "same work on one lane",
        ),
        (
            "assert_seconds_per_image_below([timed_batch(0.5), timed_batch(0.5, batch_size=8)], 1.0)",
            ValueError,
            "same work on one lane",
        ),
        ("assert_seconds_per_image_below(timed_batch(0.5), 'fast')", TypeError, "threshold: expected a finite number"),
        (
            "assert_peak_memory_below(timed_batch(0.5, peak=10), float('nan'))",
            TypeError,
            "threshold_bytes: expected a finite number",
        ),
    ],
)
def test_invalid_input_is_named(call, error, match, pytester):
    pytester.makeconftest(CONFTEST)
    from importlib import util

    spec = util.spec_from_file_location("efficiency_conftest", pytester.path / "conftest.py")
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from pytest_genquality import ImageBatch, assert_peak_memory_below, assert_seconds_per_image_below

    namespace = {
        "timed_batch": module.timed_batch,
        "ImageBatch": ImageBatch,
        "assert_seconds_per_image_below": assert_seconds_per_image_below,
        "assert_peak_memory_below": assert_peak_memory_below,
    }
    with pytest.raises(error, match=match):
        eval(call, namespace)


def test_single_run_checks_the_threshold_and_reports_drift_untested(project):
    project.makepyfile(
        test_one="""
from pytest_genquality import assert_seconds_per_image_below

def test_one(runs):
    result = assert_seconds_per_image_below(runs[0], 2.0)
    assert result.ci is None
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    again = project.runpytest("-rA")
    again.assert_outcomes(passed=1)


def test_a_first_run_without_thresholds(project):
    project.makepyfile(
        test_first="""
from pytest_genquality import assert_peak_memory_below, assert_seconds_per_image_below

def test_first(runs):
    assert assert_seconds_per_image_below(runs, None).threshold is None
    assert assert_peak_memory_below(runs, None).threshold is None
"""
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)
