"""Which device a run uses, the determinism switches, and the "lane" string.

A lane names everything that legitimately changes the numbers of an otherwise identical
run: device type, GPU name, dtype and torch version. Values are compared with a baseline
only within one lane, because fp16 on an H100 and fp32 on a CPU do not give the same FID.
"""

from __future__ import annotations

import os
import re
from typing import Callable

import torch
from ..errors import DeviceUnavailableError  # noqa: F401  (0.2 import path)

DEVICE_CHOICES = "auto|cpu|cuda|cuda:N|mps"
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(
    spec: str | torch.device | None,
    *,
    cuda_available: Callable[[], bool] = torch.cuda.is_available,
    cuda_count: Callable[[], int] = torch.cuda.device_count,
    mps_available: Callable[[], bool] = _mps_available,
    worker_index: int | None = None,
) -> torch.device:
    """Turn ``--gen-device`` into a ``torch.device``; only ``auto`` ever chooses.

    ``worker_index`` (pytest-xdist worker k) spreads plain ``cuda``/``auto`` over the GPUs:
    worker k takes GPU k mod n.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    if not _DEVICE_PATTERN.match(spec):
        raise ValueError(f"--gen-device: expected {DEVICE_CHOICES}, got {spec!r}")
    if spec == "auto":
        if cuda_available():
            spec = "cuda"
        elif mps_available():
            return torch.device("mps")
        else:
            return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not mps_available():
            raise DeviceUnavailableError("--gen-device=mps was requested but MPS is not available on this machine")
        return torch.device("mps")
    if not cuda_available():
        raise DeviceUnavailableError(
            f"--gen-device={spec} was requested but CUDA is not available "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); "
            "use --gen-device=cpu or --gen-device=auto"
        )
    count = cuda_count()
    if spec == "cuda":
        index = (worker_index or 0) % max(count, 1)
        return torch.device("cuda", index)
    index = int(spec.split(":")[1])
    if index >= count:
        raise DeviceUnavailableError(f"--gen-device={spec} was requested but only {count} CUDA device(s) exist")
    return torch.device("cuda", index)


def xdist_worker_index() -> int | None:
    """pytest-xdist sets PYTEST_XDIST_WORKER=gw<k> in each worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def enable_determinism() -> None:
    """Switch on the deterministic paths torch offers (warn-only where none exists)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def lane(device: torch.device | str, dtype: torch.dtype | str = torch.float32) -> str:
    """'cpu/cpu/fp32/torch-2.14.1' or 'cuda/NVIDIA H100 80GB HBM3/fp16/torch-2.14.1'."""
    device = torch.device(device)
    dtype_name = str(dtype).replace("torch.", "")
    short = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}.get(dtype_name, dtype_name)
    torch_version = torch.__version__.split("+")[0]
    return f"{device.type}/{device_name(device)}/{short}/torch-{torch_version}"
