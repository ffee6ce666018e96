"""Absolute thresholds from measured seed-to-seed spread: the arithmetic of ``genquality thresholds``.

    recorded value(s) + their seed-to-seed spread  ->  one-sided (1 - false_fail) prediction bound

A threshold should be passed by the unchanged model on *any* block of N seeds, not only on the
block it was measured on: a retrained equivalent model, another sampler implementation or new
seeds draw a fresh block. So the bound is a prediction bound for a new block's value, which is
what makes a lucky measurement block (the digits suite's seeds 0..199 were the 3rd lowest FID of
40 blocks) not turn into a threshold the model fails half the time.

Two sources of spread, the better first:

- ``from_blocks``: k >= ``MIN_BLOCKS`` disjoint seed blocks of the same N measured on the same
  model: mean +- t_{1-a, k-1} * s * sqrt(1 + 1/k) (s: the SD over the blocks; the t quantile and
  the 1/k term carry the uncertainty of a mean and SD estimated from k blocks).
- ``from_seed_noise``: one block (the baseline) and the SD of the difference of two independent
  blocks (``stats.seed_noise_sd``, stored with the baseline): value +- z_{1-a} * that SD, as the
  new block and the baseline block each carry their own noise. For a distribution metric the
  stored SD comes from half-splits of the baseline's N rows rescaled by sqrt(1/2) to N; that
  rescaling assumes the noise falls like N^-1/2, and on the real digits DDPM it under-states the
  block-to-block spread (stored SD / measured SD of differences: FID 0.87, coverage 0.74, recall
  0.53 at N = 200). The suggestion therefore uses the half-split SD before the rescaling (the
  noise at N/2: ``HALF_SPLIT_FACTOR``), as the drift gate's normal test does; on the digits suite
  it gives FID <= 30.1, recall >= 0.912, coverage >= 0.498 against the 0.5 % quantiles 29.25,
  0.903, 0.514 over 80 blocks (benchmarks/bench_drift_real.py): the recall bound would still fail
  about 6 % of blocks, as the baseline block is a lucky one and recall's spread is under-stated
  even at N/2. One block cannot do better; ``from_blocks`` can. Per-sample means need no factor:
  their SD sd * sqrt(2/N) is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

DEFAULT_FALSE_FAIL = 0.005  # per check; a session of m checks fails by chance with probability <= m x this
MIN_BLOCKS = 10  # fewer disjoint blocks give an SD within +-25 % at best: the seed-noise SD is used then
HALF_SPLIT_FACTOR = math.sqrt(2.0)  # distribution metrics: the half-split SD at N/2 = stored seed_noise_sd x sqrt 2


@dataclass(frozen=True)
class Suggestion:
    """A suggested threshold and what it rests on (``basis``: words for people)."""

    threshold: float
    centre: float  # the value the bound is measured from (the block mean, or the baseline's value)
    spread: float  # SD of (new block - centre), metric units
    blocks: int  # disjoint seed blocks behind ``centre``
    basis: str
    higher_is_better: bool

    @property
    def relation(self) -> str:
        return ">=" if self.higher_is_better else "<="


def _bound(centre: float, spread: float, quantile: float, higher_is_better: bool) -> float:
    return centre - quantile * spread if higher_is_better else centre + quantile * spread


def from_blocks(values, *, higher_is_better: bool, false_fail: float = DEFAULT_FALSE_FAIL) -> Suggestion:
    """The (1 - false_fail) prediction bound of a new block from ``values``, one per disjoint seed block."""
    from scipy import stats as scipy_stats

    _check_rate(false_fail)
    values = np.asarray(values, dtype=np.float64)
    blocks = values.size
    if blocks < 2:
        raise ValueError(f"values: need at least 2 seed blocks, got {blocks}")
    sd = float(values.std(ddof=1))
    spread = sd * math.sqrt(1.0 + 1.0 / blocks)
    quantile = float(scipy_stats.t.ppf(1.0 - false_fail, blocks - 1))
    centre = float(values.mean())
    return Suggestion(
        _bound(centre, spread, quantile, higher_is_better),
        centre,
        spread,
        blocks,
        f"{blocks} disjoint seed blocks: mean {centre:.4g}, SD {sd:.3g}",
        higher_is_better,
    )


def from_seed_noise(
    value: float, noise_sd: float, *, higher_is_better: bool, distribution: bool, false_fail: float = DEFAULT_FALSE_FAIL
) -> Suggestion:
    """The bound from one block (the baseline's ``value``) and its stored seed-noise SD (of a difference)."""
    _check_rate(false_fail)
    if not (math.isfinite(noise_sd) and noise_sd >= 0):
        raise ValueError(f"noise_sd: expected a finite number >= 0, got {noise_sd!r}")
    spread = noise_sd * (HALF_SPLIT_FACTOR if distribution else 1.0)
    how = (
        f"the stored seed-noise SD {noise_sd:.3g} taken at N/2 (x{HALF_SPLIT_FACTOR:.3g} = {spread:.3g}; "
        "half-splits of the baseline's rows)"
        if distribution
        else f"the stored seed-noise SD {noise_sd:.3g} of a mean of per-sample values"
    )
    quantile = NormalDist().inv_cdf(1.0 - false_fail)
    return Suggestion(
        _bound(value, spread, quantile, higher_is_better),
        float(value),
        spread,
        1,
        f"1 seed block (the baseline's) and {how}",
        higher_is_better,
    )


def rounded_outwards(threshold: float, higher_is_better: bool, digits: int = 3) -> float:
    """``threshold`` to ``digits`` significant digits, rounded to the lenient side (never tighter)."""
    if threshold == 0 or not math.isfinite(threshold):
        return threshold
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(abs(threshold))))
    step = math.floor if higher_is_better else math.ceil
    return step(round(threshold * scale, 9)) / scale


def _check_rate(false_fail: float) -> None:
    if not (0.0 < false_fail < 0.5):
        raise ValueError(f"false_fail: expected a probability in (0, 0.5), got {false_fail!r}")
