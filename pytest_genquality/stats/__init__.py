"""Statistics: streaming moments (``moments``), the drift gate's noise and margin tests (``drift``) and
the verdict rules on plain numbers (``rules``: threshold, fixed tolerance).

Pure numpy; nothing here knows about pytest, features or the store.
"""

from .moments import RunningMoments, mean_and_covariance
from .drift import (
    DriftTest,
    bootstrap_mean_interval,
    DRIFT_ALPHA,
    AUTO_MARGIN_SDS,
    DRIFT_RESAMPLES,
    NOISE_RESPLITS,
    NOISE_MAX_ROWS,
    NOISE_BOUND_FRACTION,
    NOISE_BOUND_SAFETY,
    seed_noise_sd,
    per_sample_noise_sd,
    CLEAR_MIN_DRAWS,
    SMOOTH_NULL_MIN_DRAWS,
    CLEAR_TAIL_FRACTION,
    MarginTest,
    margin_test,
    margin_bootstrap_test,
    parse_max_drift,
    normal_margin_p,
    NORMAL_TEST_NOISE_FACTOR,
    normal_margin_test,
)
from .rules import threshold_crossed, threshold_words, tolerance_verdict, worsening
