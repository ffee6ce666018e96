"""--gen-device resolution, xdist GPU spreading, determinism switches and the lane string."""

from __future__ import annotations

import os

import pytest
import torch

from pytest_genquality.generation.device import (
    DeviceUnavailableError,
    enable_determinism,
    lane,
    resolve_device,
    xdist_worker_index,
)
from pytest_genquality.generation.engine import make_generate

TORCH = torch.__version__.split("+")[0]


def machine(cuda: int = 0, mps: bool = False) -> dict:
    """Mocked availability callables: ``cuda`` GPUs and optionally MPS."""
    return {"cuda_available": lambda: cuda > 0, "cuda_count": lambda: cuda, "mps_available": lambda: mps}


@pytest.mark.parametrize(
    "spec, hardware, expected",
    [
        ("auto", machine(), "cpu"),
        (None, machine(), "cpu"),
        ("auto", machine(mps=True), "mps"),
        ("auto", machine(cuda=2, mps=True), "cuda:0"),
        ("cpu", machine(cuda=2), "cpu"),
        (" CUDA ", machine(cuda=1), "cuda:0"),
        ("cuda", machine(cuda=4), "cuda:0"),
        ("cuda:3", machine(cuda=4), "cuda:3"),
        ("mps", machine(mps=True), "mps"),
        (torch.device("cuda", 1), machine(cuda=2), "cuda:1"),
    ],
)
def test_resolution_table(spec, hardware, expected):
    assert resolve_device(spec, **hardware) == torch.device(expected)


@pytest.mark.parametrize("worker, gpus, expected", [(0, 2, 0), (1, 2, 1), (2, 2, 0), (5, 4, 1), (3, 1, 0)])
def test_xdist_worker_k_takes_gpu_k_mod_n(worker, gpus, expected):
    assert resolve_device("cuda", worker_index=worker, **machine(cuda=gpus)) == torch.device("cuda", expected)
    assert resolve_device("auto", worker_index=worker, **machine(cuda=gpus)) == torch.device("cuda", expected)


def test_an_explicit_gpu_index_ignores_the_worker():
    assert resolve_device("cuda:1", worker_index=0, **machine(cuda=2)) == torch.device("cuda", 1)


def test_worker_index_has_no_effect_on_cpu():
    assert resolve_device("auto", worker_index=3, **machine()) == torch.device("cpu")


@pytest.mark.parametrize(
    "spec, hardware, error, message",
    [
        (
            "cuda",
            machine(),
            DeviceUnavailableError,
            r"--gen-device=cuda was requested but CUDA is not available.*--gen-device=cpu",
        ),
        ("cuda:0", machine(), DeviceUnavailableError, r"--gen-device=cuda:0 was requested but CUDA is not available"),
        (
            "cuda:2",
            machine(cuda=2),
            DeviceUnavailableError,
            r"--gen-device=cuda:2 was requested but only 2 CUDA device\(s\) exist",
        ),
        ("mps", machine(), DeviceUnavailableError, r"--gen-device=mps was requested but MPS is not available"),
        ("gpu", machine(cuda=1), ValueError, r"--gen-device: expected auto\|cpu\|cuda\|cuda:N\|mps, got 'gpu'"),
        ("cuda:x", machine(cuda=1), ValueError, r"expected auto\|cpu"),
        ("tpu", machine(), ValueError, r"got 'tpu'"),
    ],
)
def test_usage_errors_say_what_was_asked_and_what_exists(spec, hardware, error, message):
    with pytest.raises(error, match=message):
        resolve_device(spec, **hardware)


@pytest.mark.parametrize("value, expected", [("gw0", 0), ("gw7", 7), ("master", None), ("", None), ("gwx", None)])
def test_xdist_worker_index_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", value)
    assert xdist_worker_index() == expected


def test_xdist_worker_index_without_xdist(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert xdist_worker_index() is None


@pytest.mark.parametrize(
    "dtype, short",
    [
        (torch.float32, "fp32"),
        (torch.float16, "fp16"),
        (torch.bfloat16, "bf16"),
        (torch.float64, "fp64"),
        ("torch.float16", "fp16"),
        (torch.int8, "int8"),
    ],
)
def test_lane_format(dtype, short):
    assert lane("cpu", dtype) == f"cpu/cpu/{short}/torch-{TORCH}"


def test_lane_defaults_to_fp32_and_names_the_gpu(monkeypatch):
    assert lane(torch.device("cpu")) == f"cpu/cpu/fp32/torch-{TORCH}"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert lane("cuda:0", torch.float16) == f"cuda/NVIDIA H100 80GB HBM3/fp16/torch-{TORCH}"


def test_enable_determinism_sets_every_switch(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    enable_determinism()
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_enable_determinism_keeps_a_user_cublas_setting(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    enable_determinism()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.gpu
def test_tiny_pipeline_on_cuda_is_deterministic_across_runs():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device: torch.cuda.is_available() is False on this machine")
    from tiny_models import tiny_ddpm_pipeline

    device = resolve_device("cuda")
    generate = make_generate(device)
    pipe = tiny_ddpm_pipeline(seed=0)
    first = generate(pipe, seeds=range(4), num_inference_steps=3)
    second = generate(pipe, seeds=range(4), num_inference_steps=3)
    assert torch.equal(first.images, second.images)
    assert first.meta["lane"].startswith(f"cuda/{torch.cuda.get_device_name(device)}/fp32/")
    cpu = make_generate(torch.device("cpu"))(pipe, seeds=range(4), num_inference_steps=3)
    assert (cpu.images.int() - first.images.int()).abs().float().mean() < 2, "same noise on CPU and GPU"
