"""The CPU-checkable parts of the fast-path GPU benchmark: its FID helpers and gpu_check.sh's syntax.

The benchmark itself times models and runs where a GPU is lent (benchmarks/gpu_check.sh,
part inception-fast); here only what can be wrong without one.
"""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_inception_fast", BENCHMARKS / "bench_inception_fast.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fid_between_is_zero_on_itself_and_the_squared_shift_under_a_translation(bench):
    rows = np.random.default_rng(0).normal(size=(200, 6))
    assert bench.fid_between(rows, rows) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0])
    assert bench.fid_between(rows, rows + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_deviation_and_images(bench):
    assert bench.deviation(10.5, 10.0) == (0.5, 0.05)
    images = bench.smooth_images(3, 32, seed=1)
    assert images.dtype == torch.uint8 and images.shape == (3, 3, 32, 32)
    assert torch.equal(images, bench.smooth_images(3, 32, seed=1)) and not torch.equal(
        images, bench.smooth_images(3, 32, 2)
    )


def test_gpu_check_script_parses_and_runs_the_fast_part():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    script = BENCHMARKS / "gpu_check.sh"
    subprocess.run([bash, "-n", str(script)], check=True)
    text = script.read_text()
    assert "wanted inception-fast" in text and "benchmarks/bench_inception_fast.py" in text
