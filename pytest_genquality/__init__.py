"""pytest-genquality: quality regression tests for generative image models."""

__version__ = "0.1.0"

from .assertions import assert_fid_below, assert_metric
from .batch import ImageBatch
from .files import StoreFileError
from .metrics.fid import ExtractorMismatchError
from .reference import ReferenceStats
from .verdict import BaselineMismatchError, MetricResult
from .weights import WeightsHashMismatchError, WeightsNotFoundError

__all__ = [
    "BaselineMismatchError",
    "ExtractorMismatchError",
    "ImageBatch",
    "MetricResult",
    "ReferenceStats",
    "StoreFileError",
    "WeightsHashMismatchError",
    "WeightsNotFoundError",
    "__version__",
    "assert_fid_below",
    "assert_metric",
]
