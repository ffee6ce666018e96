"""pytest-genquality: quality regression tests for generative image models."""

from .version import __version__

from .checks.assertions import (
    assert_clip_score_above,
    assert_cmmd_below,
    assert_coverage_above,
    assert_fid_below,
    assert_inception_score_above,
    assert_kid_below,
    assert_metric,
    assert_no_collapse,
    assert_no_regression,
    assert_precision_above,
    assert_recall_above,
)
from .checks.efficiency import assert_peak_memory_below, assert_seconds_per_image_below
from .checks.scores import (
    assert_aesthetic_above,
    assert_fd_infinity_below,
    assert_hps_above,
    assert_pickscore_above,
    assert_vendi_above,
)
from .batch import ImageBatch
from .checks.quality import assert_quality
from .checks.workflow import MetricResult
from .errors import (
    BaselineMismatchError,
    CaptionTruncatedWarning,
    CLIPModelNotFoundError,
    CorruptCacheEntryError,
    DeviceUnavailableError,
    DINOv2ModelNotFoundError,
    DistributedError,
    ExtractorMismatchError,
    GenQualityError,
    GenQualityWarning,
    ImageReadError,
    LPIPSWeightsNotFoundError,
    MetricCheckFailed,
    MissingDependencyError,
    PeakMemoryNotMeasuredWarning,
    QualityChecksFailed,
    RandomWeightsWarning,
    ReferenceExistsError,
    RunNotFoundError,
    StoreFileError,
    UnhashableModelError,
    WeightsHashMismatchError,
    WeightsNotFoundError,
)
from .reference.reference_stats import ReferenceStats

__all__ = [
    "BaselineMismatchError",
    "CLIPModelNotFoundError",
    "CaptionTruncatedWarning",
    "CorruptCacheEntryError",
    "DINOv2ModelNotFoundError",
    "DeviceUnavailableError",
    "DistributedError",
    "ExtractorMismatchError",
    "GenQualityError",
    "GenQualityWarning",
    "ImageBatch",
    "ImageReadError",
    "LPIPSWeightsNotFoundError",
    "MetricCheckFailed",
    "MetricResult",
    "MissingDependencyError",
    "PeakMemoryNotMeasuredWarning",
    "QualityChecksFailed",
    "RandomWeightsWarning",
    "ReferenceExistsError",
    "ReferenceStats",
    "RunNotFoundError",
    "StoreFileError",
    "UnhashableModelError",
    "WeightsHashMismatchError",
    "WeightsNotFoundError",
    "__version__",
    "assert_aesthetic_above",
    "assert_clip_score_above",
    "assert_cmmd_below",
    "assert_coverage_above",
    "assert_fd_infinity_below",
    "assert_fid_below",
    "assert_hps_above",
    "assert_inception_score_above",
    "assert_kid_below",
    "assert_metric",
    "assert_no_collapse",
    "assert_no_regression",
    "assert_peak_memory_below",
    "assert_pickscore_above",
    "assert_precision_above",
    "assert_quality",
    "assert_recall_above",
    "assert_seconds_per_image_below",
    "assert_vendi_above",
    "build_random_inception_weights",
]


def __getattr__(name: str):
    """``build_random_inception_weights`` on first use: it needs the Inception module, which costs an import.

    Kept here for 0.2 code; its home is ``pytest_genquality.testing`` with the other test helpers.
    """
    if name == "build_random_inception_weights":
        from .features.inception import build_random_inception_weights

        return build_random_inception_weights
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
