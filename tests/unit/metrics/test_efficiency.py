"""Efficiency: repeated-timing statistics (closed form, coverage, validation) and the peak-memory helper."""

import numpy as np
import pytest
import torch

from pytest_genquality.generation.efficiency import peak_device_memory
from pytest_genquality.metrics import timing_noise


def test_summary_of_known_timings():
    runs = [0.50, 0.52, 0.49, 0.51, 0.53]
    noise = timing_noise(runs)
    sd = np.sqrt(sum((r - 0.51) ** 2 for r in runs) / 4)  # 0.0158...
    assert noise.mean == pytest.approx(0.51) and noise.sd == pytest.approx(sd) and noise.runs == 5
    assert noise.sem == pytest.approx(sd / np.sqrt(5))
    t_975_4 = 2.7764451051977987  # Student t quantile, 4 degrees of freedom
    assert noise.interval == pytest.approx((0.51 - t_975_4 * sd / np.sqrt(5), 0.51 + t_975_4 * sd / np.sqrt(5)))
    assert noise.difference_sd(5) == pytest.approx(sd * np.sqrt(2 / 5))
    assert timing_noise(np.array(runs), confidence=0.5).interval[1] < noise.interval[1]


def test_interval_covers_the_true_mean_at_its_level_with_few_runs():
    """5 runs of machine noise: the t interval covers 95 % (a 1.96-sigma interval would cover ~88 %)."""
    rng = np.random.default_rng(0)
    true_mean, trials = 0.2, 4000
    covered = 0
    for _ in range(trials):
        low, high = timing_noise(true_mean + 0.01 * rng.standard_normal(5)).interval
        covered += low <= true_mean <= high
    assert 0.935 <= covered / trials <= 0.965


@pytest.mark.parametrize(
    "values, kwargs, match",
    [
        ([0.5], {}, "seconds_per_image: got 1 runs; expected at least 2"),
        ([[0.5, 0.6], [0.5, 0.6]], {}, "seconds_per_image: expected a 1-D array"),
        ([0.5, 0.0], {}, "seconds_per_image: contains 0.0; expected finite times > 0"),
        ([0.5, np.nan], {}, "expected finite times > 0"),
        ([0.5, 0.6], {"confidence": 1.0}, "confidence: expected a number strictly between 0 and 1"),
    ],
)
def test_invalid_timings_are_named(values, kwargs, match):
    with pytest.raises(ValueError, match=match):
        timing_noise(np.array(values), **kwargs)


def test_timings_must_be_numbers():
    with pytest.raises(TypeError, match="seconds_per_image: expected real numbers"):
        timing_noise(["0.5", "0.6"])
    assert timing_noise(torch.tensor([0.5, 0.7])).mean == pytest.approx(0.6)


def test_cpu_peak_memory_is_not_measured():
    with peak_device_memory("cpu") as peak:
        torch.ones(1000)
    assert peak.bytes is None and peak.increase is None and peak.device == "cpu"


def test_cuda_peak_memory_reads_the_allocator_after_resetting_it(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1000)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: calls.append("max") or 5000)
    with peak_device_memory("cuda:0") as peak:
        calls.append("work")
    assert calls == ["sync", "reset", "work", "sync", "max"]
    assert peak.bytes == 5000 and peak.increase == 4000 and peak.device == "cuda:0"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_peak_memory_of_a_known_allocation():
    with peak_device_memory("cuda") as peak:
        block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")  # 64 MiB
        del block
    assert 64 * 2**20 <= peak.increase <= peak.bytes
