"""Pure metric functions: arrays/tensors in, numbers out; no pytest, no file I/O, no weights.

Modules are named for what they hold, never like a function they define (``kernel_distance``
holds ``kid``), so ``pytest_genquality.metrics.kid`` is always the function. The 0.2 module
paths (``pytest_genquality.metrics.kid`` as a module, ...) are aliases of the new modules in
``sys.modules``: a file of that name would replace the function on the package when imported.

``fid`` and ``lpips`` on images need a network, so they live in
``pytest_genquality.features.image_metrics``; reading them here still works (forwarded by name,
with a DeprecationWarning, so this package imports nothing above it).
"""

import importlib
import sys
import types
import warnings

from .alignment import clip_score
from .classifier_scores import inception_score
from .collapse import log_nn_distance, near_duplicates
from .efficiency import TimingNoise, timing_noise
from .fd_infinity import FDInfinityFit, fd_infinity
from .frechet import frechet_distance, frechet_distance_to_samples
from .kernel_distance import kid
from .mmd import cmmd
from .perceptual import lpips_distance
from .pixel import psnr, ssim
from .prdc import density_coverage, precision_recall
from .vendi import vendi_score

__all__ = [
    "FDInfinityFit",
    "TimingNoise",
    "clip_score",
    "cmmd",
    "density_coverage",
    "fd_infinity",
    "fid",
    "frechet_distance",
    "frechet_distance_to_samples",
    "inception_score",
    "kid",
    "log_nn_distance",
    "lpips",
    "lpips_distance",
    "near_duplicates",
    "precision_recall",
    "psnr",
    "ssim",
    "timing_noise",
    "vendi_score",
]

_RENAMED_MODULES = {
    "kid": "kernel_distance",
    "cmmd": "mmd",
    "clip_score": "alignment",
    "inception_score": "classifier_scores",
    "_validate": "validation",
}
for _old, _new in _RENAMED_MODULES.items():
    sys.modules[f"{__name__}.{_old}"] = sys.modules[f"{__name__}.{_new}"]

_IMAGE_METRICS = "pytest_genquality.features.image_metrics"


def _forward(old: str):
    def __getattr__(name: str):
        if name.startswith("_"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        if name == "ExtractorMismatchError":
            return importlib.import_module("pytest_genquality.errors").ExtractorMismatchError
        warnings.warn(
            f"{old} moved to {_IMAGE_METRICS} in pytest-genquality 0.3; import {name} from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_IMAGE_METRICS), name)

    module = types.ModuleType(old, f"Moved in 0.3 to {_IMAGE_METRICS}.")
    module.__getattr__ = __getattr__
    return module


for _old in ("fid", "lpips"):  # modules of 0.2 whose content moved up to features
    sys.modules[f"{__name__}.{_old}"] = _forward(f"{__name__}.{_old}")


def __getattr__(name: str):
    if name in ("fid", "lpips"):
        warnings.warn(
            f"pytest_genquality.metrics.{name} moved to {_IMAGE_METRICS}.{name} in pytest-genquality 0.3 "
            "(it needs a network; metrics are arrays in, numbers out)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_IMAGE_METRICS), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
