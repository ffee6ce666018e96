"""Every exception the package raises on purpose, in one hierarchy.

``except GenQualityError`` catches any of them. Each also keeps the builtin base it had in 0.2
(``FileNotFoundError``, ``ValueError``, ``AssertionError``, ...), so ``except`` clauses written
against those keep working. The classes stay importable from the modules that raise them.
This module imports nothing from the package: every layer may raise these.
"""

from __future__ import annotations

from typing import Any


class GenQualityError(Exception):
    """Base of every error pytest-genquality raises on purpose."""


# ---- checks: what a failing test shows -----------------------------------------------------
class MetricCheckFailed(GenQualityError, AssertionError):
    """A quality check failed; ``result`` is the MetricResult it recorded.

    An AssertionError, so pytest reports a failure; ``assert_quality`` catches it to gather
    every metric's failure into one message instead of stopping at the first.
    """

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class BaselineMismatchError(MetricCheckFailed):
    """The stored baseline measured a different quantity (other N or extractor): not comparable.

    The value is still recorded, with verdict ``error``, so the session's table and run file
    show it.
    """


class QualityChecksFailed(GenQualityError, AssertionError):
    """One or more checks of ``assert_quality`` failed; ``results`` holds every measured metric."""

    def __init__(self, message: str, results: dict):
        super().__init__(message)
        self.results = results


class ExtractorMismatchError(GenQualityError, ValueError):
    """Two sides were made by different feature extractors (weights or resize mode)."""


# ---- weights and models ------------------------------------------------------------------
class WeightsNotFoundError(GenQualityError, FileNotFoundError):
    """The weights file is nowhere in the search path and may not be downloaded."""


class CLIPModelNotFoundError(WeightsNotFoundError):
    """The CLIP model is neither a local directory nor in the Hugging Face cache."""


class DINOv2ModelNotFoundError(WeightsNotFoundError):
    """The DINOv2 model is neither a local directory nor in the Hugging Face cache."""


class LPIPSWeightsNotFoundError(WeightsNotFoundError):
    """The linear-layer weights of LPIPS are neither given nor in an installed lpips package."""


class WeightsHashMismatchError(GenQualityError, ValueError):
    """A file named as an official checkpoint does not have that checkpoint's sha256."""


# ---- files: store, references, caches, image folders -------------------------------------
class StoreFileError(GenQualityError, RuntimeError):
    """A store file is corrupt, truncated or of an unknown schema. The file is left untouched."""


class ReferenceExistsError(GenQualityError, FileExistsError):
    """A reference of that name is already stored; overwriting it needs ``overwrite=True`` (``--force``)."""


class RunNotFoundError(GenQualityError, LookupError):
    """No stored run matches the revision asked for (``genquality diff`` / ``history``)."""


class ImageReadError(GenQualityError, ValueError):
    """An image file that cannot be read or decoded; the message names it."""


class CorruptCacheEntryError(GenQualityError, ValueError):
    """A cache file exists but is not a complete, valid entry."""


class UnhashableModelError(GenQualityError, ValueError):
    """The model holds tensors whose bytes cannot be read (meta / offloaded tensors)."""


# ---- the machine --------------------------------------------------------------------------
class DeviceUnavailableError(GenQualityError, RuntimeError):
    """The requested --gen-device does not exist on this machine."""


class DistributedError(GenQualityError, RuntimeError):
    """A rank of a torchrun job failed; raised on every rank with the first failing rank's message."""


class MissingDependencyError(GenQualityError, ImportError):
    """An optional dependency (an extra such as ``[plot]``) is needed for what was asked."""


# ---- warnings -------------------------------------------------------------------------------
class GenQualityWarning(UserWarning):
    """Base of the warnings pytest-genquality issues."""


class RandomWeightsWarning(GenQualityWarning):
    """Seeded random stand-in weights are in use: numbers exercise the code but match no published value."""


class CaptionTruncatedWarning(GenQualityWarning):
    """A caption is longer than CLIP's text context; its end was not embedded."""


class PeakMemoryNotMeasuredWarning(GenQualityWarning):
    """The batch's device has no per-batch peak memory (CPU, MPS): the peak-memory check was skipped."""


__all__ = [
    name
    for name, value in dict(globals()).items()
    if isinstance(value, type) and issubclass(value, (GenQualityError, GenQualityWarning))
]
