"""Pure metric functions: arrays/tensors in, numbers out; no pytest, no file I/O.

Names are imported lazily so that ``import pytest_genquality.metrics`` stays cheap and a
metric whose optional dependency is missing fails only when it is used.
"""

from __future__ import annotations

import importlib
import sys
import types

_EXPORTS = {
    "frechet_distance": "frechet",
    "frechet_distance_to_samples": "frechet",
    "fid": "fid",
    "kid": "kid",
    "inception_score": "inception_score",
    "clip_score": "clip_score",
    "precision_recall": "prdc",
    "density_coverage": "prdc",
    "cmmd": "cmmd",
    "psnr": "pixel",
    "ssim": "pixel",
    "lpips": "lpips",
}

__all__ = sorted(_EXPORTS)


# Function and module share names (metrics.fid is both): import the existing families eagerly
# so the package attribute is always the function, whatever was imported first.
from .fid import fid  # noqa: E402
from .frechet import frechet_distance, frechet_distance_to_samples  # noqa: E402


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _MetricsPackage(types.ModuleType):
    """Keeps ``metrics.kid`` the function although ``metrics/kid.py`` shares its name.

    Importing a submodule makes Python set it as an attribute of the package, which would
    shadow the function of the same name (``from pytest_genquality.metrics import kid`` would
    then return the module). Exported names are never bound to submodules; they resolve
    through ``__getattr__``. Import a submodule itself with ``from ...metrics.kid import kid``.
    """

    def __setattr__(self, name, value):
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _MetricsPackage
